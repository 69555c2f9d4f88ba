"""The ``grpc`` config section: mutual TLS is required unless the API listens on loopback
without any TLS (then a warning), and ``--grpc-addr`` sets ``grpc.addr``."""

from __future__ import annotations

import pytest

from dex_py.config import ConfigError
from dex_py.config.grpc_rules import PLAINTEXT_WARNING
from dex_py.config.loader import load_string

BASE = """
issuer: http://127.0.0.1:5556/dex
storage: {type: memory}
web: {http: 127.0.0.1:5556}
"""


def _load(grpc: str, overrides: dict[str, str] | None = None):
    return load_string(BASE + grpc, overrides=overrides)


def test_all_keys_are_read() -> None:
    cfg = _load(
        "grpc: {addr: '0.0.0.0:5557', tlsCert: c.pem, tlsKey: k.pem, tlsClientCA: ca.pem,"
        " reflection: true}"
    )
    g = cfg.grpc
    assert (g.addr, g.tls_cert, g.tls_key, g.tls_client_ca, g.reflection) == (
        "0.0.0.0:5557",
        "c.pem",
        "k.pem",
        "ca.pem",
        True,
    )
    assert not any("grpc" in w for w in cfg.ignored)


@pytest.mark.parametrize("addr", ["127.0.0.1:5557", "localhost:5557", "[::1]:5557"])
def test_loopback_without_tls_is_allowed_with_a_warning(addr: str) -> None:
    cfg = _load(f"grpc: {{addr: '{addr}'}}")
    assert any(PLAINTEXT_WARNING in w for w in cfg.warnings)


@pytest.mark.parametrize("addr", ["0.0.0.0:5557", ":5557", "10.0.0.1:5557", "dex.example:5557"])
def test_other_addresses_need_mutual_tls(addr: str) -> None:
    with pytest.raises(ConfigError) as e:
        _load(f"grpc: {{addr: '{addr}'}}")
    assert "grpc.tlsCert" in str(e.value)


def test_tls_without_a_client_ca_is_refused_even_on_loopback() -> None:
    with pytest.raises(ConfigError) as e:
        _load("grpc: {addr: '127.0.0.1:5557', tlsCert: c.pem, tlsKey: k.pem}")
    assert "grpc.tlsClientCA" in str(e.value)


def test_the_command_line_address_is_checked_too() -> None:
    assert _load("", {"grpc.addr": "127.0.0.1:5557"}).grpc.addr == "127.0.0.1:5557"
    with pytest.raises(ConfigError):
        _load("", {"grpc.addr": "0.0.0.0:5557"})
