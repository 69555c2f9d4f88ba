"""A live dex-py with the device flow on, and the device's and the user's side of it over HTTP.

``device_server`` (one per module) enables the device code grant, adds a client that may not use
it, and allows CORS from one origin. The helpers act as the device (``start``, ``poll``) and as
the user's browser (``enter_code``, ``browser_login``) with plain ``requests``.
"""

from __future__ import annotations

import base64
import sqlite3
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from dex_py.config import DEVICE_CODE_GRANT
from tests.live import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    EXAMPLE_CLIENT_ID,
    EXAMPLE_CLIENT_SECRET,
    PUBLIC_CLIENT_ID,
    LiveServer,
    live_server,
)
from tests.login_flow import follow_login, hidden_fields, parse_page

GRANTS = ["authorization_code", "refresh_token", DEVICE_CODE_GRANT]
NO_DEVICE_CLIENT = "no-device"
NO_DEVICE_SECRET = "no-device-secret-no-device-secret"
ALLOWED_ORIGIN = "https://console.example.com"
SCOPES = "openid email groups offline_access"


def device_config(**overrides: Any) -> dict[str, Any]:
    """Config overrides for ``live_server``: the device grant on, one client without it."""
    from tests.live import EXAMPLE_REDIRECT_URI

    config: dict[str, Any] = {
        "oauth2": {"grantTypes": GRANTS},
        "web": {"allowedOrigins": [ALLOWED_ORIGIN]},
        "staticClients": [
            {
                "id": EXAMPLE_CLIENT_ID,
                "secret": EXAMPLE_CLIENT_SECRET,
                "name": "Example App",
                "redirectURIs": [EXAMPLE_REDIRECT_URI],
            },
            {"id": PUBLIC_CLIENT_ID, "name": "Public CLI", "public": True},
            {
                "id": NO_DEVICE_CLIENT,
                "secret": NO_DEVICE_SECRET,
                "redirectURIs": [EXAMPLE_REDIRECT_URI],
                "grantTypes": ["authorization_code"],
            },
        ],
    }
    config.update(overrides)
    return config


@pytest.fixture(scope="module")
def device_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    server = live_server(device_config(), base_dir=tmp_path_factory.mktemp("device"))
    yield server
    server.stop()


def basic(client_id: str, secret: str) -> dict[str, str]:
    token = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def client_auth(client_id: str) -> tuple[dict[str, str], dict[str, str]]:
    """(headers, form fields) authenticating ``client_id`` as the live config knows it."""
    if client_id == PUBLIC_CLIENT_ID:
        return {}, {"client_id": client_id}
    secret = {EXAMPLE_CLIENT_ID: EXAMPLE_CLIENT_SECRET, NO_DEVICE_CLIENT: NO_DEVICE_SECRET}
    return basic(client_id, secret[client_id]), {}


def start_raw(
    server: LiveServer,
    client_id: str = PUBLIC_CLIENT_ID,
    scope: str = SCOPES,
    headers: dict[str, str] | None = None,
) -> requests.Response:
    auth, form = client_auth(client_id)
    return requests.post(
        server.url("/device/code"),
        data={**form, "scope": scope},
        headers={**auth, **(headers or {})},
        timeout=10,
    )


def start(server: LiveServer, client_id: str = PUBLIC_CLIENT_ID, scope: str = SCOPES) -> dict:
    resp = start_raw(server, client_id, scope)
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    return body


def poll(
    server: LiveServer, device_code: str, client_id: str = PUBLIC_CLIENT_ID
) -> requests.Response:
    headers, form = client_auth(client_id)
    data = {**form, "grant_type": DEVICE_CODE_GRANT, "device_code": device_code}
    return requests.post(server.url("/token"), data=data, headers=headers, timeout=10)


def refresh(server: LiveServer, refresh_token: str) -> requests.Response:
    """Redeem ``refresh_token`` as the public client."""
    data = {
        "grant_type": "refresh_token",
        "refresh_token": refresh_token,
        "client_id": PUBLIC_CLIENT_ID,
    }
    return requests.post(server.url("/token"), data=data, timeout=10)


def polls_at_once(
    servers: list[LiveServer], device_code: str, n: int = 4
) -> list[requests.Response]:
    """``n`` polls released together, spread over ``servers``; their answers."""
    results: list[requests.Response] = []
    barrier = threading.Barrier(n)

    def one(server: LiveServer) -> None:
        barrier.wait()
        results.append(poll(server, device_code))

    threads = [threading.Thread(target=one, args=(servers[i % len(servers)],)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def error_of(resp: requests.Response) -> str:
    assert resp.headers["Content-Type"].startswith("application/json"), resp.text[:300]
    error: str = resp.json()["error"]
    return error


def enter_code(
    session: requests.Session,
    server: LiveServer,
    user_code: str,
    *,
    page_url: str = "",
    headers: dict[str, str] | None = None,
) -> requests.Response:
    """Open the user-code page (``page_url``, default ``/device``) and submit ``user_code``,
    sending ``headers`` with both requests."""
    page = session.get(page_url or server.url("/device"), headers=headers, timeout=10)
    assert page.status_code == 200, page.text[:500]
    form = parse_page(page.text).forms[0]
    return session.post(
        server.url("/device/auth/verify_code"),
        data={**hidden_fields(form), "user_code": user_code},
        headers=headers,
        allow_redirects=False,
        timeout=10,
    )


def browser_login(
    server: LiveServer, user_code: str, *, approval: str = "approve"
) -> requests.Response:
    """As the user: enter the code, log in with the password DB, approve (or refuse); return
    the page ``/device/callback`` answers with."""
    session = requests.Session()
    resp = enter_code(session, server, user_code)
    callback = follow_login(
        session,
        resp,
        back_to_client=lambda location: location.startswith(server.url("/device/callback")),
        credentials=(ADMIN_EMAIL, ADMIN_PASSWORD),
        approval=approval,
        chooser="/auth/local",
        log_tail=server.log_tail,
    )
    return session.get(callback, allow_redirects=False, timeout=10)


def device_rows(server: LiveServer) -> list[dict[str, Any]]:
    """The ``device_request`` table of the server's SQLite database, read directly."""
    conn = sqlite3.connect(server.data_dir / "dex.sqlite3")
    try:
        conn.row_factory = sqlite3.Row
        return [dict(r) for r in conn.execute("SELECT * FROM device_request")]
    finally:
        conn.close()


def database_bytes(server: LiveServer) -> bytes:
    """Everything the database files hold (the main file and the WAL)."""
    out = b""
    for path in server.data_dir.glob("dex.sqlite3*"):
        out += path.read_bytes()
    return out
