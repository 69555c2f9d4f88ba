"""Factories for in-process tests of the OAuth endpoints: an app on memory storage with a
frozen clock, and a tiny browser that drives the login pages."""

from __future__ import annotations

import base64
import copy
import hashlib
import re
import secrets
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient

from dex_py.app import create_app
from dex_py.clock import FrozenClock
from dex_py.config.loader import from_dict
from dex_py.storage.memory import MemoryStorage

ISSUER = "http://127.0.0.1:5556/dex"
CLIENT_ID = "example-app"
CLIENT_SECRET = "ZXhhbXBsZS1hcHAtc2VjcmV0"
REDIRECT = "http://127.0.0.1:5555/callback"
ADMIN_HASH = "$2a$10$2b2cU8CPhOTaGrs1HRQuAueS7JTT5ZHsHSzYiFPm1leZck7Mc8T4W"  # "password"

BASE_CONFIG: dict[str, Any] = {
    "issuer": ISSUER,
    "storage": {"type": "memory"},
    "web": {"http": "127.0.0.1:5556"},
    "oauth2": {"passwordConnector": "local"},
    "staticClients": [
        {
            "id": CLIENT_ID,
            "secret": CLIENT_SECRET,
            "name": "Example App",
            "redirectURIs": [REDIRECT],
        },
        {"id": "public-cli", "name": "CLI", "public": True},
        {
            "id": "peer-app",
            "secret": "peer-secret-peer-secret",
            "redirectURIs": ["http://127.0.0.1:5999/cb"],
            "trustedPeers": [CLIENT_ID],
        },
    ],
    "connectors": [{"type": "mockCallback", "id": "mock", "name": "Example"}],
    "enablePasswordDB": True,
    "staticPasswords": [
        {
            "email": "admin@example.com",
            "hash": ADMIN_HASH,
            "username": "admin",
            "userID": "08a8684b-db88-4b73-90a9-3cd1661f5466",
            "groups": ["admins"],
        }
    ],
}


def merge(base: dict, overrides: dict) -> dict:
    out = copy.deepcopy(base)
    for k, v in overrides.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


class App:
    """An app under test plus what it was built from."""

    def __init__(self, flask_app: Flask, storage: MemoryStorage, clock: FrozenClock) -> None:
        self.flask = flask_app
        self.storage = storage
        self.clock = clock
        self.svc = flask_app.extensions["dex_py"]

    def client(self) -> FlaskClient:
        return self.flask.test_client()


@pytest.fixture
def make_app() -> Callable[..., App]:
    def factory(**overrides: Any) -> App:
        config = from_dict(merge(BASE_CONFIG, overrides))
        storage = MemoryStorage()
        clock = FrozenClock()
        return App(create_app(config, clock=clock, storage=storage), storage, clock)

    return factory


@pytest.fixture
def app(make_app: Callable[..., App]) -> App:
    return make_app()


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    return verifier, challenge.rstrip(b"=").decode()


def path_of(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def hidden(html: str, name: str) -> str:
    m = re.search(rf'name="{name}"[^>]*value="([^"]*)"', html) or re.search(
        rf'value="([^"]*)"[^>]*name="{name}"', html
    )
    assert m, f"no hidden input {name}"
    return m.group(1)


def auth_params(**overrides: str) -> dict[str, str]:
    params = {
        "client_id": CLIENT_ID,
        "redirect_uri": REDIRECT,
        "response_type": "code",
        "scope": "openid email profile groups offline_access",
        "state": "st-" + secrets.token_hex(4),
        "nonce": "n-" + secrets.token_hex(4),
    }
    params.update(overrides)
    return {k: v for k, v in params.items() if v is not None}


def authorize(browser: FlaskClient, **params: str) -> Any:
    """GET /auth with ``auth_params(**params)``."""
    return browser.get("/dex/auth?" + urlencode(auth_params(**params)))


def open_password_form(browser: FlaskClient, params: dict[str, str]) -> tuple[str, str]:
    """GET /auth, pick the password connector, follow redirects to the form: (url, html)."""
    resp = browser.get("/dex/auth?" + urlencode(params))
    if resp.status_code == 200:  # connector chooser
        m = re.search(r'href="([^"]*/auth/local\?[^"]*)"', resp.get_data(as_text=True))
        assert m, "chooser has no link to the password connector"
        resp = browser.get(path_of(m.group(1).replace("&amp;", "&")))
    form_url = ""
    while resp.status_code == 302:
        form_url = path_of(resp.headers["Location"])
        resp = browser.get(form_url)
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "/login?" in form_url, html
    return form_url, html


def submit_password(
    browser: FlaskClient, form_url: str, html: str, email: str, password: str
) -> Any:
    return browser.post(
        form_url,
        data={"login": email, "password": password, "csrf_token": hidden(html, "csrf_token")},
    )


def approve_page(browser: FlaskClient, approval_url: str, approve: bool = True) -> Any:
    html = browser.get(path_of(approval_url)).get_data(as_text=True)
    return browser.post(
        "/dex/approval",
        data={
            "req": hidden(html, "req"),
            "csrf_token": hidden(html, "csrf_token"),
            "approval": "approve" if approve else "rejected",
        },
    )


def login_password(
    browser: FlaskClient,
    params: dict[str, str],
    *,
    email: str = "admin@example.com",
    password: str = "password",
    approve: bool = True,
) -> Any:
    """Drive /auth -> /auth/local -> password form -> approval; return the final response."""
    form_url, html = open_password_form(browser, params)
    resp = submit_password(browser, form_url, html, email, password)
    if resp.status_code != 303 or "/approval?" not in resp.headers["Location"]:
        return resp
    return approve_page(browser, resp.headers["Location"], approve)


def redirect_status(resp: Any) -> int:
    """The status a redirect must have: 303 See Other answering a POST (RFC 9700 §4.12.2)."""
    return 303 if resp.request.method == "POST" else 302


def code_from(resp: Any) -> dict[str, str]:
    assert resp.status_code == redirect_status(resp), resp.get_data(as_text=True)
    location = resp.headers["Location"]
    assert location.startswith(REDIRECT) or location.startswith("http://127.0.0.1"), location
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def basic(client_id: str = CLIENT_ID, secret: str = CLIENT_SECRET) -> dict[str, str]:
    token = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def redeem(browser: FlaskClient, code: str, *, verifier: str | None = None, **extra: str) -> Any:
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT}
    if verifier:
        data["code_verifier"] = verifier
    data.update(extra)
    return browser.post("/dex/token", data=data, headers=basic())


def snapshot(storage: MemoryStorage) -> dict[str, dict]:
    """Everything the memory backend holds, to assert a request changed nothing."""
    from dex_py.storage.memory_table import Table

    return {
        name: dict(table.rows) for name, table in vars(storage).items() if isinstance(table, Table)
    }
