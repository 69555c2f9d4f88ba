"""Headless Chromium logs in to a live dex-py through the ``oidc`` connector: dex-py sends the
browser to the REAL upstream's login and consent pages, the upstream sends it back to dex-py's
``/callback``, the user approves, and the client gets a code whose ID token carries the upstream
groups."""

from __future__ import annotations

import secrets
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.chromium import CHROMIUM, chromium
from tests.connectors.oidc.conftest import Upstream
from tests.live import EXAMPLE_CLIENT_ID, EXAMPLE_REDIRECT_URI, LiveServer, verify_id_token
from tests.login_flow import example_client
from tests.services import missing_service

pytestmark = [pytest.mark.browser, pytest.mark.live, pytest.mark.slow]


def test_browser_login_through_upstream_oidc(oidc_dex: LiveServer, upstream: Upstream) -> None:
    if not CHROMIUM.exists():
        missing_service("chromium", f"{CHROMIUM} is not installed")
    from playwright.sync_api import Route

    client = example_client("openid profile email groups offline_access")
    nonce = secrets.token_urlsafe(12)
    authorize_url, state = client.create_authorization_url(oidc_dex.url("/auth"), nonce=nonce)
    landed: list[str] = []

    def client_callback(route: Route) -> None:
        # Nothing listens on the example client's redirect URI: answer for it.
        landed.append(route.request.url)
        route.fulfill(status=200, content_type="text/html", body="<p id=done>signed in</p>")

    with chromium() as browser:
        page = browser.new_page()
        page.set_default_timeout(60_000)  # generous: CI machines run other suites too
        page.route(EXAMPLE_REDIRECT_URI + "**", client_callback)
        page.goto(authorize_url)
        # dex-py has one connector, so it goes straight to the upstream's login page.
        page.wait_for_url(upstream.issuer + "/interaction/**")
        page.fill('input[name="login"]', "alice")
        page.fill('input[name="password"]', "anything")
        page.click("button[type=submit]")
        # offline_access makes dex-py ask the upstream with prompt=consent.
        page.wait_for_selector('input[name="prompt"][value="consent"]', state="attached")
        page.click("button[type=submit]")
        page.wait_for_url(oidc_dex.url("/approval") + "**")
        assert "Example App" in page.content()
        page.click('button[name="approval"][value="approve"]')
        page.wait_for_selector("#done")

    assert len(landed) == 1
    query = parse_qs(urlsplit(landed[0]).query)
    assert query["state"] == [state]
    token = client.fetch_token(oidc_dex.url("/token"), authorization_response=landed[0])
    claims = verify_id_token(
        oidc_dex.issuer, token["id_token"], audience=EXAMPLE_CLIENT_ID, nonce=nonce
    )
    assert claims["email"] == "alice@upstream.example.org"
    assert set(claims["groups"]) == {"upstream-admins", "upstream-devs"}
    assert token.get("refresh_token")
