"""The ``kubernetes.tokenReview`` config section: every problem is a config error naming its
key, ``callerTokens`` are expanded from the environment, the section off means no webhook."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from dex_py.config import ConfigError
from dex_py.config.kubernetes import (
    TokenReviewSettings,
    parse_token_review,
    webhook_url,
)
from dex_py.config.loader import from_dict, load_string

ISSUER = "https://dex.example.com/dex"
TOKEN = "a-caller-token-of-32-characters!"


def config(section: Any = None, **review: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "issuer": ISSUER,
        "storage": {"type": "memory"},
        "web": {"http": "127.0.0.1:5556"},
        "staticClients": [
            {"id": "kubernetes", "secret": "s3cret", "redirectURIs": ["http://127.0.0.1/cb"]},
            {"id": "other", "secret": "s3cret", "redirectURIs": ["http://127.0.0.1/cb"]},
        ],
    }
    if section is not None:
        data["kubernetes"] = section
    elif review:
        data["kubernetes"] = {"tokenReview": review}
    return data


def settings(**review: Any) -> TokenReviewSettings | None:
    return parse_token_review(from_dict(config(**review)))


def errors(data: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(ConfigError) as info:
        from_dict(data)
    return dict(info.value.errors)


def test_a_full_section() -> None:
    parsed = settings(
        audiences=["kubernetes"],
        callerTokens=[TOKEN],
        usernameClaim="preferred_username",
        usernamePrefix="oidc:",
        groupsPrefix="oidc:",
        apiServerAudiences={"https://kubernetes.default.svc": ["kubernetes"]},
    )
    assert parsed == TokenReviewSettings(
        audiences=("kubernetes",),
        caller_tokens=(TOKEN,),
        username_claim="preferred_username",
        username_prefix="oidc:",
        groups_prefix="oidc:",
        api_server_audiences={"https://kubernetes.default.svc": ("kubernetes",)},
    )
    assert parsed.username_prefix_for(ISSUER) == "oidc:"
    assert parsed.clients_for("https://kubernetes.default.svc") == ("kubernetes",)


def test_defaults_follow_the_api_server() -> None:
    parsed = settings(audiences=["kubernetes", "other"], callerTokens=[TOKEN])
    assert parsed is not None
    assert parsed.username_claim == "email"
    assert parsed.username_prefix_for(ISSUER) == ""  # email: no prefix
    assert parsed.groups_prefix == ""
    # an API server audience not in the mapping: every accepted client counts
    assert parsed.clients_for("https://kubernetes.default.svc") == ("kubernetes", "other")
    sub = settings(audiences=["kubernetes"], callerTokens=[TOKEN], usernameClaim="sub")
    assert sub is not None and sub.username_prefix_for(ISSUER) == ISSUER + "#"
    none = settings(
        audiences=["kubernetes"], callerTokens=[TOKEN], usernameClaim="sub", usernamePrefix="-"
    )
    assert none is not None and none.username_prefix_for(ISSUER) == ""


def test_the_webhook_is_off_without_caller_tokens() -> None:
    assert parse_token_review(from_dict(config())) is None
    assert settings(audiences=["kubernetes"]) is None
    assert settings(audiences=["kubernetes"], callerTokens=[]) is None


def test_the_webhook_url_is_under_the_issuer() -> None:
    assert webhook_url(ISSUER) == ISSUER + "/kubernetes/tokenreview"
    assert webhook_url(ISSUER + "/") == ISSUER + "/kubernetes/tokenreview"


def test_caller_tokens_are_expanded_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBE_CALLER", TOKEN)
    monkeypatch.setenv("KUBE_CALLER_2", "second-" + TOKEN)
    parsed = settings(audiences=["kubernetes"], callerTokens=["$KUBE_CALLER", "${KUBE_CALLER_2}"])
    assert parsed is not None
    assert parsed.caller_tokens == (TOKEN, "second-" + TOKEN)
    yaml_text = f"""
issuer: {ISSUER}
storage: {{type: memory}}
web: {{http: 127.0.0.1:5556}}
staticClients:
- {{id: kubernetes, secret: s3cret, redirectURIs: ["http://127.0.0.1/cb"]}}
kubernetes:
  tokenReview:
    audiences: [kubernetes]
    callerTokens: ["prefix-$KUBE_CALLER"]
