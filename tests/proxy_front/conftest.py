"""Fixtures for the auth proxy's end-to-end tests with real parts: one OpenLDAP, one protected
app and one ``dex-py serve`` issuer per test session (xdist worker), and per test the ``Stack``
that starts ``dex-py proxy`` processes and the nginx / Caddy in front of them, all on 127.0.0.1,
stopped by pid when the test ends.

The issuer knows three static clients from the start (its config is fixed when it starts):
``a`` (an app behind nginx), ``b`` (an app behind Caddy) and ``u`` (the proxy's upstream mode,
reached directly). Each has its own ports; tests start what they need on them.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.connectors.ldap.conftest import (
    LdapService,
    directory,
    pick_ports,
    start_ldap,
    stop_ldap,
)
from tests.live import LiveServer
from tests.proxy_front import daemons
from tests.proxy_front.stack import ProxyClient, new_client, proxy_config, start_issuer
from tests.proxy_front.upstream_app import running_app
from tests.services import free_port, missing_service

# Away from the LDAP connector tests' ports (13890/13990 + 200 k + worker), so both can run.
LDAP_PORT_BASE = 13950
LDAPS_PORT_BASE = 16420

__all__ = ["directory"]  # the LDAP tests' fixture, on this package's directory


@pytest.fixture(scope="session")
def proxy_command() -> None:
    """Skip (locally) or fail (CI) while ``dex-py proxy`` is not there yet."""
    probe = subprocess.run(
        [*daemons.dex_py_command(), "proxy", "/nonexistent/proxy.yaml"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if "No such command" in probe.stderr:
        missing_service("dex-py proxy", "the command does not exist in this checkout")


@pytest.fixture(scope="session")
def ldap_service() -> Iterator[LdapService]:
    """This package's OpenLDAP (``directory`` of the LDAP tests changes it, then cleans up)."""
    service = start_ldap(*pick_ports(LDAP_PORT_BASE, LDAPS_PORT_BASE))
    yield service
    stop_ldap(service.port)


@pytest.fixture(scope="session")
def app_port() -> Iterator[int]:
    with running_app() as port:
        yield port


@pytest.fixture(scope="session")
def clients() -> dict[str, ProxyClient]:
    return {
        "a": new_client("a", front_port=free_port()),
        "b": new_client("b", front_port=free_port()),
        "u": new_client("u"),
    }


@pytest.fixture(scope="session")
def issuer(
    proxy_command: None,
    ldap_service: LdapService,
    clients: dict[str, ProxyClient],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[LiveServer]:
    server = start_issuer(ldap_service, list(clients.values()), tmp_path_factory.mktemp("issuer"))
    yield server
    server.stop()


@dataclass
class Stack:
    """Starts proxies and front servers for one test; ``stop_all`` stops them by pid."""

    issuer: LiveServer
    clients: dict[str, ProxyClient]
    app_port: int
    workdir: Path
    daemons: list[daemons.Daemon] = field(default_factory=list)

    def proxy(self, name: str, **config: Any) -> daemons.Daemon:
        """``dex-py proxy`` for client ``name`` (see ``stack.proxy_config`` for ``config``)."""
        client = self.clients[name]
        config.setdefault("cookie_name", f"_dexpy_{name}")
        daemon = daemons.start_proxy(
            self.workdir / f"proxy-{name}",
            proxy_config(self.issuer.issuer, client, **config),
            client.proxy_port,
        )
        self.daemons.append(daemon)
        return daemon

    def upstream_proxy(self, **config: Any) -> daemons.Daemon:
        """Client ``u``: the proxy's upstream mode in front of the test app."""
        config.setdefault("upstreams", [{"path": "/", "url": f"http://127.0.0.1:{self.app_port}"}])
        return self.proxy("u", **config)

    def nginx(self, name: str = "a", **config: Any) -> daemons.Daemon:
        """Client ``name``'s proxy and nginx in front of the test app with ``auth_request``."""
        return self._front(name, "nginx", config)

    def caddy(self, name: str = "b", **config: Any) -> daemons.Daemon:
        """Client ``name``'s proxy and Caddy in front of the test app with ``forward_auth``."""
        return self._front(name, "caddy", config)

    def _front(self, name: str, kind: str, config: dict[str, Any]) -> daemons.Daemon:
        client = self.clients[name]
        self.proxy(name, **config)
        ports = (client.front_port, client.proxy_port, self.app_port)
        workdir = self.workdir / f"{kind}-{name}"
        if kind == "nginx":
            server = daemons.nginx_forward_auth_server(*ports)
            daemon = daemons.start_nginx(workdir, server, client.front_port)
        else:
            caddyfile = daemons.caddyfile_forward_auth(*ports)
            daemon = daemons.start_caddy(workdir, caddyfile, client.front_port)
        self.daemons.append(daemon)
        return daemon

    def logs(self) -> str:
        return "\n".join(f"--- {d.name}\n{d.log_tail()}" for d in self.daemons)

    def stop_all(self) -> None:
        for daemon in reversed(self.daemons):
            daemon.stop()
        self.daemons.clear()


@pytest.fixture
def stack(
    issuer: LiveServer, clients: dict[str, ProxyClient], app_port: int, tmp_path: Path
) -> Iterator[Stack]:
    running = Stack(issuer, clients, app_port, tmp_path)
    yield running
    running.stop_all()
