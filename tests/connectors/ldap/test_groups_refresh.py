"""Groups (groupOfNames by DN, posixGroup by uid, nested groups) and refresh against a real
OpenLDAP whose entries the tests change as the directory admin."""

from __future__ import annotations

import json

import pytest
from ldap3 import MODIFY_ADD, MODIFY_DELETE, MODIFY_REPLACE

from connectors.base import ConnectorError, Identity, Scopes
from connectors.ldap import MAX_GROUP_DEPTH

pytestmark = pytest.mark.ldap

GROUPS = Scopes(groups=True, offline_access=True)
BOB = "uid=bob,ou=People,dc=example,dc=org"


def nested_config(ldap_service, recursion: str = "member") -> dict:
    matcher = {"userAttr": "DN", "groupAttr": "member"}
    if recursion:
        matcher["recursionGroupAttr"] = recursion
    return dict(
        ldap_service.config()["groupSearch"],
        filter="(objectClass=groupOfNames)",
        userMatchers=[matcher],
    )


def test_group_of_names_and_posix_groups(make_connector):
    conn = make_connector()
    alice = conn.login(GROUPS, "alice", "alice-secret")
    dave = conn.login(GROUPS, "dave", "dave-secret")
    assert alice is not None and dave is not None
    assert alice.groups == ("admins", "developers")  # by member DN
    assert dave.groups == ("ops",)  # by memberUid


def test_only_the_posix_matcher(make_connector, ldap_service):
    search = {k: v for k, v in ldap_service.config()["groupSearch"].items() if k != "userMatchers"}
    search.update(userAttr="uid", groupAttr="memberUid")  # Dex's older single-matcher form
    conn = make_connector(groupSearch=search)
    alice = conn.login(GROUPS, "alice", "alice-secret")
    carol = conn.login(GROUPS, "carol", "carol-secret")
    assert alice is not None and alice.groups == ()
    assert carol is not None and carol.groups == ("ops",)


def test_no_group_search_means_no_groups(make_connector):
    identity = make_connector(groupSearch={}).login(GROUPS, "alice", "alice-secret")
    assert identity is not None and identity.groups == ()


def test_group_without_name_attribute_fails(make_connector, ldap_service):
    search = dict(ldap_service.config()["groupSearch"], nameAttr="businessCategory")
    with pytest.raises(ConnectorError, match="name attribute"):
        make_connector(groupSearch=search).login(GROUPS, "alice", "alice-secret")


def test_nested_groups_follow_recursion_and_survive_cycles(make_connector, ldap_service, directory):
    t = directory.tag
    child = directory.add_group(f"team-{t}", [BOB])
    parent = directory.add_group(f"dept-{t}", [child])
    grand = directory.add_group(f"division-{t}", [parent])
    directory.modify(child, {"member": [(MODIFY_ADD, [grand])]})  # a cycle back to the child

    flat = make_connector(groupSearch=nested_config(ldap_service, recursion=""))
    nested = make_connector(groupSearch=nested_config(ldap_service))
    flat_groups = flat.login(GROUPS, "bob", "bob-secret")
    nested_groups = nested.login(GROUPS, "bob", "bob-secret")
    assert flat_groups is not None and nested_groups is not None
    assert set(flat_groups.groups) == {"developers", f"team-{t}"}
    assert sorted(nested_groups.groups) == sorted(
        ["developers", f"team-{t}", f"dept-{t}", f"division-{t}"]
    )


def test_nested_groups_depth_is_bounded(make_connector, ldap_service, directory):
    t = directory.tag
    chain = [directory.add_group(f"level0-{t}", [BOB])]
    for i in range(1, MAX_GROUP_DEPTH + 3):
        chain.append(directory.add_group(f"level{i}-{t}", [chain[-1]]))
    identity = make_connector(groupSearch=nested_config(ldap_service)).login(
        GROUPS, "bob", "bob-secret"
    )
    assert identity is not None
    found = {g for g in identity.groups if g.endswith(t)}
    assert found == {f"level{i}-{t}" for i in range(MAX_GROUP_DEPTH + 1)}


def test_refresh_sees_group_and_attribute_changes(make_connector, directory):
    t = directory.tag
    uid = f"refresh-{t}"
    dn = directory.add_user(uid, "refresh-secret", cn="Before Change")
    conn = make_connector()
    identity = conn.login(GROUPS, uid, "refresh-secret")
    assert identity is not None and identity.groups == ()

    group = directory.add_group(f"newgroup-{t}", [BOB])
    directory.modify(group, {"member": [(MODIFY_ADD, [dn])]})
    directory.modify(dn, {"cn": [(MODIFY_REPLACE, ["After Change"])]})
    refreshed = conn.refresh(GROUPS, identity)
    assert refreshed.groups == (f"newgroup-{t}",)
    assert refreshed.username == "After Change"
    assert refreshed.connector_data == identity.connector_data

    directory.modify(group, {"member": [(MODIFY_DELETE, [dn])]})
    assert conn.refresh(GROUPS, refreshed).groups == ()
    assert conn.refresh(Scopes(), refreshed).groups == ()


def test_refresh_fails_after_user_deletion(make_connector, directory):
    uid = f"leaver-{directory.tag}"
    dn = directory.add_user(uid, "leaver-secret")
    conn = make_connector()
    identity = conn.login(GROUPS, uid, "leaver-secret")
    assert identity is not None
    assert conn.refresh(GROUPS, identity).user_id == uid
    directory.delete(dn)
    with pytest.raises(ConnectorError, match="no longer exists"):
        conn.refresh(GROUPS, identity)
    assert conn.login(GROUPS, uid, "leaver-secret") is None


def test_refresh_refuses_a_different_entry_under_the_same_name(make_connector):
    forged = Identity(
        user_id="bob",
        username="Bob Brown",
        connector_data=json.dumps({"username": "bob", "dn": "uid=bob,ou=Old,dc=x"}).encode(),
    )
    with pytest.raises(ConnectorError, match="no longer exists"):
        make_connector().refresh(GROUPS, forged)


def test_refresh_accepts_connector_data_written_by_dex(make_connector):
    dex_data = {"username": "bob", "entry": {"DN": BOB, "Attributes": []}}
    identity = Identity(user_id="bob", username="", connector_data=json.dumps(dex_data).encode())
    refreshed = make_connector().refresh(GROUPS, identity)
    assert refreshed.user_id == "bob" and refreshed.groups == ("developers",)


def test_anonymous_search_sees_no_users(make_connector):
    """The test directory hides entries from anonymous clients: an empty bindDN means an
    anonymous search (as in Dex), which finds nobody - but the directory is reachable."""
    conn = make_connector(bindDN="", bindPW="")
    conn.check()
    assert conn.login(GROUPS, "alice", "alice-secret") is None


def test_wrong_service_password_is_a_connector_error(make_connector):
    conn = make_connector(bindPW="not-the-secret")
    with pytest.raises(ConnectorError, match="service account"):
        conn.login(GROUPS, "alice", "alice-secret")
    with pytest.raises(ConnectorError, match="service account"):
        conn.check()
