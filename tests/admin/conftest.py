"""In-process fixtures for the admin console: the OAuth test app (tests/oauth/conftest.py)
with an ``admin`` section, a second local user who is not an admin, and ``console_login``,
which logs a browser in to the console the way a person does (``/admin`` -> ``/admin/login``
-> ``/auth`` -> password form -> ``/admin/callback`` -> ``/admin``)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask.testing import FlaskClient

from tests.oauth.conftest import (  # noqa: F401  (fixtures)
    ADMIN_HASH,
    BASE_CONFIG,
    App,
    hidden,
    make_app,
    path_of,
)
from tests.storage.conftest import Namespaces

ADMIN_EMAIL = "admin@example.com"
USER_EMAIL = "user@example.com"
USER_ID = "5a0c3d55-1d4b-4f0e-8a52-6a3c0e1e7d10"
PASSWORD = "password"

ADMIN_CONFIG: dict[str, Any] = {
    "admin": {"emails": [ADMIN_EMAIL]},
    "staticPasswords": [
        *BASE_CONFIG["staticPasswords"],
        {
            "email": USER_EMAIL,
            "hash": ADMIN_HASH,
            "username": "user",
            "userID": USER_ID,
            "groups": ["staff"],
        },
    ],
}


@pytest.fixture(scope="session")
def console_namespaces(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Namespaces]:
    """Fresh databases for the live servers of the browser tests (dropped at the end)."""
    ns = Namespaces(tmp_path_factory.mktemp("console-storage"))
    yield ns
    ns.drop_all()


@pytest.fixture
def make_console(make_app: Callable[..., App]) -> Callable[..., App]:  # noqa: F811
    def factory(**overrides: Any) -> App:
        return make_app(**{**ADMIN_CONFIG, **overrides})

    return factory


@pytest.fixture
def console(make_console: Callable[..., App]) -> App:
    return make_console()


def follow(browser: FlaskClient, resp: Any) -> Any:
    """Follow redirects inside the issuer until a page (or a redirect leaving it)."""
    for _ in range(12):
        if resp.status_code not in (302, 303):
            return resp
        location = resp.headers["Location"]
        inside = location.startswith("/") and not location.startswith("//")
        if not (inside or location.startswith("http://127.0.0.1:5556/")):
            return resp
        resp = browser.get(path_of(location))
    raise AssertionError("too many redirects")


def password_form(browser: FlaskClient, start: str = "/dex/admin") -> Any:
    """From ``start`` through ``/admin/login`` and ``/auth`` to the password form."""
    resp = follow(browser, browser.get(start))
    html = resp.get_data(as_text=True)
    if resp.status_code == 200 and "/auth/local" in html:  # the connector chooser
        m = re.search(r'href="([^"]*/auth/local\?[^"]*)"', html)
        assert m, html
        resp = follow(browser, browser.get(path_of(m.group(1).replace("&amp;", "&"))))
        html = resp.get_data(as_text=True)
    assert resp.status_code == 200 and 'name="password"' in html, html
    return resp


def submit_password(browser: FlaskClient, form: Any, email: str, password: str) -> Any:
    html = form.get_data(as_text=True)
    return browser.post(
        path_of(form.request.url),
        data={"login": email, "password": password, "csrf_token": hidden(html, "csrf_token")},
    )


def console_login(
    browser: FlaskClient, email: str = ADMIN_EMAIL, password: str = PASSWORD, *, start: str = ""
) -> Any:
    """Log ``browser`` in to the console; returns the page it lands on."""
    form = password_form(browser, start or "/dex/admin")
    return follow(browser, submit_password(browser, form, email, password))


def csrf_of(html: str, action: str) -> str:
    """The CSRF token of the form posting to ``action``."""
    target = re.escape(action.replace("&", "&amp;"))
    m = re.search(
        rf'<form[^>]*action="{target}"[^>]*>.*?name="csrf_token" value="([^"]*)"', html, re.S
    )
    assert m, f"no form posting to {action}"
    return m.group(1)


def page_path(resp: Any) -> str:
    return urlsplit(resp.request.url).path
