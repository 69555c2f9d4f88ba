"""The ``authproxy`` connector: config, the login URL, and identities read from proxy headers."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

import pytest

import connectors
from connectors.authproxy import DEFAULT_HEADERS, AuthProxyConnector, header_names
from connectors.base import CallbackRequest, ConnectorConfigError, ConnectorError, Scopes

CALLBACK = "https://dex.example/dex/callback"


def login(conn: AuthProxyConnector, headers: dict[str, str]):
    return conn.handle_callback(
        Scopes(groups=True),
        CallbackRequest(url=CALLBACK + "/proxy?state=s", args={"state": "s"}, headers=headers),
        None,
    )


@pytest.fixture
def proxy() -> AuthProxyConnector:
    return AuthProxyConnector.open({}, connector_id="proxy")


def test_defaults_are_dexs_headers():
    cfg = AuthProxyConnector.Config()
    assert (
        cfg.user_header,
        cfg.user_id_header,
        cfg.user_name_header,
        cfg.email_header,
        cfg.group_header,
        cfg.static_groups,
    ) == (
        "X-Remote-User",
        "X-Remote-User-Id",
        "X-Remote-User-Name",
        "X-Remote-User-Email",
        "X-Remote-Group",
        (),
    )


def test_every_key_is_read():
    conn = AuthProxyConnector.open(
        {
            "userHeader": "X-Auth-User",
            "userIDHeader": "X-Auth-Id",
            "userNameHeader": "X-Auth-Login",
            "emailHeader": "X-Auth-Mail",
            "groupHeader": "X-Auth-Groups",
            "staticGroups": ["everyone"],
        },
        connector_id="proxy",
    )
    identity = login(
        conn,
        {
            "X-Auth-User": "Jane Doe",
            "X-Auth-Id": "u-1",
            "X-Auth-Login": "jane",
            "X-Auth-Mail": "jane@example.com",
            "X-Auth-Groups": "a, b",
            "X-Remote-User": "ignored",
        },
    )
    assert (identity.user_id, identity.username, identity.preferred_username, identity.email) == (
        "u-1",
        "Jane Doe",
        "jane",
        "jane@example.com",
    )
    assert identity.groups == ("a", "b", "everyone")


def test_config_errors():
    with pytest.raises(ConnectorConfigError) as exc:
        AuthProxyConnector.open(
            {"userHeader": "X Bad", "groupHeader": "", "staticGroups": "admins", "groups": []},
            connector_id="p",
        )
    assert dict(exc.value.errors) == {
        "config.staticGroups": "must be a list",
        "config.groups": "unknown key",
    }
    with pytest.raises(ConnectorConfigError) as exc:
        AuthProxyConnector.open({"userHeader": "X Bad", "groupHeader": ""}, connector_id="p")
    assert dict(exc.value.errors) == {
        "config.userHeader": "must be an HTTP header name",
        "config.groupHeader": "must be an HTTP header name",
    }


def test_registered_as_dex_type_authproxy():
    assert connectors.resolve("authproxy") is AuthProxyConnector
    assert connectors.validate_connector_config("authproxy", None) == []


def test_login_url_is_the_connectors_own_callback_path(proxy: AuthProxyConnector):
    url, login_state = proxy.login_url(Scopes(), CALLBACK, "abc&d")
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path) == (
        "https",
        "dex.example",
        "/dex/callback/proxy",
    )
    assert parse_qsl(parts.query) == [("state", "abc&d")]
    assert login_state is None
    url, _ = proxy.login_url(Scopes(), CALLBACK + "/?state=old&x=1", "new")
    assert urlsplit(url).path == "/dex/callback/proxy"
    assert parse_qsl(urlsplit(url).query) == [("x", "1"), ("state", "new")]


def test_user_header_alone_fills_every_field(proxy: AuthProxyConnector):
    identity = login(proxy, {"x-remote-user": " jane@example.com "})  # any header case
    assert identity.user_id == "jane@example.com"
    assert identity.username == "jane@example.com"
    assert identity.preferred_username == "jane@example.com"
    assert identity.email == "jane@example.com" and identity.email_verified is True
    assert identity.groups == ()


def test_all_default_headers(proxy: AuthProxyConnector):
    identity = login(
        proxy,
        {
            "X-Remote-User": "jane",
            "X-Remote-User-Id": "1001",
            "X-Remote-User-Name": "Jane",
            "X-Remote-User-Email": "jane@example.com",
            "X-Remote-Group": "admins,, devs ,admins",
        },
    )
    assert (identity.user_id, identity.username, identity.preferred_username, identity.email) == (
        "1001",
        "jane",
        "Jane",
        "jane@example.com",
    )
    assert identity.groups == ("admins", "devs")


def test_static_groups_follow_header_groups():
    conn = AuthProxyConnector.open({"staticGroups": ["staff", "devs"]}, connector_id="p")
    assert login(conn, {"X-Remote-User": "j", "X-Remote-Group": "devs,ops"}).groups == (
        "devs",
        "ops",
        "staff",
    )
    assert login(conn, {"X-Remote-User": "j"}).groups == ("staff", "devs")


@pytest.mark.parametrize("headers", [{}, {"X-Remote-User": ""}, {"X-Remote-User": "  "}])
def test_missing_user_header_is_refused(proxy: AuthProxyConnector, headers: dict[str, str]):
    with pytest.raises(ConnectorError, match="required header X-Remote-User is missing"):
        login(proxy, {**headers, "X-Remote-User-Email": "forged@example.com"})


def test_header_names_tolerates_bad_configs():
    assert header_names(None) == frozenset(DEFAULT_HEADERS.values())
    names = header_names({"userHeader": "X-Auth-User", "emailHeader": 7, "groupHeader": " "})
    assert "X-Auth-User" in names and "X-Remote-User" not in names
    assert {"X-Remote-User-Email", "X-Remote-Group"} <= names
