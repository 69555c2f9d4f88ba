"""Factories for in-process tests of the admin API: an app on memory storage with a frozen
clock, the admin API client ``automation`` (listed in ``admin.clients``) and the ordinary
client_credentials client ``machine`` (not listed), and an ``Api`` helper that gets real tokens
from ``/token`` and calls the API with them."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import pytest
from werkzeug.test import TestResponse

from tests.oauth.conftest import BASE_CONFIG, App
from tests.oauth.conftest import make_app as make_app  # the fixture, re-exported

API = "/dex/admin/api/v1"
ADMIN_SCOPE = "dex-py:admin"
ADMIN_ID = "automation"
ADMIN_SECRET = "automation-secret-automation-secret"
MACHINE_ID = "machine"
MACHINE_SECRET = "machine-secret-machine-secret"
PW_ADMIN_ID = "pw-admin"
PW_ADMIN_SECRET = "pw-admin-secret-pw-admin-secret"
PROBLEM = "application/problem+json"

API_CLIENTS: list[dict[str, Any]] = [
    {"id": ADMIN_ID, "secret": ADMIN_SECRET, "grantTypes": ["client_credentials"]},
    {"id": MACHINE_ID, "secret": MACHINE_SECRET, "grantTypes": ["client_credentials"]},
    # listed as an admin client, but without client_credentials (the usual grants only)
    {"id": PW_ADMIN_ID, "secret": PW_ADMIN_SECRET},
]


def admin_overrides(**extra: Any) -> dict[str, Any]:
    return {
        "oauth2": {
            "grantTypes": ["authorization_code", "refresh_token", "password", "client_credentials"],
            "passwordConnector": "local",
        },
        "staticClients": [*BASE_CONFIG["staticClients"], *API_CLIENTS],
        "admin": {"clients": [ADMIN_ID, PW_ADMIN_ID]},
        **extra,
    }


def basic(client_id: str, secret: str) -> dict[str, str]:
    token = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


class Api:
    """The app under test, seen by an automation client."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.http = app.client()
        self._token = ""

    def token_response(
        self, client_id: str = ADMIN_ID, secret: str = ADMIN_SECRET, **form: str
    ) -> TestResponse:
        data = {"grant_type": "client_credentials", "scope": ADMIN_SCOPE, **form}
        return self.http.post("/dex/token", data=data, headers=basic(client_id, secret))

    def token(self, client_id: str = ADMIN_ID, secret: str = ADMIN_SECRET, **form: str) -> str:
        resp = self.token_response(client_id, secret, **form)
        assert resp.status_code == 200, resp.get_json()
        token: str = resp.get_json()["access_token"]
        return token

    @property
    def admin_token(self) -> str:
        if not self._token:
            self._token = self.token()
        return self._token

    def call(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        json: Any = None,
        headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> TestResponse:
        all_headers = {"Authorization": f"Bearer {token or self.admin_token}", **(headers or {})}
        if token == "":
            all_headers.pop("Authorization")
        return self.http.open(API + path, method=method, json=json, headers=all_headers, **kwargs)

    def get(self, path: str, **kwargs: Any) -> TestResponse:
        return self.call("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> TestResponse:
        return self.call("POST", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> TestResponse:
        return self.call("PUT", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> TestResponse:
        return self.call("PATCH", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> TestResponse:
        return self.call("DELETE", path, **kwargs)


def assert_problem(resp: TestResponse, status: int, type_suffix: str = "") -> dict[str, Any]:
    """``resp`` is an RFC 9457 problem with ``status``; returns its body."""
    assert resp.status_code == status, resp.get_data(as_text=True)
    assert resp.mimetype == PROBLEM
    assert resp.headers["Cache-Control"] == "no-store"
    body: dict[str, Any] = resp.get_json(force=True)
    assert body["status"] == status
    assert isinstance(body["title"], str) and body["title"]
    assert isinstance(body["detail"], str) and body["detail"]
    if type_suffix:
        assert body["type"] == f"urn:dex-py:problem:{type_suffix}", body
    assert "Traceback" not in resp.get_data(as_text=True)
    return body


@pytest.fixture
def make_api(make_app: Callable[..., App]) -> Callable[..., Api]:
    def factory(**overrides: Any) -> Api:
        return Api(make_app(**admin_overrides(**overrides)))

    return factory


@pytest.fixture
def api(make_api: Callable[..., Api]) -> Api:
    return make_api()
