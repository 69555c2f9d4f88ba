"""What the MFA browser tests share: an issuer on a free local port (in-process storage and a
frozen clock, so the test computes the codes an app would show), the client's redirect answered
in the browser, and the ID token of a code redeemed in process."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from flask import Flask

from dex_py.app import create_app
from dex_py.clock import FrozenClock
from dex_py.config.loader import from_dict
from dex_py.jose import tokens
from dex_py.storage.memory import MemoryStorage
from tests.chromium import CHROMIUM, chromium, serve
from tests.oauth.conftest import BASE_CONFIG, CLIENT_ID, REDIRECT, auth_params, basic
from tests.services import missing_service


@dataclass
class Issuer:
    url: str
    app: Flask
    storage: MemoryStorage
    clock: FrozenClock

    def new_page(self, browser: Any) -> Any:
        """A page in a fresh browser context (no cookies) whose visits to the client's redirect
        URI are answered without a server."""
        page = browser.new_context().new_page()
        page.route(REDIRECT + "**", lambda route: route.fulfill(body="client"))
        return page

    def id_token_claims(self, code: str) -> dict[str, Any]:
        body = (
            self.app.test_client()
            .post(
                "/dex/token",
                data={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT},
                headers=basic(),
            )
            .json
        )
        keys = self.app.extensions["dex_py"].keys
        return tokens.verify(
            keys, body["id_token"], issuer=self.url, audience=CLIENT_ID, clock=self.clock
        )


@contextmanager
def browser_and_issuer(host: str = "127.0.0.1", **overrides: Any) -> Iterator[tuple[Any, Issuer]]:
    """Chromium and an issuer at ``http://<host>:<port>/dex`` with ``overrides`` on the test
    config."""
    if not CHROMIUM.exists():
        missing_service("chromium", f"{CHROMIUM} is not installed")
    holder: dict[str, Any] = {}

    def dispatch(environ: dict, start_response: Any) -> Any:
        return holder["app"](environ, start_response)

    with serve(dispatch) as base:
        url = base.replace("127.0.0.1", host) + "/dex"
        config = copy.deepcopy(BASE_CONFIG) | {"issuer": url, **overrides}
        storage, clock = MemoryStorage(), FrozenClock()
        app = create_app(from_dict(config), clock=clock, storage=storage)
        holder["app"] = app
        with chromium() as browser:
            yield browser, Issuer(url, app, storage, clock)


def password_login(page: Any, issuer: Issuer, **params: str) -> None:
    page.goto(issuer.url + "/auth?" + urlencode(auth_params(connector_id="local", **params)))
    page.fill("#login", "admin@example.com")
    page.fill("#password", "password")
    page.locator("#password").press("Enter")


def approve(page: Any) -> str:
    """Approve on the approval page; the code the client gets."""
    page.wait_for_url("**/approval?**")
    with page.expect_request(REDIRECT + "**") as sent:
        page.click('button[name="approval"][value="approve"]')
    page.wait_for_url(REDIRECT + "**")
    return parse_qs(urlsplit(sent.value.url).query)["code"][0]
