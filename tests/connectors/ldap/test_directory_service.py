"""The test directory itself (``tests/services/openldap.py``): slapd gives up root, and
anonymous clients see nothing but the root DSE."""

from __future__ import annotations

import os
import pwd

import pytest
from ldap3 import Connection, Server

from tests.services.openldap import SERVICE_USER, running_on

pytestmark = [pytest.mark.ldap]


def test_slapd_does_not_keep_root(ldap_service):
    if os.geteuid() != 0:
        pytest.skip("not started by root: slapd runs as the invoking user")
    instance = running_on(ldap_service.port)
    assert instance is not None and instance.process.poll() is None
    owner = os.stat(f"/proc/{instance.process.pid}").st_uid
    assert pwd.getpwuid(owner).pw_name == SERVICE_USER


def test_anonymous_clients_read_only_the_root_dse(ldap_service):
    conn = Connection(Server("127.0.0.1", port=ldap_service.port), auto_bind=True)
    try:
        assert conn.search(
            "", "(objectClass=*)", search_scope="BASE", attributes=["namingContexts"]
        )
        assert conn.entries[0].namingContexts.value == "dc=example,dc=org"
        assert not conn.search("dc=example,dc=org", "(uid=alice)")
        assert conn.result["description"] == "noSuchObject"  # the suffix itself is hidden
    finally:
        conn.unbind()
