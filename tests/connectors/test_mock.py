"""Dex's mock connectors: ``mockCallback`` and ``mockPassword``."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

import pytest

from connectors.base import CallbackRequest, ConnectorConfigError, Identity, Scopes
from connectors.mock import MockCallbackConnector, MockPasswordConnector


@pytest.fixture
def callback() -> MockCallbackConnector:
    return MockCallbackConnector.open({}, connector_id="mock")


@pytest.fixture
def password() -> MockPasswordConnector:
    return MockPasswordConnector.open(
        {"username": "admin", "password": "s3cret"}, connector_id="mock-password"
    )


def test_login_url_keeps_query_and_adds_state(callback):
    url, login_state = callback.login_url(
        Scopes(), "https://idp.example/dex/callback?a=1&b=&a=2#frag", "st ate&x"
    )
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path, parts.fragment) == (
        "https",
        "idp.example",
        "/dex/callback",
        "frag",
    )
    assert parse_qsl(parts.query, keep_blank_values=True) == [
        ("a", "1"),
        ("b", ""),
        ("a", "2"),
        ("state", "st ate&x"),
    ]
    assert login_state is None


def test_login_url_replaces_an_existing_state(callback):
    url, _ = callback.login_url(Scopes(), "http://x/cb?state=old", "new")
    assert parse_qsl(urlsplit(url).query) == [("state", "new")]


def test_login_url_without_query(callback):
    url, _ = callback.login_url(Scopes(), "http://127.0.0.1:5556/dex/callback", "abc")
    assert url == "http://127.0.0.1:5556/dex/callback?state=abc"


def test_callback_returns_kilgore_trout(callback):
    identity = callback.handle_callback(
        Scopes(groups=True), CallbackRequest(url="http://x/cb?state=s", args={"state": "s"}), None
    )
    assert identity == Identity(
        user_id="0-385-28089-0",
        username="Kilgore Trout",
        preferred_username="kilgore",
        email="kilgore@kilgore.trout",
        email_verified=True,
        groups=("authors",),
    )
    assert callback.refresh(Scopes(), identity) == identity


def test_mock_callback_rejects_unknown_config_keys():
    with pytest.raises(ConnectorConfigError) as info:
        MockCallbackConnector.open({"usernam": "x"}, connector_id="m")
    assert info.value.errors == [("config.usernam", "unknown key")]


def test_password_login_with_exact_credentials(password):
    identity = password.login(Scopes(), "admin", "s3cret")
    assert identity is not None
    assert identity.user_id == "0-385-28089-0"
    assert identity.username == "Kilgore Trout"
    assert identity.email == "kilgore@kilgore.trout"
    assert identity.email_verified is True
    assert password.refresh(Scopes(), identity) == identity
    assert password.prompt() == "Username"


@pytest.mark.parametrize(
    ("user", "pw"),
    [("admin", "wrong"), ("Admin", "s3cret"), ("root", "s3cret"), ("admin", ""), ("", "")],
)
def test_password_login_refuses_anything_else(password, user, pw):
    assert password.login(Scopes(), user, pw) is None


def test_password_config_requires_both_keys():
    with pytest.raises(ConnectorConfigError) as info:
        MockPasswordConnector.open({}, connector_id="m")
    assert info.value.errors == [("config.username", "required"), ("config.password", "required")]


def test_password_config_wrong_type_and_unknown_key():
    with pytest.raises(ConnectorConfigError) as info:
        MockPasswordConnector.open(
            {"username": "u", "password": True, "extra": 1}, connector_id="m"
        )
    assert info.value.errors == [
        ("config.password", "must be a string"),
        ("config.extra", "unknown key"),
    ]


def test_password_config_refuses_empty_values():
    with pytest.raises(ConnectorConfigError) as info:
        MockPasswordConnector.open({"username": "", "password": ""}, connector_id="m")
    assert info.value.errors == [
        ("config.username", "must not be empty"),
        ("config.password", "must not be empty"),
    ]
