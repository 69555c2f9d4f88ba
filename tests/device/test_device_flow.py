"""The device authorization grant (RFC 8628) against a live dex-py, over HTTP: the device's
requests to ``/device/code`` and ``/token``, the user's browser at ``/device`` through the normal
password login and approval page. Each protection is exercised so that removing it fails a test.
"""

from __future__ import annotations

import hashlib
import re
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from dex_py.config import DEVICE_CODE_GRANT
from tests.device.conftest import (
    ALLOWED_ORIGIN,
    NO_DEVICE_CLIENT,
    browser_login,
    database_bytes,
    device_config,
    device_rows,
    enter_code,
    error_of,
    poll,
    polls_at_once,
    refresh,
    start,
    start_raw,
)
from tests.live import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    EXAMPLE_CLIENT_ID,
    PUBLIC_CLIENT_ID,
    LiveServer,
    verify_token_response,
)
from tests.login_flow import follow_login, parse_page

pytestmark = [pytest.mark.live]

USER_CODE_RE = re.compile(r"^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$")
INTERVAL = 5


def wait_interval(since: float, seconds: float = INTERVAL) -> None:
    """Sleep until ``seconds`` (plus a margin) after the monotonic time ``since``."""
    time.sleep(max(0.0, since + seconds + 0.3 - time.monotonic()))


def test_device_code_answer(device_server: LiveServer) -> None:
    body = start(device_server)
    assert USER_CODE_RE.match(body["user_code"]), body["user_code"]
    assert body["verification_uri"] == device_server.url("/device")
    assert body["verification_uri_complete"] == (
        device_server.url("/device") + "?user_code=" + body["user_code"]
    )
    assert body["expires_in"] == 300  # expiry.deviceRequests' default, 5m
    assert body["interval"] == INTERVAL
    assert len(body["device_code"]) >= 43  # 32 random bytes, base64url
    second = start(device_server)
    assert second["device_code"] != body["device_code"]
    assert second["user_code"] != body["user_code"]


def test_discovery_advertises_the_endpoint(device_server: LiveServer) -> None:
    doc = requests.get(device_server.url("/.well-known/openid-configuration"), timeout=10).json()
    assert doc["device_authorization_endpoint"] == device_server.url("/device/code")
    assert DEVICE_CODE_GRANT in doc["grant_types_supported"]


def test_public_client_pending_then_tokens_once(device_server: LiveServer) -> None:
    body = start(device_server)
    first = poll(device_server, body["device_code"])
    polled = time.monotonic()
    assert first.status_code == 400
    assert error_of(first) == "authorization_pending"
    assert first.headers["Cache-Control"] == "no-store"

    done = browser_login(device_server, body["user_code"])
    assert done.status_code == 200, done.text[:500]
    assert 'id="device-approved"' in done.text
    assert "close this window" in done.text

    wait_interval(polled)
    resp = poll(device_server, body["device_code"])
    assert resp.status_code == 200, resp.text
    token = resp.json()
    assert token["token_type"] == "bearer"
    assert token["refresh_token"]  # offline_access
    claims = verify_token_response(device_server.issuer, token, audience=PUBLIC_CLIENT_ID)
    assert claims["email"] == ADMIN_EMAIL
    assert "admins" in claims["groups"]
    assert "auth_time" in claims

    # the refresh token works like any other
    refreshed = refresh(device_server, token["refresh_token"])
    assert refreshed.status_code == 200, refreshed.text

    # single use: the device code is spent
    wait_interval(time.monotonic() - INTERVAL)
    again = poll(device_server, body["device_code"])
    assert again.status_code == 400
    assert error_of(again) == "invalid_grant"


def test_confidential_client_authenticates_and_gets_tokens(device_server: LiveServer) -> None:
    # without its secret, a confidential client is refused (as at /token)
    headers_missing = requests.post(
        device_server.url("/device/code"),
        data={"client_id": EXAMPLE_CLIENT_ID, "scope": "openid"},
        timeout=10,
    )
    assert headers_missing.status_code == 401
    assert error_of(headers_missing) == "invalid_client"

    body = start(device_server, EXAMPLE_CLIENT_ID, "openid email")
    done = browser_login(device_server, body["user_code"])
    assert 'id="device-approved"' in done.text
    # another client cannot redeem it
    stolen = poll(device_server, body["device_code"], PUBLIC_CLIENT_ID)
    assert error_of(stolen) == "invalid_grant"
    resp = poll(device_server, body["device_code"], EXAMPLE_CLIENT_ID)
    assert resp.status_code == 200, resp.text
    token = resp.json()
    assert "refresh_token" not in token  # no offline_access asked
    verify_token_response(device_server.issuer, token, audience=EXAMPLE_CLIENT_ID)


