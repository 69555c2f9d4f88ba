"""The console, the JSON admin API and Dex's gRPC API on one server and one storage, on SQLite
and PostgreSQL: what one of them creates the other two see at once, each change is in the audit
log under its own actor, and objects from config.yaml stay read-only through all three."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import bcrypt
import grpc
import pytest
import requests

from dex_py.grpc_api import api_pb2 as pb
from dex_py.grpc_api import api_pb2_grpc
from tests.admin.browser import log_in, need_chromium, storage_of
from tests.chromium import chromium
from tests.live import (
    ADMIN_EMAIL,
    EXAMPLE_CLIENT_ID,
    EXAMPLE_REDIRECT_URI,
    LiveServer,
    default_config,
)
from tests.services import free_port
from tests.storage.conftest import Namespaces

pytestmark = [pytest.mark.browser, pytest.mark.live]

API_CLIENT, API_SECRET = "automation", "automation-secret-automation-secret"


def _config(grpc_addr: str) -> dict[str, Any]:
    return {
        "grpc": {"addr": grpc_addr},
        "oauth2": {"grantTypes": ["authorization_code", "refresh_token", "client_credentials"]},
        "admin": {"emails": [ADMIN_EMAIL], "clients": [API_CLIENT]},
    }


def _api(server: LiveServer) -> requests.Session:
    token = requests.post(
        server.url("/token"),
        data={"grant_type": "client_credentials", "scope": "dex-py:admin"},
        auth=(API_CLIENT, API_SECRET),
        timeout=10,
    )
    assert token.status_code == 200, token.text
    http = requests.Session()
    http.headers["Authorization"] = "Bearer " + token.json()["access_token"]
    return http


@pytest.mark.parametrize("kind", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_console_api_and_grpc_share_one_storage(
    make_live_server: Callable[..., LiveServer], console_namespaces: Namespaces, kind: str
) -> None:
    need_chromium()
    grpc_addr = f"127.0.0.1:{free_port()}"
    harness_clients = default_config(0, Path("."))["staticClients"]  # example-app, public
    api_client = {"id": API_CLIENT, "secret": API_SECRET, "grantTypes": ["client_credentials"]}
    server = make_live_server(
        {**_config(grpc_addr), "staticClients": [*harness_clients, api_client]},
        storage=storage_of(console_namespaces, kind),
    )
    api = _api(server)
    base = server.url("/admin/api/v1")

    with grpc.insecure_channel(grpc_addr) as channel:
        stub = api_pb2_grpc.DexStub(channel)
        # gRPC -> API and console
        stub.CreateClient(
            pb.CreateClientReq(
                client=pb.Client(
                    id="grpc-made", name="Made over gRPC", redirect_uris=[EXAMPLE_REDIRECT_URI]
                )
            )
        )
        assert api.get(f"{base}/clients/grpc-made", timeout=10).json()["name"] == "Made over gRPC"

        # API -> gRPC and console
        made = api.post(
            f"{base}/users",
            json={
                "email": "api-made@example.com",
                "username": "api",
                "password": "made by a script",
            },
            timeout=10,
        )
        assert made.status_code == 201, made.text
        emails = {p.email for p in stub.ListPasswords(pb.ListPasswordReq()).passwords}
        assert "api-made@example.com" in emails

        with chromium() as browser:
            page = browser.new_context().new_page()
            log_in(page, server)
            page.goto(server.url("/admin/clients"))
            assert "grpc-made" in page.content()
            page.goto(server.url("/admin/users"))
            assert "api-made@example.com" in page.inner_text("#users")

            # console -> gRPC and API
            page.goto(server.url("/admin/clients/new"))
            page.fill("#f-id", "console-made")
            page.fill("#f-name", "Made in the console")
            page.fill("#f-redirect_uris", EXAMPLE_REDIRECT_URI)
            with page.expect_navigation():
                page.click("#save")
        got = stub.GetClient(pb.GetClientReq(id="console-made")).client
        assert got.name == "Made in the console" and not got.secret  # only its digest is kept
        assert api.get(f"{base}/clients/console-made", timeout=10).status_code == 200

        # a gRPC password change is seen by the API and works at the password grant's check
        hash = bcrypt.hashpw(b"changed over grpc", bcrypt.gensalt(rounds=10))
        assert not stub.UpdatePassword(
            pb.UpdatePasswordReq(email="api-made@example.com", new_hash=hash)
        ).not_found
        assert stub.VerifyPassword(
            pb.VerifyPasswordReq(email="api-made@example.com", password="changed over grpc")
        ).verified

        # config objects: read-only everywhere
        with pytest.raises(grpc.RpcError) as refused:
            stub.DeleteClient(pb.DeleteClientReq(id=EXAMPLE_CLIENT_ID))
        assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    resp = api.delete(f"{base}/clients/{EXAMPLE_CLIENT_ID}", headers={"If-Match": "*"}, timeout=10)
    assert resp.status_code == 409

    # one audit log, each change under its own actor
    entries = api.get(f"{base}/audit", params={"event": "admin", "limit": 100}, timeout=10).json()
    seen = {(e["action"], e["actor"].split(":", 1)[0]) for e in entries["items"]}
    assert {
        ("client.create", "grpc"),
        ("user.create", "api"),
        ("client.create", "console"),
        ("user.update", "grpc"),
    } <= seen, seen
