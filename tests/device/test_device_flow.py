"""The device authorization grant (RFC 8628) against a live dex-py, over HTTP: the device's
requests to ``/device/code`` and ``/token``, the user's browser at ``/device`` through the normal
password login and approval page. Each protection is exercised so that removing it fails a test.
"""

from __future__ import annotations

import re
import time

import pytest
import requests

from dex_py.config import DEVICE_CODE_GRANT
from tests.device.conftest import (
    browser_login,
    error_of,
    poll,
    start,
)
from tests.live import (
    ADMIN_EMAIL,
    PUBLIC_CLIENT_ID,
    LiveServer,
    verify_token_response,
)

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
    refreshed = requests.post(
        device_server.url("/token"),
        data={
            "grant_type": "refresh_token",
            "refresh_token": token["refresh_token"],
            "client_id": PUBLIC_CLIENT_ID,
        },
        timeout=10,
    )
    assert refreshed.status_code == 200, refreshed.text

    # single use: the device code is spent
    wait_interval(time.monotonic() - INTERVAL)
    again = poll(device_server, body["device_code"])
    assert again.status_code == 400
    assert error_of(again) == "invalid_grant"
