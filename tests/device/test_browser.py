"""The device flow through a real headless Chromium: the user types the code shown by the device
at ``/device``, logs in with the password database, approves, and lands on "you may close this
window"; the device's poll then gets the tokens."""

from __future__ import annotations

import pytest

from tests.chromium import CHROMIUM, chromium
from tests.device.conftest import poll, start
from tests.live import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    PUBLIC_CLIENT_ID,
    LiveServer,
    verify_token_response,
)
from tests.services import missing_service

pytestmark = [pytest.mark.browser, pytest.mark.live]


def test_device_login_in_chromium(device_server: LiveServer) -> None:
    if not CHROMIUM.exists():
        missing_service("chromium", f"{CHROMIUM} is not installed")
    body = start(device_server)
    with chromium() as browser:
        page = browser.new_page()
        page.set_default_timeout(60_000)
        page.goto(body["verification_uri"])
        # typed as a person might: lower case, no dash
        page.fill("#user_code", body["user_code"].replace("-", "").lower())
        page.click("#submit-code")
        page.click('a[href*="/auth/local"]')  # the connector chooser of the normal login
        page.fill("#login", ADMIN_EMAIL)
        page.fill("#password", ADMIN_PASSWORD)
        page.click("#submit-login")
        page.wait_for_url(device_server.url("/approval") + "**")
        assert "Public CLI" in page.content()
        page.click('button[name="approval"][value="approve"]')
        page.wait_for_selector("#device-approved")
        assert "close this window" in page.content()
    resp = poll(device_server, body["device_code"])
    assert resp.status_code == 200, resp.text
    claims = verify_token_response(device_server.issuer, resp.json(), audience=PUBLIC_CLIENT_ID)
    assert claims["email"] == ADMIN_EMAIL
