"""The gRPC API (``api.Dex``, ``dex_py.grpc_api``) in the ``dex-py serve`` master: a thread pool
of its own, its own ``Storage`` opened from the config, the config's static clients, passwords
and connectors read-only on top (``StaticOverlay``).

Started once the HTTP workers are up, stopped on shutdown (``stopped``). Mutual TLS
(``grpc.tlsCert``/``tlsKey``/``tlsClientCA``: a client must present a certificate signed by that
CA) unless ``grpc.addr`` is loopback and no TLS is configured (the config check enforces this;
the plaintext case is logged as a warning at start). Memory storage is refused: the master's
memory is not the workers', so a client created over gRPC would never reach ``/token``.
The master forks workers (Granian respawns them too); the children never use gRPC.
"""

from __future__ import annotations

import logging
from concurrent import futures
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, cast

import grpc

from dex_py.clients import client_from_config
from dex_py.config import Config, GrpcConfig
from dex_py.config.audit_log import SECTION as AUDIT
from dex_py.config.audit_log import AuditPolicy
from dex_py.config.feature_flags import api_connectors_crud
from dex_py.config.grpc_rules import PLAINTEXT_WARNING, uses_tls
from dex_py.grpc_api import api_pb2, api_pb2_grpc
from dex_py.grpc_api.servicer import DexApi
from dex_py.oauth.discovery import discovery_document
from dex_py.services import Services
from dex_py.storage import open_storage
from dex_py.storage.base import Connector, Password, Storage
from dex_py.storage.static import StaticOverlay

log = logging.getLogger("dex_py.server")

GRACE_SECONDS = 5.0  # calls in flight get this long to finish on shutdown
THREADS = 4


class GrpcStartError(Exception):
    """The gRPC API cannot start (memory storage, unreadable TLS files, address taken)."""


@dataclass
class GrpcApi:
    server: grpc.Server
    storage: Storage
    port: int

    def stop(self) -> None:
        self.server.stop(GRACE_SECONDS).wait()
        close = getattr(self.storage, "close", None)
        if close is not None:
            close()
        log.info("gRPC API stopped")


def _read(path: str, key: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as exc:
        raise GrpcStartError(f"grpc.{key}: {path}: {exc.strerror}") from None


def server_credentials(g: GrpcConfig) -> grpc.ServerCredentials:
    """Mutual TLS: our certificate, and client certificates required and checked against
    ``tlsClientCA``."""
    cert, key = _read(g.tls_cert, "tlsCert"), _read(g.tls_key, "tlsKey")
    return grpc.ssl_server_credentials(
        [(key, cert)],
        root_certificates=_read(g.tls_client_ca, "tlsClientCA"),
        require_client_auth=True,
    )


def overlay(config: Config, storage: Storage) -> StaticOverlay:
    """``storage`` with the config's static objects on top, read-only."""
    return StaticOverlay(
        storage,
        clients=[client_from_config(c) for c in config.static_clients],
        passwords=[
            Password(email=p.email.lower(), hash=p.hash, username=p.username, user_id=p.user_id)
            for p in config.static_passwords
        ],
        connectors=[
            Connector(id=c.id, type=c.type, name=c.name, config=c.config) for c in config.connectors
        ],
    )


def discovery_of(config: Config) -> dict[str, Any]:
    """The discovery document the HTTP workers serve, built from the config alone (it needs
    only the issuer, the config and the signing algorithm)."""
    view = SimpleNamespace(
        config=config,
        issuer=config.issuer,
        url=lambda path: config.issuer + path,
        keys=SimpleNamespace(algorithm=config.signing.algorithm),
    )
    return discovery_document(cast(Services, view))


def check_grpc_api(config: Config) -> None:
    """What can be checked before the workers start: storage kind and TLS files."""
    if config.grpc.addr and config.storage.type == "memory":
        raise GrpcStartError(
            "grpc.addr: the gRPC API needs a database storage (memory storage lives in one "
            "process: clients created over gRPC would never reach the HTTP workers)"
        )
    if config.grpc.addr and uses_tls(config.grpc):
        server_credentials(config.grpc)


def start_grpc_api(config: Config) -> GrpcApi | None:
    """Start the gRPC API when ``grpc.addr`` is set (None otherwise)."""
    g = config.grpc
    if not g.addr:
        return None
    check_grpc_api(config)
    credentials = server_credentials(g) if uses_tls(g) else None
    storage = open_storage(config.storage, migrate=False)
    document = discovery_of(config)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=THREADS, thread_name_prefix="grpc"))
    api_pb2_grpc.add_DexServicer_to_server(
        DexApi(
            overlay(config, storage),
            lambda: document,
            connectors_crud=api_connectors_crud(),
            access_token_lifetime=config.expiry.access_token_lifetime,
            store_audit=AuditPolicy.from_config(config.extensions.get(AUDIT)).store,
        ),
        server,
    )
    if g.reflection:
        from grpc_reflection.v1alpha import reflection

        names = (api_pb2.DESCRIPTOR.services_by_name["Dex"].full_name, reflection.SERVICE_NAME)
        reflection.enable_server_reflection(names, server)
    try:
        port = (
            server.add_secure_port(g.addr, credentials)
            if credentials is not None
            else server.add_insecure_port(g.addr)
        )
    except RuntimeError as exc:
        port = 0
        reason = str(exc)
    else:
        reason = "address in use or not valid"
    if not port:
        server.stop(None)
        GrpcApi(server, storage, 0).stop()
        raise GrpcStartError(f"grpc.addr {g.addr}: cannot listen ({reason})")
    server.start()
    if credentials is None:
        log.warning("gRPC API on %s: %s", g.addr, PLAINTEXT_WARNING)
    log.info("gRPC API (api.Dex) on %s%s", g.addr, " with mutual TLS" if credentials else "")
    return GrpcApi(server, storage, port)
