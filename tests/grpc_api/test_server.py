"""The gRPC API as ``dex-py serve`` starts it (``start_grpc_api``): mutual TLS refuses a caller
without a certificate of ``tlsClientCA`` (and answers one with it), reflection lists
``api.Dex`` only when asked for, memory storage and unreadable TLS files are refused."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from dex_py.config import Config, GrpcConfig, StorageConfig
from dex_py.grpc_api import api_pb2 as pb
from dex_py.grpc_api import api_pb2_grpc
from dex_py.serving.grpc_server import GrpcApi, GrpcStartError, start_grpc_api
from dex_py.storage import open_storage
from tests.services import free_port
from tests.tls import CAFiles, make_test_ca


def _config(tmp_path: Path, grpc_config: GrpcConfig) -> Config:
    storage = StorageConfig("sqlite3", {"file": str(tmp_path / "dex.db")})
    open_storage(storage, migrate=True).close()  # type: ignore[attr-defined]
    return Config(issuer="https://dex.example.com", storage=storage, grpc=grpc_config)


@pytest.fixture
def ca(tmp_path: Path) -> CAFiles:
    return make_test_ca(tmp_path / "ca", client=True)


@pytest.fixture
def mtls_api(tmp_path: Path, ca: CAFiles) -> Iterator[GrpcApi]:
    g = GrpcConfig(
        addr=f"127.0.0.1:{free_port()}",
        tls_cert=str(ca.cert_pem),
        tls_key=str(ca.key_pem),
        tls_client_ca=str(ca.ca_pem),
    )
    api = start_grpc_api(_config(tmp_path, g))
    assert api is not None
    yield api
    api.stop()


def _channel(api: GrpcApi, ca: CAFiles, client: tuple[Path, Path] | None) -> grpc.Channel:
    creds = grpc.ssl_channel_credentials(
        root_certificates=ca.ca_pem.read_bytes(),
        private_key=client[1].read_bytes() if client else None,
        certificate_chain=client[0].read_bytes() if client else None,
    )
    return grpc.secure_channel(f"127.0.0.1:{api.port}", creds)


def test_mutual_tls_answers_a_client_of_the_ca(mtls_api: GrpcApi, ca: CAFiles) -> None:
    assert ca.client is not None
    with _channel(mtls_api, ca, (ca.client.cert, ca.client.key)) as channel:
        version = api_pb2_grpc.DexStub(channel).GetVersion(pb.VersionReq(), timeout=10)
    assert version.api == 2


def test_mutual_tls_refuses_a_client_without_a_certificate(mtls_api: GrpcApi, ca: CAFiles) -> None:
    with _channel(mtls_api, ca, None) as channel, pytest.raises(grpc.RpcError) as e:
        api_pb2_grpc.DexStub(channel).ListPasswords(pb.ListPasswordReq(), timeout=10)
    assert e.value.code() == grpc.StatusCode.UNAVAILABLE


def test_mutual_tls_refuses_a_certificate_of_another_ca(
    mtls_api: GrpcApi, ca: CAFiles, tmp_path: Path
) -> None:
    other = make_test_ca(tmp_path / "other", client=True)
    assert other.client is not None
    with (
        _channel(mtls_api, ca, (other.client.cert, other.client.key)) as channel,
        pytest.raises(grpc.RpcError) as e,
    ):
        api_pb2_grpc.DexStub(channel).ListPasswords(pb.ListPasswordReq(), timeout=10)
    assert e.value.code() == grpc.StatusCode.UNAVAILABLE


def _services(addr: str) -> list[str]:
    from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
        ProtoReflectionDescriptorDatabase,
    )

    with grpc.insecure_channel(addr) as channel:
        return sorted(ProtoReflectionDescriptorDatabase(channel).get_services())


@pytest.mark.parametrize("reflection", [True, False])
def test_reflection_lists_the_api_only_when_enabled(tmp_path: Path, reflection: bool) -> None:
    addr = f"127.0.0.1:{free_port()}"
    api = start_grpc_api(_config(tmp_path, GrpcConfig(addr=addr, reflection=reflection)))
    assert api is not None
    try:
        if reflection:
            assert "api.Dex" in _services(addr)
        else:
            with pytest.raises(grpc.RpcError) as e:
                _services(addr)
            assert e.value.code() == grpc.StatusCode.UNIMPLEMENTED
    finally:
        api.stop()


def test_memory_storage_and_missing_files_are_refused(tmp_path: Path) -> None:
    addr = f"127.0.0.1:{free_port()}"
    memory = Config(issuer="https://d.example", storage=StorageConfig("memory", {}))
    memory.grpc = GrpcConfig(addr=addr)
    with pytest.raises(GrpcStartError, match="database storage"):
        start_grpc_api(memory)
    missing = GrpcConfig(addr=addr, tls_cert="/nonexistent/c.pem", tls_key="k", tls_client_ca="a")
    with pytest.raises(GrpcStartError, match=r"grpc.tlsCert: /nonexistent/c.pem"):
        start_grpc_api(_config(tmp_path, missing))
    assert start_grpc_api(_config(tmp_path, GrpcConfig())) is None
