"""Headless Chromium with a virtual authenticator (DevTools ``WebAuthn.addVirtualAuthenticator``
through Playwright's CDP session) registers a passkey on the self-service page, then logs in
with it; the ID token says a key was used, and the signature counter was stored."""

from __future__ import annotations

import pytest

from tests.mfa.browser import approve, browser_and_issuer, password_login
from tests.mfa.conftest import ADMIN_KEY

pytestmark = [pytest.mark.browser]

AUTHENTICATOR = {
    "protocol": "ctap2",
    "transport": "internal",
    "hasResidentKey": True,
    "hasUserVerification": True,
    "isUserVerified": True,
}


def test_browser_registers_a_passkey_and_logs_in_with_it() -> None:
    # WebAuthn needs a domain as relying party id, not an IP address: localhost
    with browser_and_issuer(host="localhost") as (browser, issuer):
        page = issuer.new_page(browser)
        cdp = page.context.new_cdp_session(page)
        cdp.send("WebAuthn.enable")
        cdp.send("WebAuthn.addVirtualAuthenticator", {"options": AUTHENTICATOR})
        password_login(page, issuer)
        approve(page)  # no second factor yet: an SSO session with the password
        page.goto(issuer.url + "/mfa/manage")
        page.fill("#passkey-name", "virtual key")
        page.click("#add-passkey")
        page.wait_for_selector(".passkey-name")
        assert page.inner_text(".passkey-name") == "virtual key"
        assert page.locator("#recovery-codes li").count() == 10  # the first factor's codes
        (registered,) = issuer.storage.get_mfa_state(ADMIN_KEY).webauthn_credentials
        password_login(page, issuer, prompt="login")
        page.wait_for_url("**/mfa?**")
        page.click("#use-passkey")
        claims = issuer.id_token_claims(approve(page))
    assert claims["amr"][0] == "pwd" and claims["amr"][-1] == "mfa"
    assert claims["amr"][1] in ("hwk", "swk")
    (used,) = issuer.storage.get_mfa_state(ADMIN_KEY).webauthn_credentials
    assert used.id == registered.id and used.sign_count > registered.sign_count
