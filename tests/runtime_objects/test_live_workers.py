"""Runtime changes reach every worker of a real ``dex-py serve`` without a restart, on SQLite
and on PostgreSQL: a connector written into the shared storage (as the admin console or the
gRPC API would) is offered and logs users in on every worker within 2 s of the change counter's
bump, and is gone again after its deletion; a stored team rule changes the teams in the next
token. Connectors created over Dex's gRPC API (in the server's master process) reach the
workers the same way."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterator
from urllib.parse import parse_qs, urlsplit

import grpc
import pytest
import requests

from dex_py.config import StorageConfig
from dex_py.grpc_api import api_pb2 as pb
from dex_py.grpc_api import api_pb2_grpc
from dex_py.jose.tokens import encode_sub
from dex_py.storage import open_storage
from dex_py.storage.base import Connector, Storage
from dex_py.storage.records import TEAM_RULES_SETTING
from tests.live import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    ADMIN_USER_ID,
    EXAMPLE_REDIRECT_URI,
    LiveServer,
    verify_id_token,
)
from tests.login_flow import discovery, example_client, follow_login, pkce_login
from tests.services import free_port
from tests.storage.conftest import Namespaces

pytestmark = pytest.mark.live

WORKERS = 3
ANSWERS = 30  # requests on fresh connections: every worker answers some of them
POLL = 1.0  # storage.change_watch.POLL_INTERVAL: a worker reads the counter at most this often


@pytest.fixture(scope="module")
def live_namespaces(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Namespaces]:
    ns = Namespaces(tmp_path_factory.mktemp("live-storage"))
    yield ns
    ns.drop_all()


def _ready_connectors(server: LiveServer) -> list[dict[str, str]]:
    """``/healthz/ready``'s connectors as ``ANSWERS`` answers on fresh connections see them."""
    seen = []
    for _ in range(ANSWERS):
        resp = requests.get(server.url("/healthz/ready"), timeout=10)
        seen.append(resp.json()["connectors"])
    return seen


def _bump_and_wait(storage: Storage) -> float:
    """Bump the counter; return when every worker must have seen it (``POLL`` later)."""
    bumped = time.monotonic()
    storage.bump_generation()
    time.sleep(max(0.0, bumped + POLL + 0.1 - time.monotonic()))
    return bumped


def _login_through(server: LiveServer, connector_id: str) -> dict:
    meta = discovery(server.issuer)
    client = example_client("openid email groups")
    url, state = client.create_authorization_url(
        meta["authorization_endpoint"], nonce=secrets.token_urlsafe(8)
    )
    session = requests.Session()
    callback = follow_login(
        session,
        session.get(url, allow_redirects=False, timeout=10),
        credentials=(ADMIN_EMAIL, ADMIN_PASSWORD),
        chooser=f"/auth/{connector_id}",
        log_tail=server.log_tail,
    )
    query = parse_qs(urlsplit(callback).query)
    assert query["state"] == [state], callback
    token = client.fetch_token(meta["token_endpoint"], authorization_response=callback)
    return verify_id_token(server.issuer, token["id_token"], audience="example-app")


@pytest.mark.parametrize(
    ("kind", "engine"),
    [
        ("sqlite", "granian"),
        ("sqlite", "gunicorn"),
        pytest.param("postgres", "granian", marks=pytest.mark.postgres),
    ],
)
def test_stored_connectors_and_team_rules_reach_every_worker(
    make_live_server: Callable[..., LiveServer],
    live_namespaces: Namespaces,
    kind: str,
    engine: str,
) -> None:
    cfg: StorageConfig = live_namespaces.create(kind)
    server = make_live_server(
        {"server": {"engine": engine}},
        storage={"type": cfg.type, "config": cfg.config},
        workers=WORKERS,
        redirect_uris=[EXAMPLE_REDIRECT_URI],
    )
    storage = open_storage(cfg, migrate=False)
    try:
        assert all("second" not in c for c in _ready_connectors(server))

        storage.create_connector(Connector(id="second", type="local", name="Second door"))
        bumped = _bump_and_wait(storage)
        first = requests.get(server.url("/healthz/ready"), timeout=10).json()["connectors"]
        assert time.monotonic() - bumped < 2.0
        assert first.get("second") == "ok"
        answers = _ready_connectors(server)
        assert all(c.get("second") == "ok" for c in answers), answers
        claims = _login_through(server, "second")
        assert claims["sub"] == encode_sub(ADMIN_USER_ID, "second")
        assert claims["groups"] == ["admins", "developers"]

        rules = [{"exact": "admins", "team": "platform-admins"}]
        storage.put_setting(TEAM_RULES_SETTING, rules, 0)
        _bump_and_wait(storage)
        token, _ = pkce_login(
            server, example_client(), "openid groups", ADMIN_EMAIL, ADMIN_PASSWORD
        )
        claims = verify_id_token(server.issuer, token["id_token"], audience="example-app")
        assert claims["groups"] == ["platform-admins", "developers"]

        storage.delete_connector("second")
        _bump_and_wait(storage)
        answers = _ready_connectors(server)
        assert all("second" not in c for c in answers), answers
        assert all(set(c) == {"local", "mock"} for c in answers)

        if kind == "postgres":  # LISTEN/NOTIFY: at once, not at each worker's next poll
            storage.create_connector(Connector(id="third", type="local", name="Third door"))
            _ready_connectors(server)  # every worker has just read the counter
            storage.bump_generation()
            time.sleep(0.3)
            answers = _ready_connectors(server)
            assert all(c.get("third") == "ok" for c in answers), answers
    finally:
        storage.close()
    assert "Traceback" not in server.log_text()


def test_a_connector_created_over_grpc_reaches_every_worker(
    make_live_server: Callable[..., LiveServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DEX_API_CONNECTORS_CRUD", "true")
    grpc_addr = f"127.0.0.1:{free_port()}"
    server = make_live_server({"grpc": {"addr": grpc_addr}}, workers=WORKERS)
    with grpc.insecure_channel(grpc_addr) as channel:
        stub = api_pb2_grpc.DexStub(channel)
        connector = pb.Connector(id="by-grpc", type="local", name="Made over gRPC")
        assert not stub.CreateConnector(pb.CreateConnectorReq(connector=connector)).already_exists
        time.sleep(POLL + 0.1)
        assert all(c.get("by-grpc") == "ok" for c in _ready_connectors(server))
        claims = _login_through(server, "by-grpc")
        assert claims["sub"] == encode_sub(ADMIN_USER_ID, "by-grpc")
        stub.DeleteConnector(pb.DeleteConnectorReq(id="by-grpc"))
        time.sleep(POLL + 0.1)
        assert all("by-grpc" not in c for c in _ready_connectors(server))