def test_slow_down_grows_the_stored_interval(device_server: LiveServer) -> None:
    body = start(device_server)
    row_id = hashlib.sha256(body["device_code"].encode()).hexdigest()

    def interval() -> int:
        (row,) = [r for r in device_rows(device_server) if r["id"] == row_id]
        return int(row["interval"])

    assert error_of(poll(device_server, body["device_code"])) == "authorization_pending"
    fast = poll(device_server, body["device_code"])
    assert fast.status_code == 400
    assert error_of(fast) == "slow_down"
    assert interval() == INTERVAL + 5
    assert error_of(poll(device_server, body["device_code"])) == "slow_down"
    assert interval() == INTERVAL + 10
    # the grown interval holds: 5 s (the original interval) later is still too fast
    time.sleep(INTERVAL + 0.3)
    assert error_of(poll(device_server, body["device_code"])) == "slow_down"
    assert interval() == INTERVAL + 15


def test_denial(device_server: LiveServer) -> None:
    body = start(device_server)
    done = browser_login(device_server, body["user_code"], approval="rejected")
    assert done.status_code == 403
    assert 'id="device-denied"' in done.text
    resp = poll(device_server, body["device_code"])
    assert resp.status_code == 400
    assert error_of(resp) == "access_denied"
    # a refused code cannot be entered again
    again = enter_code(requests.Session(), device_server, body["user_code"])
    assert again.status_code == 400
    assert "wrong or has expired" in again.text


def test_device_code_is_stored_hashed(device_server: LiveServer) -> None:
    body = start(device_server)
    ids = [r["id"] for r in device_rows(device_server)]
    assert hashlib.sha256(body["device_code"].encode()).hexdigest() in ids
    assert body["device_code"].encode() not in database_bytes(device_server)
    # the digest itself is no credential
    digest = hashlib.sha256(body["device_code"].encode()).hexdigest()
    assert error_of(poll(device_server, digest)) == "invalid_grant"


def test_user_code_is_case_and_dash_insensitive(device_server: LiveServer) -> None:
    body = start(device_server)
    sloppy = body["user_code"].replace("-", "").lower()
    resp = enter_code(requests.Session(), device_server, sloppy)
    # accepted: on to the connector chooser of the normal login (two connectors here)
    assert resp.status_code == 200, resp.text[:500]
    assert "wrong or has expired" not in resp.text
    assert any("/auth/local?req=" in link for link in parse_page(resp.text).links)


def test_verification_uri_complete_prefills(device_server: LiveServer) -> None:
    body = start(device_server)
    page = requests.get(body["verification_uri_complete"], timeout=10)
    assert page.status_code == 200
    (form,) = parse_page(page.text).forms
    code = next(i for i in form["inputs"] if i.get("name") == "user_code")
    assert code["value"] == body["user_code"]


def test_verify_code_needs_the_csrf_token(device_server: LiveServer) -> None:
    body = start(device_server)
    session = requests.Session()
    session.get(device_server.url("/device"), timeout=10)  # has the browser cookie
    resp = session.post(
        device_server.url("/device/auth/verify_code"),
        data={"user_code": body["user_code"], "csrf_token": "forged"},
        allow_redirects=False,
        timeout=10,
    )
    assert resp.status_code == 400
    assert "Invalid form" in resp.text


def test_callback_needs_the_state_of_the_browser_that_entered_the_code(
    device_server: LiveServer,
) -> None:
    """A forged refusal (or approval) for someone's user code, without the random state only
    their browser got, changes nothing."""
    body = start(device_server)
    enter_code(requests.Session(), device_server, body["user_code"])  # the victim starts
    code = body["user_code"].replace("-", "")
    for query in (
        {"state": f"{code}.guess", "error": "access_denied"},
        {"state": code, "error": "access_denied"},
        {"state": f"{code}.guess", "code": "x"},
    ):
        resp = requests.get(device_server.url("/device/callback"), params=query, timeout=10)
        assert resp.status_code == 400, query
    assert error_of(poll(device_server, body["device_code"])) == "authorization_pending"


def test_two_polls_at_once_get_the_tokens_once(device_server: LiveServer) -> None:
    body = start(device_server)
    browser_login(device_server, body["user_code"])
    results = polls_at_once([device_server], body["device_code"])
    winners = [r for r in results if r.status_code == 200]
    assert len(winners) == 1, [r.text for r in results]
    assert {error_of(r) for r in results if r.status_code != 200} <= {"invalid_grant", "slow_down"}


def test_client_not_allowed_the_grant(device_server: LiveServer) -> None:
    resp = start_raw(device_server, NO_DEVICE_CLIENT, "openid")
    assert resp.status_code == 400
    assert error_of(resp) == "unauthorized_client"
    body = start(device_server)
    polled = poll(device_server, body["device_code"], NO_DEVICE_CLIENT)
    assert error_of(polled) == "unauthorized_client"


def test_errors_are_oauth_json(device_server: LiveServer) -> None:
    no_openid = start_raw(device_server, scope="email")
    assert error_of(no_openid) == "invalid_scope"
    as_json = requests.post(
        device_server.url("/device/code"), json={"client_id": PUBLIC_CLIENT_ID}, timeout=10
    )
    assert error_of(as_json) == "invalid_request"
    unknown = requests.post(
        device_server.url("/device/code"), data={"client_id": "nobody"}, timeout=10
    )
    assert unknown.status_code == 401
    assert error_of(unknown) == "invalid_client"
    missing = poll(device_server, "")
    assert error_of(missing) == "invalid_request"


