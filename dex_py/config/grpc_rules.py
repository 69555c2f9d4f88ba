"""Rules of the ``grpc`` section: an address, and mutual TLS unless the API listens only on
loopback without TLS (then a loud warning: any local process can manage clients and passwords).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from dex_py.config.model import GrpcConfig

TLS_KEYS = ("tlsCert", "tlsKey", "tlsClientCA")
PLAINTEXT_WARNING = (
    "no TLS: the gRPC API (clients, passwords, refresh tokens) is open to every process on "
    "this machine; set tlsCert, tlsKey and tlsClientCA for mutual TLS"
)


class Findings(Protocol):
    def error(self, path: str, message: str) -> None: ...
    def warn(self, path: str, message: str) -> None: ...


def grpc_host(addr: str) -> str:
    """The host part of ``host:port`` (``[::1]:5557`` gives ``::1``; ``:5557`` gives "")."""
    return addr.rpartition(":")[0].strip("[]")


def uses_tls(grpc: GrpcConfig) -> bool:
    return bool(grpc.tls_cert or grpc.tls_key or grpc.tls_client_ca)


def check_grpc(grpc: GrpcConfig, result: Findings, is_loopback_host: Callable[[str], bool]) -> None:
    if not grpc.addr:
        return
    host, sep, port = grpc.addr.rpartition(":")
    if not sep or not port.isdigit() or int(port) > 65535 or " " in host:
        result.error("grpc.addr", "must be host:port (for example 127.0.0.1:5557)")
        return
    files = dict(zip(TLS_KEYS, (grpc.tls_cert, grpc.tls_key, grpc.tls_client_ca), strict=True))
    if uses_tls(grpc):
        for key, value in files.items():
            if not value:
                result.error(f"grpc.{key}", "required: the gRPC API uses mutual TLS")
        return
    if not is_loopback_host(grpc_host(grpc.addr)):
        result.error(
            "grpc.tlsCert",
            "required: mutual TLS (tlsCert, tlsKey, tlsClientCA) unless grpc.addr is loopback",
        )
    else:
        result.warn("grpc", PLAINTEXT_WARNING)
