"""The admin API on a real ``dex-py serve`` (two workers) over SQLite and PostgreSQL, with a real
token from ``/token``: a client and a user created over the API work at once for a code-flow
login, ETags guard changes, a user's refresh tokens are revoked, keys rotate, the audit log
names the API client, and a request without the admin token reaches nothing."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from dex_py.jose.tokens import encode_sub
from tests.live import EXAMPLE_REDIRECT_URI, LiveServer, default_config, verify_id_token
from tests.login_flow import example_client, pkce_login
from tests.storage.conftest import Namespaces

pytestmark = pytest.mark.live

ADMIN_ID = "automation"
ADMIN_SECRET = "automation-secret-automation-secret"
OTHER_ID = "machine"
OTHER_SECRET = "machine-secret-machine-secret"
CONFIG: dict[str, Any] = {
    "oauth2": {
        "grantTypes": ["authorization_code", "refresh_token", "client_credentials"],
        "skipApprovalScreen": True,
    },
    "admin": {"clients": [ADMIN_ID]},
}
CLIENTS = [
    {"id": ADMIN_ID, "secret": ADMIN_SECRET, "grantTypes": ["client_credentials"]},
    {"id": OTHER_ID, "secret": OTHER_SECRET, "grantTypes": ["client_credentials"]},
]


@pytest.fixture
def namespaces(tmp_path: Path) -> Iterator[Namespaces]:
    ns = Namespaces(tmp_path)
    yield ns
    ns.drop_all()


class LiveApi:
    def __init__(self, server: LiveServer) -> None:
        self.server = server
        self.base = server.issuer + "/admin/api/v1"
        self.http = requests.Session()
        self.token = self.get_token(ADMIN_ID, ADMIN_SECRET, "dex-py:admin")
        self.http.headers["Authorization"] = f"Bearer {self.token}"

    def get_token(self, client_id: str, secret: str, scope: str) -> str:
        resp = requests.post(
            self.server.issuer + "/token",
            data={"grant_type": "client_credentials", "scope": scope},
            auth=(client_id, secret),
            timeout=10,
        )
        assert resp.status_code == 200, resp.text
        token: str = resp.json()["access_token"]
        return token

    def __call__(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        return self.http.request(method, self.base + path, timeout=30, **kwargs)


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_the_api_on_a_real_server(
    make_live_server: Callable[..., LiveServer], namespaces: Namespaces, backend: str
) -> None:
    storage = namespaces.create(backend)
    server = make_live_server(
        {**CONFIG, "staticClients": _static_clients()},
        storage={"type": storage.type, "config": storage.config},
    )
    api = LiveApi(server)

    # nothing without the admin token
    assert requests.get(api.base + "/clients", timeout=10).status_code == 401
    other = api.get_token(OTHER_ID, OTHER_SECRET, "")
    refused = requests.get(
        api.base + "/clients", headers={"Authorization": f"Bearer {other}"}, timeout=10
    )
    assert refused.status_code == 403
    assert refused.headers["Content-Type"] == "application/problem+json"
    asked = requests.post(
        server.issuer + "/token",
        data={"grant_type": "client_credentials", "scope": "dex-py:admin"},
        auth=(OTHER_ID, OTHER_SECRET),
        timeout=10,
    )
    assert asked.status_code == 400 and asked.json()["error"] == "invalid_scope"

    # a client created over the API logs a user in at once (on whichever worker)
    created = api(
        "POST",
        "/clients",
        json={"id": "live-web", "name": "Live", "redirect_uris": [EXAMPLE_REDIRECT_URI]},
    )
    assert created.status_code == 201, created.text
    secret = created.json()["secret"]
    etag = created.headers["ETag"]
    user = api(
        "POST",
        "/users",
        json={"email": "live@example.com", "username": "live", "password": "live passphrase"},
    )
    assert user.status_code == 201, user.text
    client = example_client(client_id="live-web", client_secret=secret)
    token, nonce = pkce_login(
        server, client, "openid email offline_access", "live@example.com", "live passphrase"
    )
    claims = verify_id_token(server.issuer, token["id_token"], audience="live-web", nonce=nonce)
    assert claims["email"] == "live@example.com"

    # ETags: a stale If-Match changes nothing
    renamed = api(
        "PATCH", "/clients/live-web", json={"name": "Renamed"}, headers={"If-Match": etag}
    )
    assert renamed.status_code == 200, renamed.text
    stale = api("PATCH", "/clients/live-web", json={"name": "Lost"}, headers={"If-Match": etag})
    assert stale.status_code == 412
    assert api("GET", "/clients/live-web").json()["name"] == "Renamed"

    # the user's refresh token, listed and revoked with everything of theirs
    sub = user.json()["sub"]
    assert sub == claims["sub"] == encode_sub(user.json()["user_id"], "local")
    listed = api("GET", "/refresh-tokens", params={"sub": sub}).json()["items"]
    assert [t["client_id"] for t in listed] == ["live-web"]
    revoked = api("POST", "/sessions/revoke-user", json={"sub": sub})
    assert revoked.status_code == 200 and revoked.json()["refresh_tokens"] == 1
    refresh = requests.post(
        server.issuer + "/token",
        data={"grant_type": "refresh_token", "refresh_token": token["refresh_token"]},
        auth=("live-web", secret),
        timeout=10,
    )
    assert refresh.status_code == 400

    # keys rotate; the audit log names the API client; export as JSON lines
    old_kid = api("GET", "/keys").json()["keys"][0]["kid"]
    new_kid = api("POST", "/keys/rotate").json()["kid"]
    assert new_kid != old_kid
    assert api("GET", "/keys").json()["keys"][0]["kid"] == new_kid
    audit = api("GET", "/audit", params={"actor": f"api:{ADMIN_ID}"}).json()["items"]
    actions = {e["action"] for e in audit}
    assert {"client.create", "client.update", "user.create", "key.rotate"} <= actions
    lines = api("GET", "/audit/export", params={"actor": f"api:{ADMIN_ID}"}).text.splitlines()
    assert len(lines) == len(audit)

    # a connector created over the API is on every worker's login page within a few seconds;
    # team rules replaced under their ETag apply at once
    connector = api(
        "POST",
        "/connectors",
        json={
            "id": "live-extra",
            "type": "mockPassword",
            "name": "Live extra",
            "config": {"username": "kilgore", "password": "trout-secret"},
        },
    )
    assert connector.status_code == 201, connector.text
    assert "trout-secret" not in connector.text
    _wait_for_login_page_link(server, "/auth/live-extra")
    rules = api("GET", "/teams/rules")
    put = api(
        "PUT",
        "/teams/rules",
        json={"rules": [{"exact": "ops", "team": "operators"}]},
        headers={"If-Match": rules.headers["ETag"]},
    )
    assert put.status_code == 200, put.text
    explained = api("POST", "/teams/explain", json={"connector_id": "local", "groups": ["ops"]})
    assert explained.json()["teams"] == ["operators"]
    overview = api("GET", "/overview").json()
    assert overview["storage_ok"] is True and overview["counts"]["users"] >= 2

    # problems for what is not there; the document is served
    assert api("GET", "/nothing").headers["Content-Type"] == "application/problem+json"
    assert requests.get(api.base + "/openapi.json", timeout=10).json()["openapi"] == "3.1.0"
    deleted = api("DELETE", "/clients/live-web", headers={"If-Match": renamed.headers["ETag"]})
    assert deleted.status_code == 204
    assert api("GET", "/clients/live-web").status_code == 404


def _wait_for_login_page_link(server: LiveServer, link: str, timeout: float = 10.0) -> None:
    """Every worker shows ``link`` on the connector chooser (asked several times in a row, as
    requests land on either worker)."""
    params = {
        "client_id": "example-app",
        "redirect_uri": EXAMPLE_REDIRECT_URI,
        "response_type": "code",
        "scope": "openid",
    }
    deadline = time.monotonic() + timeout
    streak = 0
    while streak < 6:
        assert time.monotonic() < deadline, f"{link} never reached every worker"
        page = requests.get(server.issuer + "/auth", params=params, timeout=10)
        streak = streak + 1 if link in page.text else 0
        time.sleep(0.05)


def _static_clients() -> list[dict[str, Any]]:
    """The harness's static clients and ours (a list in the overrides replaces, not merges)."""
    return [*default_config(0, Path("unused"))["staticClients"], *CLIENTS]
