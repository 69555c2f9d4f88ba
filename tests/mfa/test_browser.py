"""Headless Chromium enrols TOTP on its first login (reading the key off the page and typing the
code an authenticator app would show), then logs in again with a fresh code; the tokens say
two factors were used."""

from __future__ import annotations

from typing import Any

import pytest

from dex_py import second_factor
from dex_py.mfa import totp
from tests.mfa.browser import Issuer, approve, browser_and_issuer, password_login
from tests.mfa.conftest import ADMIN_KEY

pytestmark = [pytest.mark.browser]


def _login_until_code(page: Any, issuer: Issuer, secret: str = "") -> str:
    """Log in through the pages: enrol when ``secret`` is not known yet, else type a wrong code
    and then the right one. Returns the authorization code the client gets."""
    password_login(page, issuer)
    now = issuer.clock.now()
    if not secret:
        page.wait_for_url("**/mfa/enroll?**")
        assert page.locator("#totp-qr img").count() == 1  # the QR code, drawn server-side
        secret = page.inner_text("#totp-secret").replace(" ", "")
        page.fill("#code", totp.code_at(secret, totp.step_at(now)))
        page.locator("#code").press("Enter")
        page.wait_for_selector("#recovery-codes")
        assert page.locator("#recovery-codes li").count() == 10
        page.click("#continue")
    else:
        page.wait_for_url("**/mfa?**")
        page.fill("#code", "000000")
        page.locator("#code").press("Enter")
        page.wait_for_selector("#code-error")
        page.fill("#code", totp.code_at(secret, totp.step_at(now)))
        page.locator("#code").press("Enter")
    return approve(page)


def test_browser_enrols_totp_then_logs_in_with_it() -> None:
    with browser_and_issuer(mfa={"required": True}) as (browser, issuer):
        first = _login_until_code(issuer.new_page(browser), issuer)
        secret = issuer.storage.get_mfa_state(ADMIN_KEY).totp_secret
        issuer.clock.advance(seconds=totp.STEP_SECONDS)  # the next code
        # another browser context: no SSO session
        second = _login_until_code(issuer.new_page(browser), issuer, secret)
        for code in (first, second):
            claims = issuer.id_token_claims(code)
            assert claims["amr"] == ["pwd", "otp", "mfa"]
            assert claims["acr"] == second_factor.ACR_MFA
