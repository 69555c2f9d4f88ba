"""The console in headless Chromium against a real server process, on SQLite and PostgreSQL
(issue 12, item 6): an admin logs in through the password connector, creates a client and a
login completes with it at once (authlib's client, PKCE), adds a user who then logs in,
revokes that user's everything and their refresh token fails at /token; the user is refused
by the console."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import requests

from tests.admin.browser import (
    confirm,
    log_in,
    need_chromium,
    start_console,
    storage_of,
)
from tests.chromium import chromium
from tests.live import ADMIN_EMAIL, EXAMPLE_REDIRECT_URI, LiveServer, verify_id_token
from tests.login_flow import example_client, pkce_login
from tests.storage.conftest import Namespaces

pytestmark = [pytest.mark.browser, pytest.mark.live]

NEW_EMAIL = "made-in-console@example.com"
NEW_PASSWORD = "a password typed in the console"


@pytest.mark.parametrize("kind", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_console_end_to_end(
    make_live_server: Callable[..., LiveServer],
    console_namespaces: Namespaces,
    kind: str,
) -> None:
    need_chromium()
    server = start_console(make_live_server, storage_of(console_namespaces, kind))
    with chromium() as browser:
        page = browser.new_context().new_page()
        log_in(page, server)
        assert page.inner_text("#admin-name") == ADMIN_EMAIL
        assert page.locator("#version").count() == 1

        # a client made here works at once
        page.click("text=Clients")
        page.click("#new-client")
        page.fill("#f-id", "made-in-console")
        page.fill("#f-name", "Made in the console")
        page.fill("#f-redirect_uris", EXAMPLE_REDIRECT_URI)
        with page.expect_navigation():
            page.click("#save")
        secret = page.inner_text("#client-secret").strip()
        assert len(secret) >= 32
        client = example_client(client_id="made-in-console", client_secret=secret)
        token, nonce = pkce_login(server, client, "openid email", ADMIN_EMAIL, "password")
        claims = verify_id_token(
            server.issuer, token["id_token"], audience="made-in-console", nonce=nonce
        )
        assert claims["email"] == ADMIN_EMAIL

        # a user made here logs in at once
        page.click("text=Users")
        page.click("#new-user")
        page.fill("#f-email", NEW_EMAIL)
        page.fill("#f-username", "made")
        page.fill("#f-password", NEW_PASSWORD)
        page.fill("#f-groups", "ops")
        with page.expect_navigation():
            page.click("#save")
        assert NEW_EMAIL in page.inner_text("#users")
        token, _ = pkce_login(
            server, example_client(), "openid email offline_access", NEW_EMAIL, NEW_PASSWORD
        )
        refresh = token["refresh_token"]

        # revoking the user's everything makes their refresh token fail at /token
        page.click(f"#users tr:has-text('{NEW_EMAIL}') >> text=Sessions")
        assert "Refresh tokens (1)" in page.content()
        page.click("#revoke-user")
        confirm(page)
        assert "Revoked." in page.inner_text("#notice")
        resp = requests.post(
            server.url("/token"),
            data={"grant_type": "refresh_token", "refresh_token": refresh},
            auth=("example-app", "ZXhhbXBsZS1hcHAtc2VjcmV0"),
            timeout=10,
        )
        assert resp.status_code == 400 and resp.json()["error"] == "invalid_grant"

        # the new user is not an admin: refused, on every page
        other = browser.new_context().new_page()
        other.goto(server.url("/admin"))
        other.wait_for_url(server.url("/auth") + "**")
        other.click('a[href*="/auth/local"]')
        other.fill("#login", NEW_EMAIL)
        other.fill("#password", NEW_PASSWORD)
        with other.expect_navigation(url=server.url("/admin")):
            other.locator("#password").press("Enter")
        assert "You are not an admin" in other.content()
        resp = other.goto(server.url("/admin/clients/new"))
        assert resp is not None and resp.status == 403
        assert resp.headers["cache-control"] == "no-store"

        # the audit log shows what the admin did
        page.goto(server.url("/admin/audit?actor=console:" + ADMIN_EMAIL))
        audit = page.inner_text("#audit")
        for action in ("client.create", "user.create", "session.revoke_user"):
            assert action in audit
