"""The ``api.Dex`` servicer served in-process on loopback over each storage backend
(memory, SQLite, PostgreSQL in a fresh schema), with a stub from our generated code."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent import futures

import grpc
import pytest

from dex_py.grpc_api import api_pb2_grpc
from dex_py.grpc_api.servicer import DexApi
from dex_py.storage import open_storage
from dex_py.storage.base import Storage
from dex_py.storage.memory import MemoryStorage
from tests.storage.conftest import Namespaces

DISCOVERY = {
    "issuer": "https://dex.example.com",
    "token_endpoint": "https://dex.example.com/token",
    "grant_types_supported": ["authorization_code", "client_credentials"],
    "end_session_endpoint": "https://dex.example.com/logout",  # not in the message: dropped
}


@pytest.fixture(scope="session")
def grpc_namespaces(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Namespaces]:
    ns = Namespaces(tmp_path_factory.mktemp("grpc-storage"))
    yield ns
    ns.drop_all()


@pytest.fixture(
    params=[
        pytest.param("memory", id="memory"),
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
    ]
)
def storage(request: pytest.FixtureRequest, grpc_namespaces: Namespaces) -> Iterator[Storage]:
    if request.param == "memory":
        yield MemoryStorage()
        return
    s = open_storage(grpc_namespaces.create(request.param), migrate=True)
    yield s
    s.close()  # type: ignore[attr-defined]  # SQL storages have close(); Storage does not


def serve(
    storage: Storage, *, connectors_crud: bool = True, store_audit: bool = True
) -> tuple[grpc.Server, api_pb2_grpc.DexStub, grpc.Channel]:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    servicer = DexApi(
        storage, lambda: DISCOVERY, connectors_crud=connectors_crud, store_audit=store_audit
    )
    api_pb2_grpc.add_DexServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    return server, api_pb2_grpc.DexStub(channel), channel


@pytest.fixture
def api(storage: Storage) -> Iterator[api_pb2_grpc.DexStub]:
    """A stub talking to ``DexApi(storage)`` over a real loopback connection."""
    server, stub, channel = serve(storage)
    yield stub
    channel.close()
    server.stop(grace=None)
