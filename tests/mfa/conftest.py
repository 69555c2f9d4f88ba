"""In-process fixtures for the second-factor step: the OAuth test app (tests/oauth/conftest.py)
plus a browser helper that logs in with a password and lands on the ``/mfa`` pages."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

from flask.testing import FlaskClient

from dex_py import second_factor
from dex_py.mfa import totp
from dex_py.storage.base import MFAState
from tests.oauth.conftest import (  # noqa: F401  (fixtures)
    CLIENT_ID,
    ISSUER,
    App,
    app,
    auth_params,
    basic,
    code_from,
    hidden,
    make_app,
    open_password_form,
    path_of,
    redeem,
    submit_password,
)

ADMIN_ID = "08a8684b-db88-4b73-90a9-3cd1661f5466"
ADMIN_KEY = second_factor.user_key_of(ADMIN_ID, "local")


@dataclass
class Step:
    """The browser on an ``/mfa`` page: where, the HTML, its auth request id."""

    url: str
    html: str
    req: str


def password_login(browser: FlaskClient, params: dict[str, str] | None = None) -> Any:
    form_url, html = open_password_form(browser, params or auth_params())
    return submit_password(browser, form_url, html, "admin@example.com", "password")


def to_mfa_page(browser: FlaskClient, params: dict[str, str] | None = None) -> Step:
    """Log in with the password and follow the redirects to the /mfa or /mfa/enroll page."""
    resp = password_login(browser, params)
    assert resp.status_code == 303, resp.get_data(as_text=True)
    url = path_of(resp.headers["Location"])
    assert url.startswith("/dex/mfa?"), url
    resp = browser.get(url)
    while resp.status_code in (302, 303):
        url = path_of(resp.headers["Location"])
        resp = browser.get(url)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    req = parse_qs(urlsplit(url).query)["req"][0]
    return Step(url, resp.get_data(as_text=True), req)


def post_code(browser: FlaskClient, step: Step, code: str, csrf: str | None = None) -> Any:
    token = hidden(step.html, "csrf_token") if csrf is None else csrf
    return browser.post(step.url, data={"code": code, "csrf_token": token})


def shown_secret(html: str) -> str:
    m = re.search(r'id="totp-secret">([A-Z2-7 ]+)<', html)
    assert m, "no TOTP secret on the page"
    return m.group(1).replace(" ", "")


def shown_recovery_codes(html: str) -> list[str]:
    return re.findall(r"<li><code>([a-z2-9]{5}-[a-z2-9]{5})</code></li>", html)


def code_now(dex: App, secret: str, steps: int = 0) -> str:
    """The code an authenticator dex shows now (``steps`` away from the current step)."""
    return totp.code_at(secret, totp.step_at(dex.clock.now()) + steps)


def enroll(dex: App, browser: FlaskClient, params: dict[str, str] | None = None) -> tuple[Any, str]:
    """A first login that enrols TOTP; returns (the recovery codes page, the secret)."""
    step = to_mfa_page(browser, params)
    assert step.url.startswith("/dex/mfa/enroll?"), step.url
    secret = shown_secret(step.html)
    resp = post_code(browser, step, code_now(dex, secret))
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return resp, secret


def enrolled_state(dex: App, secret: str = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP") -> MFAState:
    """Give the admin user a confirmed TOTP secret (and two recovery codes) in storage."""
    from dex_py.mfa import recovery

    state = MFAState(
        id=ADMIN_KEY,
        totp_secret=secret,
        totp_confirmed=True,
        recovery_code_hashes=(recovery.digest("aaaaa-bbbbb"), recovery.digest("ccccc-ddddd")),
    )
    dex.storage.create_mfa_state(state)
    return state


def finish(browser: FlaskClient, resp: Any) -> Any:
    """Follow a passed second factor to the client: /approval (approve if shown)."""
    while resp.status_code in (302, 303) and "/dex/" in resp.headers["Location"]:
        resp = browser.get(path_of(resp.headers["Location"]))
    if resp.status_code == 200 and 'name="approval"' in resp.get_data(as_text=True):
        html = resp.get_data(as_text=True)
        resp = browser.post(
            "/dex/approval",
            data={
                "req": hidden(html, "req"),
                "csrf_token": hidden(html, "csrf_token"),
                "approval": "approve",
            },
        )
    return resp


def step_later(dex: App, steps: int = 1) -> None:
    dex.clock.advance(timedelta(seconds=totp.STEP_SECONDS * steps))
