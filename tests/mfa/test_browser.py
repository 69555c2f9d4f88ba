"""Headless Chromium enrols TOTP on its first login (reading the key off the page and typing the
code an authenticator app would show), then logs in again with a fresh code; the tokens say
two factors were used."""

from __future__ import annotations

import copy
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from dex_py import second_factor
from dex_py.app import create_app
from dex_py.clock import FrozenClock
from dex_py.config.loader import from_dict
from dex_py.jose import tokens
from dex_py.mfa import totp
from dex_py.storage.memory import MemoryStorage
from tests.chromium import CHROMIUM, chromium, serve
from tests.mfa.conftest import ADMIN_KEY
from tests.oauth.conftest import BASE_CONFIG, CLIENT_ID, REDIRECT, auth_params, basic
from tests.services import missing_service

pytestmark = [pytest.mark.browser]


def _login_until_code(page: Any, issuer: str, clock: FrozenClock, secret: str = "") -> str:
    """Log in through the pages: enrol when ``secret`` is not known yet, else type a wrong code
    and then the right one. Returns the authorization code the client gets."""
    page.goto(issuer + "/auth?" + urlencode(auth_params(connector_id="local")))
    page.fill("#login", "admin@example.com")
    page.fill("#password", "password")
    page.locator("#password").press("Enter")
    if not secret:
        page.wait_for_url("**/mfa/enroll?**")
        assert page.locator("#totp-qr svg").count() == 1  # the QR code, drawn server-side
        secret = page.inner_text("#totp-secret").replace(" ", "")
        page.fill("#code", totp.code_at(secret, totp.step_at(clock.now())))
        page.locator("#code").press("Enter")
        page.wait_for_selector("#recovery-codes")
        assert page.locator("#recovery-codes li").count() == 10
        page.click("#continue")
    else:
        page.wait_for_url("**/mfa?**")
        page.fill("#code", "000000")
        page.locator("#code").press("Enter")
        page.wait_for_selector("#code-error")
        page.fill("#code", totp.code_at(secret, totp.step_at(clock.now())))
        page.locator("#code").press("Enter")
    page.wait_for_url("**/approval?**")
    with page.expect_request(REDIRECT + "**") as sent:
        page.click('button[name="approval"][value="approve"]')
    query = parse_qs(urlsplit(sent.value.url).query)
    return query["code"][0]


def test_browser_enrols_totp_then_logs_in_with_it() -> None:
    if not CHROMIUM.exists():
        missing_service("chromium", f"{CHROMIUM} is not installed")
    holder: dict[str, Any] = {}

    def dispatch(environ: dict, start_response: Any) -> Any:
        return holder["app"](environ, start_response)

    with serve(dispatch) as base:
        issuer = base + "/dex"
        config = copy.deepcopy(BASE_CONFIG) | {"issuer": issuer, "mfa": {"required": True}}
        storage, clock = MemoryStorage(), FrozenClock()
        app = create_app(from_dict(config), clock=clock, storage=storage)
        holder["app"] = app
        client = app.test_client()
        with chromium() as browser:
            context = browser.new_context()
            page = context.new_page()
            page.route(REDIRECT + "**", lambda route: route.fulfill(body="client"))
            first = _login_until_code(page, issuer, clock)
            secret = storage.get_mfa_state(ADMIN_KEY).totp_secret
            clock.advance(seconds=totp.STEP_SECONDS)  # the next code
            second_context = browser.new_context()  # another browser: no SSO session
            page2 = second_context.new_page()
            page2.route(REDIRECT + "**", lambda route: route.fulfill(body="client"))
            second = _login_until_code(page2, issuer, clock, secret)
        for code in (first, second):
            body = client.post(
                "/dex/token",
                data={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT},
                headers=basic(),
            ).json
            claims = tokens.verify(
                app.extensions["dex_py"].keys,
                body["id_token"],
                issuer=issuer,
                audience=CLIENT_ID,
                clock=clock,
            )
            assert claims["amr"] == ["pwd", "otp", "mfa"]
            assert claims["acr"] == second_factor.ACR_MFA
