"""Environment expansion: Go's os.ExpandEnv rules, applied only to storage.config and
connectors[].config string values; and the CLI check-config on good and bad files."""

from __future__ import annotations

from typing import Any

import pytest
from click.testing import CliRunner

from dex_py.config.envexpand import expand_env

from .conftest import REPO_ROOT

ENV = {"A": "a", "A_B1": "ab", "$": "dollar", "1": "one", "-": "dash"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("$A", "a"),
        ("${A}", "a"),
        ("x$A-y", "xa-y"),
        ("${A}B", "aB"),
        ("$A_B1/x", "ab/x"),
        ("$AB", ""),  # unset: empty, like os.ExpandEnv
        ("$", "$"),
        ("a$", "a$"),
        ("$ x", "$ x"),
        ("$/", "$/"),
        ("$\u00e9", "$\u00e9"),
        ("$$", "dollar"),
        ("$1", "one"),
        ("${-}", "dash"),
        ("${}", ""),
        ("${A", "A"),
        ("no dollars", "no dollars"),
    ],
)
def test_go_expand_rules(text: str, expected: str) -> None:
    assert expand_env(text, lambda name: ENV.get(name, "")) == expected


def test_expansion_only_in_storage_and_connector_config(
    valid: dict[str, Any], load_data: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DB_DIR", "/var/lib/dex")
    monkeypatch.setenv("CA", "/etc/ca.pem")
    monkeypatch.setenv("SECRET", "upstream-secret")
    monkeypatch.setenv("PATHVAR", "expanded")
    valid["issuer"] = "http://127.0.0.1:5556/$PATHVAR"
    valid["storage"]["config"] = {
        "file": "$DB_DIR/dex.db",
        "ssl": {"caFile": "${CA}", "port": 5432},
        "hosts": ["${DB_DIR}", 3, True],
    }
    valid["connectors"][0]["type"] = "ldap"
    valid["connectors"][0]["config"] = {"clientSecret": "$SECRET", "nested": [{"x": "${SECRET}"}]}
    valid["staticClients"][0]["secret"] = "$SECRET"
    valid["frontend"] = {"issuer": "$PATHVAR"}
    config = load_data(valid)
    assert config.storage.config == {
        "file": "/var/lib/dex/dex.db",
        "ssl": {"caFile": "/etc/ca.pem", "port": 5432},
        "hosts": ["/var/lib/dex", 3, True],
    }
    assert config.connectors[0].config == {
        "clientSecret": "upstream-secret",
        "nested": [{"x": "upstream-secret"}],
    }
    assert config.issuer == "http://127.0.0.1:5556/$PATHVAR"
    assert config.static_clients[0].secret == "$SECRET"
    assert config.frontend.issuer == "$PATHVAR"


def test_values_are_expanded_after_parsing_not_in_yaml_text(
    valid: dict[str, Any], load_data: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    tricky = "x\nissuer: http://evil.example.com\n  - [: #"
    monkeypatch.setenv("TRICKY", tricky)
    valid["storage"]["config"]["file"] = "$TRICKY"
    config = load_data(valid)
    assert config.storage.config["file"] == tricky
    assert config.issuer == "http://127.0.0.1:5556/dex"


def test_unset_variable_expands_to_empty_with_a_warning(
    valid: dict[str, Any], load_data: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DEXPY_TEST_UNSET_VAR", raising=False)
    valid["connectors"][0]["type"] = "ldap"
    valid["connectors"][0]["config"] = {"bindPW": "pw-${DEXPY_TEST_UNSET_VAR}"}
    config = load_data(valid)
    assert config.connectors[0].config == {"bindPW": "pw-"}
    assert config.warnings == [
        "connectors[0].config.bindPW: environment variable DEXPY_TEST_UNSET_VAR is not set; "
        "expanded to ''"
    ]


def test_dex_expand_env_false_turns_expansion_off(
    valid: dict[str, Any], load_data: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DB_DIR", "/var/lib/dex")
    monkeypatch.setenv("DEX_EXPAND_ENV", "false")
    valid["storage"]["config"]["file"] = "$DB_DIR/dex.db"
    assert load_data(valid).storage.config["file"] == "$DB_DIR/dex.db"


def test_cli_check_config_on_the_example() -> None:
    from dex_py.cli import main

    result = CliRunner().invoke(main, ["check-config", str(REPO_ROOT / "config.example.yaml")])
    assert result.exit_code == 0, result.output
    assert "OK" in result.output
    assert "warning" not in result.output


def test_cli_check_config_prints_warnings_and_yaml_errors(
    valid: dict[str, Any], write_yaml: Any
) -> None:
    from dex_py.cli import main

    valid["colour"] = "blue"
    result = CliRunner().invoke(main, ["check-config", str(write_yaml(valid))])
    assert result.exit_code == 1  # a key dex-py would ignore
    assert "warning: colour: unknown key (ignored)" in result.output
    bad = write_yaml("issuer: [\n")
    result = CliRunner().invoke(main, ["check-config", str(bad)])
    assert result.exit_code == 1
    assert f"{bad}: invalid YAML at line 2, column 1" in result.output
