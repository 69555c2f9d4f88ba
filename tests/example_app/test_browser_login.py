"""Headless Chromium logs in through the example app and the live issuer's password connector."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from dex_py.example_app import create_example_app
from tests.chromium import CHROMIUM, chromium, serve
from tests.live import (
    ADMIN_EMAIL,
    ADMIN_GROUPS,
    ADMIN_PASSWORD,
    EXAMPLE_CLIENT_ID,
    EXAMPLE_CLIENT_SECRET,
)
from tests.services import missing_service

pytestmark = [pytest.mark.browser, pytest.mark.live]


@contextmanager
def serve_example_app(app_holder: dict[str, Any]) -> Iterator[str]:
    """Serve the example app in a thread on a free port; the app itself is built later (its
    redirect URI needs the port), so the server dispatches to ``app_holder["app"]``."""

    def dispatch(environ: dict, start_response: Any) -> Any:
        return app_holder["app"](environ, start_response)

    with serve(dispatch) as url:
        yield url


def test_browser_logs_in_through_example_app(make_live_server):
    if not CHROMIUM.exists():
        missing_service("chromium", f"{CHROMIUM} is not installed")
    holder: dict[str, Any] = {}
    with serve_example_app(holder) as app_url:
        redirect_uri = f"{app_url}/callback"
        issuer = make_live_server(redirect_uris=[redirect_uri])
        holder["app"] = create_example_app(
            issuer.issuer, EXAMPLE_CLIENT_ID, EXAMPLE_CLIENT_SECRET, redirect_uri
        )
        with chromium() as browser:
            page = browser.new_page()
            page.goto(app_url + "/")
            page.check("#scope-groups")
            page.click("#login")
            page.wait_for_url(issuer.url("/auth") + "**")
            page.click('a[href*="/auth/local"]')
            page.fill("#login", ADMIN_EMAIL)
            page.fill("#password", ADMIN_PASSWORD)
            page.locator("#password").press("Enter")
            page.wait_for_url(issuer.url("/approval") + "**")
            page.click('button[name="approval"][value="approve"]')
            page.wait_for_url(redirect_uri + "**")
            claims = json.loads(page.inner_text("#claims"))
    assert claims["email"] == ADMIN_EMAIL
    assert set(ADMIN_GROUPS) <= set(claims["groups"])
    assert claims["aud"] in (EXAMPLE_CLIENT_ID, [EXAMPLE_CLIENT_ID])
