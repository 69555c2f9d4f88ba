"""Fixtures for the LDAP connector tests: a real OpenLDAP (``tests/services/openldap.py``) per
xdist worker, a factory for connectors configured against it, and an admin connection to change
the directory during a test.

Ports are offset by the xdist worker number (``gw0`` -> +0, ``gw1`` -> +1, ...) so that parallel
workers never share a directory. Tests that change the directory create their own entries with
unique names and remove them afterwards; the seed entries are only read.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from ldap3 import Connection, Server
from ldap3.utils.dn import escape_rdn

from connectors.ldap import LDAPConnector
from tests.services import missing_service, port_open
from tests.services.openldap import start_slapd, stop_on_port

LDAP_PORT_BASE = 13890
LDAPS_PORT_BASE = 16360
SPARE_PORT_BASE = 13990  # the throwaway directory that the outage test stops and restarts
SPARE_LDAPS_PORT_BASE = 16460
PORT_STEP = 200  # main and spare bases interleave by 100, so their steps never meet

PEOPLE = "ou=People,dc=example,dc=org"
GROUPS = "ou=Groups,dc=example,dc=org"


def worker_offset() -> int:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    digits = worker.removeprefix("gw")
    return int(digits) if digits.isdigit() else 0


@dataclass(frozen=True)
class LdapService:
    """A running test directory, as ``SlapdInstance.env`` describes it."""

    port: int
    ldaps_port: int
    ca_cert: str
    bind_dn: str
    bind_pw: str
    admin_dn: str
    admin_pw: str
    users_dn: str
    groups_dn: str

    @property
    def url(self) -> str:
        return f"ldap://127.0.0.1:{self.port}"

    def admin(self) -> Connection:
        """A plain connection bound as the directory's root DN (the caller unbinds it)."""
        server = Server("127.0.0.1", port=self.port, connect_timeout=5)
        return Connection(server, self.admin_dn, self.admin_pw, auto_bind=True, receive_timeout=10)

    def config(self, mode: str = "starttls", **overrides: Any) -> dict[str, Any]:
        """A Dex-style ``config:`` mapping for this directory; ``mode`` is ``starttls``,
        ``ldaps`` or ``plain``. ``overrides`` replace top-level keys."""
        host = {
            "starttls": f"127.0.0.1:{self.port}",
            "plain": f"127.0.0.1:{self.port}",
            "ldaps": f"127.0.0.1:{self.ldaps_port}",
        }[mode]
        config: dict[str, Any] = {
            "host": host,
            "bindDN": self.bind_dn,
            "bindPW": self.bind_pw,
            "userSearch": {
                "baseDN": self.users_dn,
                "filter": "(objectClass=inetOrgPerson)",
                "username": "uid",
                "idAttr": "uid",
                "emailAttr": "mail",
                "nameAttr": "cn",
                "preferredUsernameAttr": "uid",
            },
            "groupSearch": {
                "baseDN": self.groups_dn,
                "filter": "(|(objectClass=groupOfNames)(objectClass=posixGroup))",
                "userMatchers": [
                    {"userAttr": "DN", "groupAttr": "member"},
                    {"userAttr": "uid", "groupAttr": "memberUid"},
                ],
                "nameAttr": "cn",
            },
        }
        if mode == "starttls":
            config.update(startTLS=True, rootCA=self.ca_cert)
        elif mode == "ldaps":
            config.update(rootCA=self.ca_cert)
        else:
            config.update(insecureNoSSL=True)
        config.update(overrides)
        return config


def pick_ports(ldap_base: int, ldaps_base: int) -> tuple[int, int]:
    """``base + worker offset``, stepping on by ``PORT_STEP`` while another test run (say, a
    second pytest on the same machine) already has a directory there."""
    offset = worker_offset()
    for attempt in range(20):
        port = ldap_base + offset + attempt * PORT_STEP
        ldaps_port = ldaps_base + offset + attempt * PORT_STEP
        if not port_open("127.0.0.1", port, 0.5) and not port_open("127.0.0.1", ldaps_port, 0.5):
            return port, ldaps_port
    missing_service("openldap", f"no free port pair from {ldap_base + offset}")


