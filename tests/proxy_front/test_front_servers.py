"""Forward auth behind real front servers: nginx ``auth_request`` in ingress-nginx's shape and
Caddy ``forward_auth``, each in front of the real test app, ``dex-py proxy`` deciding, a real
``dex-py serve`` issuer logging users in with the LDAP connector; one login with Chromium."""

from __future__ import annotations

import pytest

from tests.chromium import CHROMIUM, chromium
from tests.connectors.ldap.conftest import Directory
from tests.proxy_front.conftest import Stack
from tests.proxy_front.stack import log_in
from tests.proxy_front.upstream_app import FORGED_IDENTITY, received_headers
from tests.services import missing_service

pytestmark = [pytest.mark.ldap, pytest.mark.live]


def assert_identity(echo: dict, user: str, groups: str) -> None:
    """The app got exactly one of each identity header, with ``user``'s values."""
    headers = received_headers(echo)
    assert headers["x-auth-request-email"] == [f"{user}@example.org"], headers
    assert headers["x-auth-request-preferred-username"] == [user], headers
    assert headers["x-auth-request-groups"] == [groups], headers
    assert len(headers["x-auth-request-user"]) == 1 and headers["x-auth-request-user"][0]


@pytest.mark.browser
def test_browser_logs_in_through_nginx_and_sees_the_page(stack: Stack) -> None:
    if not CHROMIUM.exists():
        missing_service("chromium", f"{CHROMIUM} is not installed")
    stack.nginx("a")
    front = stack.clients["a"].front
    with chromium() as browser:
        page = browser.new_page()
        page.goto(front + "/reports/weekly?year=2026")
        assert page.url.startswith(stack.issuer.issuer), page.url  # the issuer's LDAP form
        page.fill("#login", "alice")
        page.fill("#password", "alice-secret")
        page.locator("#password").press("Enter")
        page.wait_for_url(front + "/reports/weekly?year=2026")
        echo = page.evaluate("() => fetch(location.href).then(r => r.json())")
        cookies = {c["name"] for c in page.context.cookies(front)}
    assert echo["path"] == "/reports/weekly" and echo["query"] == "year=2026"
    assert_identity(echo, "alice", "admins,developers")
    assert "_dexpy_a" in cookies or any(c.startswith("_dexpy_a_") for c in cookies), cookies


def test_nginx_another_team_gets_403(stack: Stack) -> None:
    stack.nginx("a")
    _, allowed = log_in(stack.clients["a"].front, "bob", "bob-secret")
    assert allowed.status_code == 200, stack.logs()
    assert_identity(allowed.json(), "bob", "developers")
    _, refused = log_in(stack.clients["a"].front, "dave", "dave-secret")
    assert refused.status_code == 403, (refused.status_code, refused.text[:300])
    assert "x-auth-request-user" not in refused.text.lower()  # not the app's echo


def test_caddy_forward_auth_logs_in_and_refuses_another_team(stack: Stack) -> None:
    stack.caddy("b")
    front = stack.clients["b"].front
    browser, allowed = log_in(front, "bob", "bob-secret", path="/docs/index")
    assert allowed.status_code == 200, stack.logs()
    assert allowed.json()["path"] == "/docs/index"
    assert_identity(allowed.json(), "bob", "developers")
    again = browser.get(front + "/static/hello.txt", timeout=10)
    assert again.status_code == 200 and again.text.startswith("hello from the protected app")
    forged = browser.get(front + "/docs/index", headers=FORGED_IDENTITY, timeout=10)
    assert_identity(forged.json(), "bob", "developers")  # the client's copies are gone
    _, refused = log_in(front, "dave", "dave-secret")
    assert refused.status_code == 403, (refused.status_code, refused.text[:300])


@pytest.mark.parametrize("front_kind", ["nginx", "caddy"])
def test_a_user_without_groups_cannot_claim_some(
    stack: Stack, directory: Directory, front_kind: str
) -> None:
    """The auth answer has no X-Auth-Request-Groups for a user in no group: the front server
    must still drop the client's own (Caddy 2.6's copy_headers alone would pass it on)."""
    uid = f"loner-{directory.tag}"
    directory.add_user(uid, "loner-secret")
    name = "a" if front_kind == "nginx" else "b"
    getattr(stack, front_kind)(name, rules=[{"path": "/", "allow": {"authenticated": True}}])
    browser, page = log_in(stack.clients[name].front, uid, "loner-secret")
    assert page.status_code == 200, stack.logs()
    # Caddy sets a header the auth answer lacks to an empty value; nginx leaves it out.
    assert received_headers(page.json()).get("x-auth-request-groups", [""]) == [""]
    forged = browser.get(page.url, headers=FORGED_IDENTITY, timeout=10)
    seen = received_headers(forged.json())
    assert seen.get("x-auth-request-groups", [""]) == [""], seen
    assert seen["x-auth-request-email"] == [f"{uid}@example.org"]
