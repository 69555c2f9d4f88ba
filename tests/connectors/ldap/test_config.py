"""The LDAP connector's config: every Dex key is read, errors name their key paths, and nothing
touches the network before a login (no directory needed here)."""

from __future__ import annotations

import base64
import json
import uuid

import pytest

import connectors
from connectors.base import ConnectorConfigError, ConnectorError, Identity, Scopes, parse_config
from connectors.ldap import LDAPConnector, _refresh_data, _text
from connectors.ldap_config import LDAPConfig, UserMatcher

MINIMAL = {"host": "ldap.example.org", "userSearch": {"baseDN": "dc=x", "username": "uid"}}

PEM = "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUZm9v\n-----END CERTIFICATE-----\n"


def config(**overrides) -> dict:
    return {**MINIMAL, **overrides}


def errors_of(data) -> dict[str, str]:
    with pytest.raises(ConnectorConfigError) as info:
        parse_config(LDAPConfig, data)
    return dict(info.value.errors)


def test_every_key_is_read():
    data = {
        "host": "ldap.example.org:1636",
        "insecureNoSSL": False,
        "startTLS": True,
        "insecureSkipVerify": True,
        "rootCA": "/etc/ca.pem",
        "rootCAData": base64.b64encode(PEM.encode()).decode(),
        "clientCert": "/etc/client.pem",
        "clientKey": "/etc/client.key",
        "bindDN": "cn=svc,dc=x",
        "bindPW": "pw",
        "usernamePrompt": "Corporate ID",
        "userSearch": {
            "baseDN": "ou=People,dc=x",
            "filter": "(objectClass=person)",
            "username": ["uid", "mail"],
            "scope": "one",
            "idAttr": "entryUUID",
            "emailAttr": "userPrincipalName",
            "nameAttr": "displayName",
            "preferredUsernameAttr": "sAMAccountName",
            "emailSuffix": "corp.example",
        },
        "groupSearch": {
            "baseDN": "ou=Groups,dc=x",
            "filter": "(objectClass=group)",
            "scope": "one",
            "nameAttr": "name",
            "userMatchers": [
                {"userAttr": "DN", "groupAttr": "member", "recursionGroupAttr": "member"}
            ],
        },
    }
    c = parse_config(LDAPConfig, data)
    assert c.address() == ("ldap.example.org", 1636)
    assert (c.start_tls, c.insecure_skip_verify, c.insecure_no_ssl) == (True, True, False)
    assert (c.root_ca, c.client_cert, c.client_key) == (
        "/etc/ca.pem",
        "/etc/client.pem",
        "/etc/client.key",
    )
    assert c.ca_data() == PEM
    assert (c.bind_dn, c.bind_pw, c.username_prompt) == ("cn=svc,dc=x", "pw", "Corporate ID")
    us = c.user_search
    assert us.username_attrs == ("uid", "mail")
    assert (us.base_dn, us.filter, us.scope) == ("ou=People,dc=x", "(objectClass=person)", "one")
    assert (us.id_attr, us.email_attr, us.name_attr) == (
        "entryUUID",
        "userPrincipalName",
        "displayName",
    )
    assert (us.preferred_username_attr, us.email_suffix) == ("sAMAccountName", "corp.example")
    gs = c.group_search
    assert (gs.base_dn, gs.filter, gs.scope, gs.name_attr) == (
        "ou=Groups,dc=x",
        "(objectClass=group)",
        "one",
        "name",
    )
    assert gs.matchers == (
        UserMatcher(user_attr="DN", group_attr="member", recursion_group_attr="member"),
    )


def test_defaults():
    c = parse_config(LDAPConfig, MINIMAL)
    assert c.use_ldaps and not c.use_start_tls
    assert c.address() == ("ldap.example.org", 636)
    assert c.username_prompt == "Username"
    us = c.user_search
    assert (us.username_attrs, us.scope, us.id_attr, us.email_attr, us.name_attr) == (
        ("uid",),
        "sub",
        "uid",
        "mail",
        "cn",
    )
    assert c.group_search.base_dn == "" and c.group_search.matchers == ()


@pytest.mark.parametrize(
    ("extra", "address"),
    [
        ({"insecureNoSSL": True}, ("ldap.example.org", 389)),
        ({"startTLS": True}, ("ldap.example.org", 389)),
        ({"host": "ldap.example.org:10389", "startTLS": True}, ("ldap.example.org", 10389)),
        ({"host": "[::1]:1389"}, ("::1", 1389)),
        ({"host": "[::1]"}, ("::1", 636)),
    ],
)
def test_default_ports(extra, address):
    assert parse_config(LDAPConfig, config(**extra)).address() == address


def test_insecure_no_ssl_wins_over_start_tls_like_dex():
    c = parse_config(LDAPConfig, config(insecureNoSSL=True, startTLS=True))
    assert not c.use_start_tls and not c.use_ldaps


def test_older_group_search_form_is_one_matcher():
    c = parse_config(
        LDAPConfig,
        config(groupSearch={"baseDN": "ou=G", "userAttr": "uid", "groupAttr": "memberUid"}),
    )
    assert c.group_search.matchers == (UserMatcher(user_attr="uid", group_attr="memberUid"),)


def test_raw_pem_accepted_in_root_ca_data():
    assert parse_config(LDAPConfig, config(rootCAData=PEM)).ca_data() == PEM.strip()