def start_ldap(port: int, ldaps_port: int) -> LdapService:
    """Start (or restart, freshly seeded) the directory on these ports; skip/fail if we can't."""
    env = start_slapd(port, ldaps_port).env()
    return LdapService(
        port=port,
        ldaps_port=ldaps_port,
        ca_cert=env["LDAP_CA_CERT"],
        bind_dn=env["LDAP_BIND_DN"],
        bind_pw=env["LDAP_BIND_PASSWORD"],
        admin_dn=env["LDAP_ADMIN_DN"],
        admin_pw=env["LDAP_ADMIN_PASSWORD"],
        users_dn=env["LDAP_USERS_DN"],
        groups_dn=env["LDAP_GROUPS_DN"],
    )


def stop_ldap(port: int) -> None:
    stop_on_port(port)


@pytest.fixture(scope="session")
def ldap_service() -> Iterator[LdapService]:
    """The worker's OpenLDAP, seeded with ``tests/services/openldap_seed.ldif``; stopped at
    session end."""
    service = start_ldap(*pick_ports(LDAP_PORT_BASE, LDAPS_PORT_BASE))
    yield service
    stop_ldap(service.port)


@pytest.fixture
def spare_ldap() -> Iterator[tuple[LdapService, Callable[[], LdapService]]]:
    """A second, throwaway directory the test may stop; returns (service, restart)."""
    ports = pick_ports(SPARE_PORT_BASE, SPARE_LDAPS_PORT_BASE)
    service = start_ldap(*ports)
    try:
        yield service, lambda: start_ldap(*ports)
    finally:
        stop_ldap(ports[0])


@pytest.fixture
def make_connector(ldap_service: LdapService) -> Iterator[Callable[..., LDAPConnector]]:
    """``make_connector(mode="starttls", service=None, **config_overrides)``; closed after."""
    opened: list[LDAPConnector] = []

    def factory(mode: str = "starttls", service: LdapService | None = None, **kw: Any):
        config = (service or ldap_service).config(mode, **kw)
        conn = LDAPConnector.open(config, connector_id="ldap")
        opened.append(conn)
        return conn

    yield factory
    for conn in opened:
        conn.close()


@pytest.fixture
def directory(ldap_service: LdapService) -> Iterator[Directory]:
    """Admin access for adding users and groups; everything added is deleted afterwards."""
    admin = ldap_service.admin()
    d = Directory(admin)
    try:
        yield d
    finally:
        d.cleanup()
        admin.unbind()


class Directory:
    """Adds uniquely named entries as the directory admin and removes them at the end."""

    def __init__(self, admin: Connection) -> None:
        self.admin = admin
        self.created: list[str] = []
        self.tag = uuid.uuid4().hex[:8]

    def add(self, dn: str, object_class: list[str], attributes: dict[str, Any]) -> str:
        assert self.admin.add(dn, object_class, attributes), self.admin.result
        self.created.append(dn)
        return dn

    def add_user(self, uid: str, password: str, **attributes: Any) -> str:
        dn = f"uid={escape_rdn(uid)},{PEOPLE}"
        attrs = {"uid": uid, "cn": uid, "sn": uid, "mail": f"{uid}@example.org"}
        attrs.update(userPassword=password, **attributes)
        return self.add(dn, ["inetOrgPerson"], attrs)

    def add_group(self, cn: str, members: list[str]) -> str:
        dn = f"cn={escape_rdn(cn)},{GROUPS}"
        return self.add(dn, ["groupOfNames"], {"cn": cn, "member": members})

    def modify(self, dn: str, changes: dict[str, Any]) -> None:
        assert self.admin.modify(dn, changes), self.admin.result

    def delete(self, dn: str) -> None:
        assert self.admin.delete(dn), self.admin.result
        if dn in self.created:
            self.created.remove(dn)

    def cleanup(self) -> None:
        for dn in reversed(self.created):
            self.admin.delete(dn)
        self.created.clear()
