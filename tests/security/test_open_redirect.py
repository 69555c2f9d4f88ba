"""Open redirects on every redirect parameter: ``redirect_uri`` at ``/auth`` and
``post_logout_redirect_uri`` at ``/logout``.

Protection: exact string matching of registered URIs (``dex_py.clients.redirect_uri_allowed``,
RFC 9700 §2.1 / §4.1; ``dex_py.oauth.logout.check_post_logout_redirect_uri``, RP-Initiated
Logout §3), with errors shown as a page, never redirected. Each payload is tried as a browser
would resolve it (``\\`` read as ``/``, as WHATWG URL parsing does).
"""

from __future__ import annotations

from urllib.parse import quote, urljoin, urlsplit

import pytest
import requests

from tests.conformance.conftest import OP, POST_LOGOUT_URI
from tests.conformance.rp import ClientInfo
from tests.live import EXAMPLE_REDIRECT_URI
from tests.security.conftest import CLIENT, PUBLIC

pytestmark = pytest.mark.live

EVIL = "evil.example"


def payloads(registered: str) -> list[str]:
    """Variants of an attacker URI, built around a registered one."""
    parts = urlsplit(registered)
    host = parts.netloc  # 127.0.0.1:5555
    return [
        f"//{EVIL}",
        f"//{EVIL}/callback",
        f"/\\{EVIL}",
        f"\\\\{EVIL}",
        f"https://{EVIL}",
        f"https://{EVIL}{parts.path}",
        f"http://{host}@{EVIL}{parts.path}",
        f"http://{EVIL}@{host}{parts.path}",
        f"http://{host}\\@{EVIL}{parts.path}",
        f"http://{host}{parts.path}@{EVIL}",
        f"http://{host}.{EVIL}{parts.path}",
        f"{registered}/../../{EVIL}",
        f"{registered}?next=https://{EVIL}",
        f"{registered}#@{EVIL}",
        f"{registered}/",
        registered.upper(),
        quote(f"//{EVIL}", safe=""),
        quote(quote(f"//{EVIL}", safe=""), safe=""),
        quote(f"https://{EVIL}", safe=""),
        quote(registered, safe=""),
        quote(f"/\\{EVIL}", safe=""),
        f"{registered}%0d%0aLocation:%20https://{EVIL}",
        f"{registered}\r\nLocation: https://{EVIL}",
        "javascript:alert(document.domain)//",
        "data:text/html,<script>alert(1)</script>",
        f"{parts.scheme}:{EVIL}",
        f"https:/{EVIL}",
        f"ftp://{EVIL}/",
        f"{parts.scheme}://{parts.hostname}:99999{parts.path}",
        f"{parts.scheme}://{parts.hostname}:0x50{parts.path}",
    ]


def browser_target(location: str, base: str) -> tuple[str, str]:
    """(host, path) a browser would go to for a Location header."""
    resolved = urljoin(base, location.replace("\\", "/"))
    parts = urlsplit(resolved)
    return (parts.hostname or ""), parts.path


def assert_not_sent_away(resp: requests.Response, registered: str) -> None:
    """Either an error page, or (public clients only) a redirect to the registered loopback
    host and path; never anywhere else."""
    if not resp.is_redirect:
        assert resp.status_code == 400, f"{resp.status_code}: {resp.text[:200]}"
        assert "text/html" in resp.headers["Content-Type"]
        return
    host, path = browser_target(resp.headers["Location"], resp.url)
    want = urlsplit(registered)
    assert host == want.hostname and EVIL not in host, f"sent to {resp.headers['Location']}"
    assert path == want.path


AUTH_PAYLOADS = payloads(EXAMPLE_REDIRECT_URI)
LOGOUT_PAYLOADS = payloads(POST_LOGOUT_URI)


@pytest.mark.parametrize("payload", AUTH_PAYLOADS, ids=range(len(AUTH_PAYLOADS)))
@pytest.mark.parametrize("client", [CLIENT, PUBLIC], ids=["confidential", "public"])
def test_redirect_uri_open_redirect(op: OP, client: ClientInfo, payload: str) -> None:
    """/auth never redirects to an unregistered redirect_uri (exact match, loopback-any-port
    only for public clients, RFC 8252 §7.3); the error is a page, not a redirect."""
    req = op.rp(client).request(redirect_uri=payload, pkce=True, prompt="none")
    resp = requests.get(req.url, allow_redirects=False, timeout=10)
    if client.id == PUBLIC.id and resp.is_redirect:
        # RFC 8252: a loopback URI on another port is fine; prompt=none makes the OP answer at
        # once, so this is the very redirect an attacker would get.
        assert_not_sent_away(resp, EXAMPLE_REDIRECT_URI)
    else:
        assert not resp.is_redirect, f"{payload!r} -> {resp.headers.get('Location')}"
        assert resp.status_code == 400, f"{payload!r}: {resp.status_code}"


def test_redirect_uri_open_redirect_after_login(op: OP) -> None:
    """The check is not skipped for a logged-in user (a silent prompt=none request is the
    attacker's best case) nor for error responses."""
    rp = op.rp(CLIENT)
    browser = op.browser()
    rp.login(browser)
    for payload in payloads(EXAMPLE_REDIRECT_URI)[:12]:
        silent = rp.request(redirect_uri=payload, prompt="none")
        broken = rp.request(redirect_uri=payload, response_type="bogus")
        for req in (silent, broken):
            resp = browser.open(req.url)
            assert not resp.is_redirect, f"{payload!r} -> {resp.headers.get('Location')}"


@pytest.mark.parametrize("payload", LOGOUT_PAYLOADS, ids=range(len(LOGOUT_PAYLOADS)))
def test_post_logout_redirect_uri_open_redirect(op: OP, payload: str) -> None:
    """/logout redirects only to an exactly registered post_logout_redirect_uri of the client
    named by a valid id_token_hint (or client_id); otherwise an error page, and the user stays
    logged in."""
    rp = op.rp(CLIENT)
    browser = op.browser()
    flow = rp.login(browser)
    for hint in ({"id_token_hint": flow.tokens["id_token"]}, {"client_id": CLIENT.id}, {}):
        resp = browser.session.get(
            op.meta["end_session_endpoint"],
            params={"post_logout_redirect_uri": payload, "state": "s", **hint},
            allow_redirects=False,
            timeout=10,
        )
        assert not resp.is_redirect, f"{payload!r} -> {resp.headers.get('Location')}"
        assert resp.status_code == 400, f"{payload!r}: {resp.status_code}"
    again = rp.authorize(browser, prompt="none", login=False)
    assert "code" in again.response.params, "a refused logout must not end the session"


def test_post_logout_redirect_uri_of_another_client(op: OP) -> None:
    """A URI registered by another client cannot be used with this client's hint."""
    rp = op.rp(CLIENT)
    browser = op.browser()
    flow = rp.login(browser)
    resp = browser.session.get(
        op.meta["end_session_endpoint"],
        params={
            "id_token_hint": flow.tokens["id_token"],
            "post_logout_redirect_uri": "http://127.0.0.1:5557/logged-out",
        },
        allow_redirects=False,
        timeout=10,
    )
    assert not resp.is_redirect and resp.status_code == 400