"""
    loaded = parse_token_review(load_string(yaml_text))
    assert loaded is not None and loaded.caller_tokens == ("prefix-" + TOKEN,)


def test_expansion_can_be_turned_off_like_dex(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEX_EXPAND_ENV", "false")
    parsed = settings(audiences=["kubernetes"], callerTokens=["$NOT_EXPANDED_AT_ALL_X"])
    assert parsed is not None and parsed.caller_tokens == ("$NOT_EXPANDED_AT_ALL_X",)


KEY = "kubernetes.tokenReview"


@pytest.mark.parametrize(
    ("review", "path", "message"),
    [
        ({"audiences": ["nope"]}, f"{KEY}.audiences[0]", "'nope' is not a static client"),
        ({"audiences": "kubernetes"}, f"{KEY}.audiences", "must be a list"),
        ({"audiences": [""]}, f"{KEY}.audiences[0]", "non-empty string"),
        ({"audiences": []}, f"{KEY}.audiences", "required"),
        ({}, f"{KEY}.audiences", "required"),
        (
            {"audiences": ["kubernetes"], "callerTokens": ["$DEXPY_TEST_UNSET_VARIABLE"]},
            f"{KEY}.callerTokens[0]",
            "environment variable DEXPY_TEST_UNSET_VARIABLE is not set",
        ),
        (
            {"audiences": ["kubernetes"], "callerTokens": [TOKEN, "short"]},
            f"{KEY}.callerTokens[1]",
            "at least 16 characters",
        ),
        (
            {"audiences": ["kubernetes"], "callerTokens": [" " + TOKEN]},
            f"{KEY}.callerTokens[0]",
            "without spaces",
        ),
        ({"callerTokens": TOKEN, "audiences": ["kubernetes"]}, f"{KEY}.callerTokens", "list"),
        ({"usernameClaim": ""}, f"{KEY}.usernameClaim", "must not be empty"),
        ({"usernameClaim": 5}, f"{KEY}.usernameClaim", "must be a string"),
        ({"groupsPrefix": ["x"]}, f"{KEY}.groupsPrefix", "must be a string"),
        ({"usernamePrefix": True}, f"{KEY}.usernamePrefix", "must be a string"),
        ({"bogus": 1}, f"{KEY}.bogus", "unknown key"),
        (
            {"audiences": ["kubernetes"], "apiServerAudiences": {"https://k": ["other"]}},
            f"{KEY}.apiServerAudiences.https://k[0]",
            "'other' is not among kubernetes.tokenReview.audiences",
        ),
        (
            {"audiences": ["kubernetes"], "apiServerAudiences": {"https://k": ["ghost"]}},
            f"{KEY}.apiServerAudiences.https://k[0]",
            "'ghost' is not a static client",
        ),
        (
            {"audiences": ["kubernetes"], "apiServerAudiences": {"https://k": []}},
            f"{KEY}.apiServerAudiences.https://k",
            "at least one client ID",
        ),
        (
            {"audiences": ["kubernetes"], "apiServerAudiences": ["https://k"]},
            f"{KEY}.apiServerAudiences",
            "must be a mapping",
        ),
    ],
)
def test_bad_values_are_config_errors_naming_the_key(
    review: dict[str, Any], path: str, message: str
) -> None:
    review.setdefault("callerTokens", [TOKEN])
    found = errors(config(**review))
    assert path in found, found
    assert message in found[path]


@pytest.mark.parametrize(
    ("section", "path"),
    [
        ({"tokenreview": {}}, "kubernetes.tokenreview"),
        ("on", "kubernetes"),
        ({"tokenReview": "on"}, KEY),
    ],
)
def test_bad_sections_are_config_errors(section: Any, path: str) -> None:
    assert path in errors(config(section))


def test_the_example_in_config_example_yaml_is_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    """The commented section, uncommented in the example config itself: its client IDs are
    the example's static clients, its prefixes those ``kube setup`` prints for the flags."""
    text = (Path(__file__).resolve().parents[2] / "config.example.yaml").read_text()
    lines = text.splitlines()
    start = lines.index("# kubernetes:")
    block = []
    for line in lines[start:]:
        if not line.startswith("#"):
            break
        block.append(line[2:])
    section = yaml.safe_load("\n".join(block))
    monkeypatch.setenv("KUBE_WEBHOOK_TOKEN", TOKEN)
    data = yaml.safe_load(text)
    data.update(section)
    parsed = parse_token_review(from_dict(data))
    assert parsed is not None
    assert parsed.caller_tokens == (TOKEN,)
    assert parsed.audiences == ("kubectl",)
    assert parsed.username_prefix_for(ISSUER) == "oidc:"
    assert parsed.groups_prefix == "oidc:"
    assert parsed.clients_for("https://kubernetes.default.svc") == ("kubectl",)


def test_connector_check_defaults_to_ten_minutes_and_0s_turns_it_off() -> None:
    base = {"audiences": ["kubernetes"], "callerTokens": [TOKEN]}
    default = settings(**base)
    assert default is not None and default.connector_check == timedelta(minutes=10)
    off = settings(**base, connectorCheck="0s")
    assert off is not None and off.connector_check == timedelta(0)
    assert errors(config(**base, connectorCheck="ten minutes")) == {
        "kubernetes.tokenReview.connectorCheck": "invalid duration 'ten minutes': "
        "expected a number and a unit"
    }
    assert errors(config(**base, connectorCheck="-1m")) == {
        "kubernetes.tokenReview.connectorCheck": "must not be negative"
    }
