"""``dex_py.web.trusted_headers``: identity headers survive only on the authproxy callback paths."""

from __future__ import annotations

from typing import Any

from werkzeug.test import Client
from werkzeug.wrappers import Request, Response

from dex_py.config import Config, ConnectorConfig
from dex_py.web.trusted_headers import TrustedHeaderFilter, environ_key, trusted_header_paths


@Request.application
def echo(request: Request) -> Response:
    """A tiny WSGI app answering with the X-* headers it received."""
    seen = sorted(f"{k}={v}" for k, v in request.headers.items() if k.lower().startswith("x-"))
    return Response("\n".join(seen))


def seen(app: Any, path: str, headers: dict[str, str]) -> set[str]:
    text = Client(app).get(path, headers=headers).get_data(as_text=True)
    return set(text.splitlines()) if text else set()


FORGED = {"X-Remote-User": "admin", "X-Remote-Group": "admins", "X-Other": "kept"}


def test_headers_are_removed_outside_the_allowed_paths():
    app = TrustedHeaderFilter(echo, {"X-Remote-User", "X-Remote-Group"}, {"/dex/callback/proxy"})
    allowed = seen(app, "/dex/callback/proxy?state=s", FORGED)
    assert allowed == {"X-Remote-User=admin", "X-Remote-Group=admins", "X-Other=kept"}
    for path in (
        "/dex/callback",
        "/dex/callback/proxy/",
        "/dex/callback/other",
        "//dex/callback/proxy",
        "/dex/auth/proxy",
        "/dex/token",
        "/",
    ):
        assert seen(app, path, FORGED) == {"X-Other=kept"}, path


def test_underscore_spelling_cannot_sneak_past():
    app = TrustedHeaderFilter(echo, {"X-Remote-User"}, {"/dex/callback/proxy"})
    environ_forged = Client(app).get(
        "/dex/token", environ_overrides={"HTTP_X_REMOTE_USER": "admin"}
    )
    assert "X-Remote-User" not in environ_forged.get_data(as_text=True)


def test_no_headers_means_pass_through():
    app = TrustedHeaderFilter(echo, set(), set())
    assert "X-Remote-User=admin" in seen(app, "/dex/token", FORGED)


def test_environ_key():
    assert environ_key("X-Remote-User") == "HTTP_X_REMOTE_USER"
    assert environ_key(" x-remote-group ") == "HTTP_X_REMOTE_GROUP"
    assert environ_key("Content-Type") == "CONTENT_TYPE"


def test_trusted_header_paths_from_config():
    config = Config(
        issuer="https://sso.example.com/dex/",
        connectors=[
            ConnectorConfig(type="authproxy", id="basic", name="Basic", config={}),
            ConnectorConfig(
                type="authproxy",
                id="sso",
                name="SSO",
                config={"userHeader": "X-Auth-User", "groupHeader": "X-Auth-Groups"},
            ),
            ConnectorConfig(type="mockCallback", id="mock", name="Mock"),
        ],
    )
    headers, paths = trusted_header_paths(config)
    assert paths == {"/dex/callback/basic", "/dex/callback/sso"}
    assert headers == {
        "X-Remote-User",
        "X-Remote-User-Id",
        "X-Remote-User-Name",
        "X-Remote-User-Email",
        "X-Remote-Group",
        "X-Auth-User",
        "X-Auth-Groups",
    }


def test_trusted_header_paths_root_issuer_and_none():
    config = Config(
        issuer="http://127.0.0.1:5556",
        connectors=[ConnectorConfig(type="authproxy", id="p", name="P")],
    )
    assert trusted_header_paths(config)[1] == {"/callback/p"}
    assert trusted_header_paths(Config(issuer="http://x/dex")) == (set(), set())