@pytest.mark.parametrize(
    ("data", "path", "fragment"),
    [
        ({"userSearch": {"baseDN": "dc=x", "username": "uid"}}, "config.host", "required"),
        ({"host": "h"}, "config.userSearch", "required"),
        (config(userSearch={"username": "uid"}), "config.userSearch.baseDN", "required"),
        (config(userSearch={"baseDN": "dc=x"}), "config.userSearch.username", "required"),
        (
            config(userSearch={"baseDN": "dc=x", "username": "uid", "scope": "base"}),
            "config.userSearch.scope",
            "'sub' or 'one'",
        ),
        (
            config(userSearch={"baseDN": "dc=x", "username": "uid", "filter": "uid=x"}),
            "config.userSearch.filter",
            "RFC 4515",
        ),
        (
            config(userSearch={"baseDN": "dc=x", "username": 5}),
            "config.userSearch.username",
            "attribute name",
        ),
        (
            config(userSearch={"baseDN": "dc=x", "username": ["uid", ""]}),
            "config.userSearch.username[1]",
            "attribute name",
        ),
        (
            config(userSearch={"baseDN": "dc=x", "username": "uid", "usernme": "x"}),
            "config.userSearch.usernme",
            "unknown key",
        ),
        (
            config(groupSearch={"baseDN": "ou=G", "userMatchers": [{"userAttr": "DN"}]}),
            "config.groupSearch.userMatchers[0].groupAttr",
            "required",
        ),
        (config(groupSearch={"baseDN": "ou=G"}), "config.groupSearch.userMatchers", "at least"),
        (
            config(groupSearch={"baseDN": "ou=G", "userAttr": "uid"}),
            "config.groupSearch.userAttr",
            "together",
        ),
        (
            config(
                groupSearch={"baseDN": "ou=G", "filter": "(cn=x", "userAttr": "a", "groupAttr": "b"}
            ),
            "config.groupSearch.filter",
            "RFC 4515",
        ),
        (config(bindPW="secret"), "config.bindDN", "bindPW"),
        (config(clientCert="/c.pem"), "config.clientCert", "together"),
        (config(rootCAData="bm90IGEgcGVt"), "config.rootCAData", "base64"),
        (config(host="ldap:notaport"), "config.host", "port"),
        (config(host="ldap:0"), "config.host", "port"),
        (config(startTLS="yes"), "config.startTLS", "true or false"),
        (config(hots="x"), "config.hots", "unknown key"),
    ],
)
def test_errors_name_their_key_path(data, path, fragment):
    errors = errors_of(data)
    assert path in errors, errors
    assert fragment in errors[path]


def test_registry_knows_ldap():
    assert connectors.resolve("ldap") is LDAPConnector
    problems = dict(connectors.validate_connector_config("ldap", {"host": "h"}))
    assert problems == {"config.userSearch": "required"}
    assert connectors.validate_connector_config("ldap", MINIMAL) == []


def test_prompt():
    assert LDAPConnector.open(MINIMAL, connector_id="l").prompt() == "Username"
    custom = LDAPConnector.open(config(usernamePrompt="Corporate ID"), connector_id="l")
    assert custom.prompt() == "Corporate ID"


def closed_port_connector(**overrides) -> LDAPConnector:
    """Nothing listens on port 1: opening must still work, using it must not."""
    return LDAPConnector.open(
        config(host="127.0.0.1:1", insecureNoSSL=True, **overrides), connector_id="l"
    )


def test_open_does_not_connect_and_use_reports_unreachable():
    conn = closed_port_connector()
    with pytest.raises(ConnectorError, match="the LDAP directory is unreachable"):
        conn.login(Scopes(), "alice", "alice-secret")
    with pytest.raises(ConnectorError, match="unreachable"):
        conn.check()


@pytest.mark.parametrize(("username", "password"), [("alice", ""), ("", "x")])
def test_empty_credentials_are_refused_before_any_network(username, password):
    # Were a bind attempted, the closed port would raise ConnectorError instead.
    assert closed_port_connector().login(Scopes(), username, password) is None


def test_refresh_without_connector_data_fails():
    identity = Identity(user_id="alice", username="Alice", connector_data=None)
    with pytest.raises(ConnectorError, match="log in again"):
        closed_port_connector().refresh(Scopes(), identity)


def test_refresh_data_reads_ours_and_dexs():
    ours = json.dumps({"username": "alice", "dn": "uid=alice,dc=x"}).encode()
    dex = json.dumps({"username": "bob", "entry": {"DN": "uid=bob,dc=x", "Attributes": []}})
    assert _refresh_data(ours) == ("alice", "uid=alice,dc=x")
    assert _refresh_data(dex.encode()) == ("bob", "uid=bob,dc=x")
    assert _refresh_data(b"not json") == ("", "")
    assert _refresh_data(b"[1]") == ("", "")


def test_binary_attribute_rendering():
    guid = uuid.UUID("3f2504e0-4f89-11d3-9a0c-0305e82c3301")
    assert _text("objectGUID", guid.bytes_le) == str(guid)
    assert _text("jpegPhoto", b"\xff\xfe") == "fffe"
    assert _text("cn", "Zoë".encode()) == "Zoë"


def test_unreadable_certificate_files_are_config_errors(tmp_path):
    missing = str(tmp_path / "nope.pem")
    with pytest.raises(ConnectorConfigError) as info:
        LDAPConnector.open(
            config(rootCA=missing, clientCert=missing, clientKey=missing), connector_id="l"
        )
    paths = [path for path, _ in info.value.errors]
    assert paths == ["config.rootCA", "config.clientCert", "config.clientKey"]