def test_cors_on_the_device_endpoint(device_server: LiveServer) -> None:
    resp = start_raw(device_server, headers={"Origin": ALLOWED_ORIGIN})
    assert resp.status_code == 200
    assert resp.headers["Access-Control-Allow-Origin"] == ALLOWED_ORIGIN
    other = start_raw(device_server, headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in other.headers
    preflight = requests.options(
        device_server.url("/device/code"),
        headers={"Origin": ALLOWED_ORIGIN, "Access-Control-Request-Method": "POST"},
        timeout=10,
    )
    assert preflight.status_code in (200, 204)
    assert preflight.headers["Access-Control-Allow-Origin"] == ALLOWED_ORIGIN
    assert "POST" in preflight.headers["Access-Control-Allow-Methods"]


def test_grant_not_enabled(make_live_server: Any) -> None:
    server = make_live_server()  # the default grantTypes: no device code grant
    resp = requests.post(
        server.url("/device/code"), data={"client_id": PUBLIC_CLIENT_ID}, timeout=10
    )
    assert resp.status_code == 400
    assert error_of(resp) == "unsupported_grant_type"
    polled = poll(server, "anything")
    assert error_of(polled) == "unsupported_grant_type"
    doc = requests.get(server.url("/.well-known/openid-configuration"), timeout=10).json()
    assert "device_authorization_endpoint" not in doc


def test_expiry(make_live_server: Any) -> None:
    server = make_live_server(device_config(expiry={"deviceRequests": "2s"}))
    body = start(server)
    assert body["expires_in"] == 2
    time.sleep(2.3)
    resp = poll(server, body["device_code"])
    assert resp.status_code == 400
    assert error_of(resp) == "expired_token"
    page = enter_code(requests.Session(), server, body["user_code"])
    assert page.status_code == 400
    assert "wrong or has expired" in page.text


def test_every_device_is_approved_even_within_an_sso_session(device_server: LiveServer) -> None:
    """RFC 8628 §5.4: a browser whose session approved the client before still sees the
    approval page for the next device (a phished user code is not approved silently)."""
    session = requests.Session()
    first = start(device_server, EXAMPLE_CLIENT_ID, "openid email")
    callback = follow_login(
        session,
        enter_code(session, device_server, first["user_code"]),
        back_to_client=lambda loc: loc.startswith(device_server.url("/device/callback")),
        credentials=(ADMIN_EMAIL, ADMIN_PASSWORD),
        chooser="/auth/local",
    )
    assert 'id="device-approved"' in session.get(callback, timeout=10).text
    second = start(device_server, EXAMPLE_CLIENT_ID, "openid email")
    resp = enter_code(session, device_server, second["user_code"])
    # the session logs the user in: straight to the approval page, not to the device
    assert resp.status_code == 303, resp.text[:300]
    assert resp.headers["Location"].startswith(device_server.url("/approval"))


def test_mock_callback_connector(device_server: LiveServer) -> None:
    """Any connector works: here the redirect-based test connector instead of a password."""
    body = start(device_server)
    session = requests.Session()
    visited: list[str] = []
    callback = follow_login(
        session,
        enter_code(session, device_server, body["user_code"]),
        back_to_client=lambda loc: loc.startswith(device_server.url("/device/callback")),
        chooser="/auth/mock",
        visited=visited,
    )
    assert device_server.url("/callback") in visited  # the connector's own round trip
    assert 'id="device-approved"' in session.get(callback, timeout=10).text
    resp = poll(device_server, body["device_code"])
    assert resp.status_code == 200, resp.text
    claims = verify_token_response(device_server.issuer, resp.json(), audience=PUBLIC_CLIENT_ID)
    assert claims["email"] == "kilgore@kilgore.trout"


def test_the_login_code_cannot_be_redeemed_at_the_token_endpoint(
    device_server: LiveServer,
) -> None:
    """The authorization code the device login ends with belongs to ``/device/callback``: the
    user (or anyone who sees the URL) cannot trade it for tokens at ``/token``."""
    body = start(device_server)
    session = requests.Session()
    callback = follow_login(
        session,
        enter_code(session, device_server, body["user_code"]),
        back_to_client=lambda loc: loc.startswith(device_server.url("/device/callback")),
        credentials=(ADMIN_EMAIL, ADMIN_PASSWORD),
        chooser="/auth/local",
    )
    code = parse_qs(urlsplit(callback).query)["code"][0]
    resp = requests.post(
        device_server.url("/token"),
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": device_server.url("/device/callback"),
            "client_id": PUBLIC_CLIENT_ID,
        },
        timeout=10,
    )
    assert resp.status_code == 400, resp.text
    assert error_of(resp) == "invalid_grant"
