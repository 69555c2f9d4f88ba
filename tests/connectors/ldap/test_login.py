"""Logins against a real OpenLDAP: StartTLS, ldaps with the test CA, plain LDAP, certificate
checks, wrong and empty passwords, UTF-8 names and hostile usernames."""

from __future__ import annotations

import json
import socket

import pytest

from connectors.base import ConnectorError, Scopes

pytestmark = pytest.mark.ldap

GROUPS = Scopes(groups=True)


@pytest.mark.parametrize("mode", ["starttls", "ldaps", "plain"])
def test_login_in_every_transport_mode(make_connector, mode):
    identity = make_connector(mode).login(GROUPS, "alice", "alice-secret")
    assert identity is not None
    assert identity.user_id == "alice"
    assert identity.username == "Alice Anderson"
    assert identity.preferred_username == "alice"
    assert identity.email == "alice@example.org"
    assert identity.email_verified is True
    assert set(identity.groups) == {"admins", "developers"}
    data = json.loads(identity.connector_data or b"")
    assert data == {"username": "alice", "dn": "uid=alice,ou=People,dc=example,dc=org"}


def test_ldaps_by_host_name_with_root_ca_data(make_connector, ldap_service):
    import base64
    from pathlib import Path

    pem = Path(ldap_service.ca_cert).read_bytes()
    conn = make_connector(
        "ldaps",
        host=f"localhost:{ldap_service.ldaps_port}",
        rootCA="",
        rootCAData=base64.b64encode(pem).decode(),
    )
    identity = conn.login(Scopes(), "bob", "bob-secret")
    assert identity is not None and identity.user_id == "bob"
    assert identity.groups == ()  # groups only when the client asked for them


@pytest.mark.parametrize("mode", ["starttls", "ldaps"])
def test_certificate_is_verified_by_default(make_connector, mode):
    conn = make_connector(mode, rootCA="")  # the system CAs do not know the test CA
    with pytest.raises(ConnectorError, match="certificate could not be verified"):
        conn.login(GROUPS, "alice", "alice-secret")
    with pytest.raises(ConnectorError):
        conn.check()


def test_insecure_skip_verify_accepts_unknown_ca(make_connector):
    conn = make_connector("ldaps", rootCA="", insecureSkipVerify=True)
    assert conn.login(Scopes(), "alice", "alice-secret") is not None


