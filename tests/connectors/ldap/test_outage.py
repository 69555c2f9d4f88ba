"""The directory goes away and comes back: logins and ``check()`` report it as a
``ConnectorError``, and the connection pool recovers without a restart of the connector."""

from __future__ import annotations

import pytest

from connectors.base import ConnectorError, Identity, Scopes
from tests.connectors.ldap.conftest import stop_ldap

pytestmark = [pytest.mark.ldap, pytest.mark.slow]

UNREACHABLE = "the LDAP directory is unreachable"


@pytest.mark.parametrize("mode", ["starttls", "ldaps"])
def test_directory_down_and_back(make_connector, spare_ldap, mode):
    service, restart = spare_ldap
    conn = make_connector(mode, service=service)
    conn.check()
    assert conn.login(Scopes(groups=True), "alice", "alice-secret") is not None  # pool warm

    stop_ldap(service.port)
    with pytest.raises(ConnectorError, match=UNREACHABLE):
        conn.check()
    with pytest.raises(ConnectorError, match=UNREACHABLE):
        conn.login(Scopes(groups=True), "alice", "alice-secret")
    identity_data = b'{"username": "alice", "dn": "uid=alice,ou=People,dc=example,dc=org"}'
    with pytest.raises(ConnectorError, match=UNREACHABLE):
        conn.refresh(Scopes(), Identity("alice", "Alice", connector_data=identity_data))

    restarted = restart()  # same ports, a new CA: reopen the connector with it
    assert restarted.port == service.port
    again = make_connector(mode, service=restarted)
    again.check()
    assert again.login(Scopes(groups=True), "alice", "alice-secret") is not None


def test_pooled_connections_recover_after_restart(make_connector, spare_ldap):
    """Plain LDAP (no CA to change): the same connector object keeps working after the
    directory restarts, replacing its stale pooled connections."""
    service, restart = spare_ldap
    conn = make_connector("plain", service=service)
    assert conn.login(Scopes(groups=True), "bob", "bob-secret") is not None
    stop_ldap(service.port)
    with pytest.raises(ConnectorError, match=UNREACHABLE):
        conn.check()
    restart()
    conn.check()
    identity = conn.login(Scopes(groups=True), "bob", "bob-secret")
    assert identity is not None and identity.groups == ("developers",)
