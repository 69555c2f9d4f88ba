"""End to end: a live ``dex-py serve`` with an ``authproxy`` connector. The test plays the
fronting proxy by sending the identity headers on ``/dex/callback/<id>`` itself, and shows that
the same headers sent to any other path are ignored (``dex_py.web.trusted_headers``, wired in
``create_app``)."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

import pytest

from tests.connectors.flow import dex_sub, finish, follow_until, start_login
from tests.live import LiveServer
from tests.login_flow import follow_login

pytestmark = pytest.mark.live

HEADERS = {
    "X-Remote-User": "jane",
    "X-Remote-User-Id": "1001",
    "X-Remote-User-Name": "Jane",
    "X-Remote-User-Email": "jane@example.com",
    "X-Remote-Group": "admins, devs",
}


@pytest.fixture
def server(make_live_server: Callable[..., LiveServer]) -> LiveServer:
    return make_live_server(
        {
            "connectors": [
                {
                    "type": "authproxy",
                    "id": "proxy",
                    "name": "Corporate SSO",
                    "config": {"staticGroups": ["staff"]},
                },
                {"type": "mockCallback", "id": "mock", "name": "Mock"},
            ]
        }
    )


def test_login_with_proxy_headers(server: LiveServer):
    client, browser, resp, nonce = start_login(
        server, "proxy", "openid email profile groups offline_access"
    )
    callback_path = urlsplit(server.url("/callback/proxy")).path
    callback = follow_until(browser, resp, callback_path)
    assert "state=" in callback

    # without the proxy's headers the connector refuses
    bare = browser.get(callback, allow_redirects=False, timeout=10)
    assert bare.status_code == 502 and "X-Remote-User" in bare.text

    resp = browser.get(callback, headers=HEADERS, allow_redirects=False, timeout=10)
    login = finish(server, client, follow_login(browser, resp), nonce)
    claims = login.claims
    assert claims["sub"] == dex_sub("1001", "proxy")
    assert claims["email"] == "jane@example.com" and claims["email_verified"] is True
    assert claims["name"] == "jane" and claims["preferred_username"] == "Jane"
    assert claims["groups"] == ["admins", "devs", "staff"]


def test_identity_headers_elsewhere_are_ignored(server: LiveServer):
    """Needs ``TrustedHeaderFilter`` in ``create_app``: without it the forged headers on the
    generic ``/callback`` would log the attacker in as ``admin``."""
    client, browser, resp, nonce = start_login(server, "proxy", "openid email groups")
    callback = follow_until(browser, resp, urlsplit(server.url("/callback/proxy")).path)
    state = callback.split("state=", 1)[1]
    forged = {"X-Remote-User": "admin", "X-Remote-Group": "admins"}

    # the generic callback path reaches the same connector, but the headers are stripped there
    generic = browser.get(
        server.url("/callback") + "?state=" + state,
        headers=forged,
        allow_redirects=False,
        timeout=10,
    )
    assert generic.status_code == 502, "forged identity headers were accepted on /callback"
    assert "X-Remote-User" in generic.text  # refused for the missing header

    # the same login still completes through the proxied path
    resp = browser.get(callback, headers=HEADERS, allow_redirects=False, timeout=10)
    login = finish(server, client, follow_login(browser, resp), nonce)
    assert login.claims["sub"] == dex_sub("1001", "proxy")


def test_another_connectors_callback_path_does_not_take_proxy_headers(server: LiveServer):
    """A login started with ``proxy`` cannot be finished through ``/callback/mock`` either."""
    _, browser, resp, _ = start_login(server, "proxy", "openid")
    callback = follow_until(browser, resp, urlsplit(server.url("/callback/proxy")).path)
    state = callback.split("state=", 1)[1]
    other = browser.get(
        server.url("/callback/mock") + "?state=" + state,
        headers=HEADERS,
        allow_redirects=False,
        timeout=10,
    )
    assert other.status_code == 400