def test_host_name_must_match_certificate(make_connector, ldap_service, monkeypatch):
    """The certificate names localhost and 127.0.0.1; another name for the same address
    must be refused even though the CA is trusted."""
    real = socket.getaddrinfo

    def fake(host, *args, **kwargs):
        return real("127.0.0.1" if host == "ldap.mismatch.test" else host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    conn = make_connector("ldaps", host=f"ldap.mismatch.test:{ldap_service.ldaps_port}")
    with pytest.raises(ConnectorError, match="certificate"):
        conn.login(GROUPS, "alice", "alice-secret")


def test_wrong_password_and_unknown_user(make_connector):
    conn = make_connector()
    assert conn.login(GROUPS, "alice", "bob-secret") is None
    assert conn.login(GROUPS, "alice", "alice-secret ") is None
    assert conn.login(GROUPS, "nobody", "nobody-secret") is None
    assert conn.login(GROUPS, "alice", "alice-secret") is not None  # the pool still works


def test_empty_password_is_refused(make_connector):
    assert make_connector().login(GROUPS, "alice", "") is None


def test_utf8_name(make_connector):
    identity = make_connector().login(GROUPS, "zoe", "zoe-secret")
    assert identity is not None
    assert identity.username == "Zoë Ångström"
    assert identity.groups == ("developers",)


def test_first_of_two_mails_and_posix_group(make_connector):
    identity = make_connector().login(GROUPS, "carol", "carol-secret")
    assert identity is not None
    assert identity.email == "carol@example.org"
    assert identity.groups == ("ops",)


def test_several_username_attributes(make_connector, ldap_service):
    search = dict(ldap_service.config()["userSearch"], username=["uid", "mail"])
    conn = make_connector(userSearch=search)
    by_mail = conn.login(GROUPS, "c.clark@ops.example.org", "carol-secret")
    by_uid = conn.login(GROUPS, "carol", "carol-secret")
    assert by_mail is not None and by_uid is not None
    assert by_mail.user_id == by_uid.user_id == "carol"


def test_dn_as_id_and_email_suffix(make_connector, ldap_service):
    search = dict(
        ldap_service.config()["userSearch"],
        idAttr="DN",
        nameAttr="uid",
        emailSuffix="corp.example",
        preferredUsernameAttr="",
    )
    identity = make_connector(userSearch=search).login(GROUPS, "dave", "dave-secret")
    assert identity is not None
    assert identity.user_id == "uid=dave,ou=People,dc=example,dc=org"
    assert identity.email == "dave@corp.example"
    assert identity.preferred_username == ""


def test_operational_attribute_as_id(make_connector, ldap_service):
    search = dict(ldap_service.config()["userSearch"], idAttr="entryUUID")
    identity = make_connector(userSearch=search).login(GROUPS, "bob", "bob-secret")
    assert identity is not None
    assert len(identity.user_id) == 36 and identity.user_id.count("-") == 4


def test_entry_lacking_required_attribute_fails_clearly(make_connector, ldap_service):
    search = dict(ldap_service.config()["userSearch"], emailAttr="telephoneNumber")
    with pytest.raises(ConnectorError, match="lacks required attributes"):
        make_connector(userSearch=search).login(GROUPS, "bob", "bob-secret")


def test_filter_limits_who_may_log_in(make_connector, ldap_service):
    search = dict(ldap_service.config()["userSearch"], filter="(employeeNumber=1001)")
    conn = make_connector(userSearch=search)
    assert conn.login(GROUPS, "alice", "alice-secret") is not None
    assert conn.login(GROUPS, "bob", "bob-secret") is None


def test_ambiguous_username_logs_in_nobody(make_connector, directory, ldap_service):
    """Two entries share a mail address: a login by mail must not pick one of them."""
    tag = directory.tag
    shared = f"shared-{tag}@example.org"
    directory.add_user(f"twin1-{tag}", "twin-secret", mail=shared)
    directory.add_user(f"twin2-{tag}", "twin-secret", mail=shared)
    search = dict(ldap_service.config()["userSearch"], username=["uid", "mail"])
    conn = make_connector(userSearch=search)
    assert conn.login(GROUPS, shared, "twin-secret") is None
    assert conn.login(GROUPS, f"twin1-{tag}", "twin-secret") is not None


HOSTILE_USERNAMES = [
    "*",
    "a*",
    "*)(uid=*",
    ")(uid=*",
    "alice)(uid=*",
    "admin)(|(uid=*",
    "alice)(|(uid=*))",
    "*)(|(objectClass=*",
    "alice\x00",
    "\x00",
    "alice\\",
    "\\2a",
    "\\",
    "(uid=alice)",
    "uid=alice,ou=People,dc=example,dc=org",
]


@pytest.mark.parametrize("username", HOSTILE_USERNAMES)
def test_injection_attempts_log_in_nobody(make_connector, ldap_service, username):
    search = dict(ldap_service.config()["userSearch"], username=["uid", "mail"])
    conn = make_connector(userSearch=search)
    for password in ("alice-secret", "bob-secret", "x"):
        assert conn.login(GROUPS, username, password) is None


def test_directory_matching_rules_apply_to_the_same_user(make_connector):
    """uid uses caseIgnoreMatch, which also ignores surrounding spaces: these name alice
    herself, so her password (and only hers) logs her in."""
    conn = make_connector()
    for variant in ("ALICE", " alice "):
        identity = conn.login(GROUPS, variant, "alice-secret")
        assert identity is not None and identity.user_id == "alice"
        assert conn.login(GROUPS, variant, "bob-secret") is None


def test_user_with_special_characters_logs_in_as_themselves(make_connector, directory):
    """Escaping must not break legitimate names: a uid holding filter metacharacters matches
    exactly that entry (and the group search escapes its DN too)."""
    uid = f"o(d)d*{directory.tag}\\x"
    dn = directory.add_user(uid, "odd-secret")
    group = directory.add_group(f"odd-{directory.tag}", [dn])
    identity = make_connector().login(GROUPS, uid, "odd-secret")
    assert identity is not None
    assert identity.user_id == uid
    assert f"odd-{directory.tag}" in identity.groups
    assert group
    assert make_connector().login(GROUPS, uid.replace("*", "x"), "odd-secret") is None


def test_ldaps_against_a_plain_port_is_a_tls_error(make_connector, ldap_service):
    conn = make_connector("ldaps", host=f"127.0.0.1:{ldap_service.port}")
    with pytest.raises(ConnectorError, match="TLS negotiation"):
        conn.login(GROUPS, "alice", "alice-secret")


def test_start_tls_against_the_ldaps_port_fails_cleanly(make_connector, ldap_service):
    conn = make_connector("starttls", host=f"127.0.0.1:{ldap_service.ldaps_port}")
    with pytest.raises(ConnectorError):
        conn.login(GROUPS, "alice", "alice-secret")


def test_service_connections_are_pooled_and_reused(make_connector):
    conn = make_connector()
    assert conn.login(GROUPS, "alice", "alice-secret") is not None
    idle = [c for c, _ in conn._pool._idle]
    assert len(idle) == 1  # the user bind used its own connection, which was closed
    assert conn.login(GROUPS, "bob", "bob-secret") is not None
    assert [c for c, _ in conn._pool._idle] == idle
    conn.close()
    assert conn._pool._idle == [] and idle[0].closed
