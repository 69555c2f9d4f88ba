"""check-config's strictness (fails on anything dex-py would ignore; ``--strict`` on every
warning), typo suggestions for unknown keys, and Dex's feature flags read from ``DEX_*``
(dex_py.config.feature_flags)."""

from __future__ import annotations

from typing import Any

import pytest
from click.testing import CliRunner

from dex_py.cli import main
from dex_py.config import ConfigError, feature_flags
from dex_py.config.loader import from_dict


def test_a_clean_config_passes_check_config(valid: dict[str, Any], write_yaml: Any) -> None:
    result = CliRunner().invoke(main, ["check-config", "--strict", str(write_yaml(valid))])
    assert result.exit_code == 0, result.output
    assert "config OK" in result.output


def test_a_typo_names_the_closest_key(valid: dict[str, Any]) -> None:
    valid["staticClients"][0]["redirectURLs"] = ["http://127.0.0.1:5555/callback"]
    warnings = from_dict(valid).warnings
    assert warnings == [
        "staticClients[0].redirectURLs: unknown key (ignored); did you mean 'redirectURIs'?"
    ]


def test_a_case_slip_names_the_key(valid: dict[str, Any]) -> None:
    valid["oauth2"] = {"skipapprovalscreen": True}
    assert from_dict(valid).warnings == [
        "oauth2.skipapprovalscreen: unknown key (ignored); did you mean 'skipApprovalScreen'?"
    ]


def test_a_key_far_from_any_known_one_gets_no_guess(valid: dict[str, Any]) -> None:
    valid["web"]["colour"] = "blue"
    assert from_dict(valid).warnings == ["web.colour: unknown key (ignored)"]


def test_values_without_effect_fail_check_config(valid: dict[str, Any], write_yaml: Any) -> None:
    valid["staticPasswords"][0]["hashFromEnv"] = "SOME_HASH"
    result = CliRunner().invoke(main, ["check-config", str(write_yaml(valid))])
    assert result.exit_code == 1, result.output
    assert "hashFromEnv: ignored because hash is set" in result.output


def test_other_warnings_fail_only_with_strict(valid: dict[str, Any], write_yaml: Any) -> None:
    valid["enablePasswordDB"] = False  # the static passwords can no longer log in: a warning
    path = str(write_yaml(valid))
    relaxed = CliRunner().invoke(main, ["check-config", path])
    assert relaxed.exit_code == 0, relaxed.output
    assert "nobody can log in with them" in relaxed.output
    strict = CliRunner().invoke(main, ["check-config", "--strict", path])
    assert strict.exit_code == 1
    assert "1 warning(s)" in strict.output


@pytest.mark.parametrize(
    ("value", "expected"),
    [("true", True), ("1", True), ("T", True), ("False", False), ("0", False), ("yes", None)],
)
def test_flags_read_like_go_parse_bool(
    value: str, expected: bool | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DEX_CONFIG_DISALLOW_UNKNOWN_FIELDS", value)
    want = False if expected is None else expected  # not a bool: the flag's default
    assert feature_flags.disallow_unknown_fields() is want


def test_dex_config_disallow_unknown_fields_makes_unknown_keys_errors(
    valid: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    valid["web"]["colour"] = "blue"
    valid["storage"] = {"type": "sqlite3", "config": {"file": ":memory:", "colour": "red"}}
    valid["frontend"] = {"extra": {"a": "b"}}  # a key Dex knows: a warning, never an error
    assert "web.colour: unknown key (ignored)" in from_dict(valid).warnings
    monkeypatch.setenv("DEX_CONFIG_DISALLOW_UNKNOWN_FIELDS", "true")
    with pytest.raises(ConfigError) as raised:
        from_dict(valid)
    paths = [path for path, _ in raised.value.errors]
    assert "web.colour" in paths
    assert "storage.config.colour" in paths
    assert not any(path.startswith("frontend") for path in paths)


def test_client_credentials_enabled_by_default_with_dex_s_flag(
    valid: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    valid.pop("oauth2", None)
    assert "client_credentials" not in from_dict(valid).oauth2.grant_types
    monkeypatch.setenv("DEX_CLIENT_CREDENTIAL_GRANT_ENABLED_BY_DEFAULT", "true")
    assert "client_credentials" in from_dict(valid).oauth2.grant_types
    valid["oauth2"] = {"grantTypes": ["authorization_code"]}  # an explicit list wins
    assert from_dict(valid).oauth2.grant_types == ["authorization_code"]


def test_dex_expand_env_false_keeps_dollars(
    valid: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DEXPY_TEST_FILE", "/tmp/expanded.db")
    valid["storage"] = {"type": "sqlite3", "config": {"file": "$DEXPY_TEST_FILE"}}
    assert from_dict(valid).storage.config["file"] == "/tmp/expanded.db"
    monkeypatch.setenv("DEX_EXPAND_ENV", "f")
    assert from_dict(valid).storage.config["file"] == "$DEXPY_TEST_FILE"
