"""Password users managed at run time, on memory, SQLite and PostgreSQL: hashed passwords that
the ``local`` connector accepts, validation, config users read-only, versions, and deletion
ending the user's sessions and refresh tokens."""

from __future__ import annotations

import json

import bcrypt
import pytest

from connectors.base import Scopes
from dex_py import revocation
from dex_py.config.model import LOCAL_CONNECTOR_ID
from dex_py.jose.tokens import encode_sub
from dex_py.management import users
from dex_py.management.actor import Actor
from dex_py.management.errors import AlreadyExists, Conflict, Invalid, NotFound, ReadOnly
from dex_py.management.users import UserSpec
from dex_py.services import Services
from dex_py.storage.base import session_marker
from tests.management.test_clients import admin_records
from tests.storage import factories

JANE = UserSpec(email="Jane@Example.com", username="jane", password="correct horse battery")
STATIC = "admin@example.com"  # staticPasswords in tests.oauth.conftest


def local_login(svc: Services, email: str, password: str) -> bool:
    """Log in through the ``local`` connector as the password form does."""
    entry = svc.connectors.get(LOCAL_CONNECTOR_ID)
    connector = entry.password() if entry is not None else None
    assert connector is not None
    identity = connector.login(Scopes(groups=True), email, password)
    return identity is not None


def test_create_hashes_the_password_and_the_local_connector_accepts_it(
    svc: Services, actor: Actor
) -> None:
    view = users.create_user(svc, actor, JANE)
    assert view.email == "jane@example.com" and not view.static
    assert len(view.user_id) == 36  # a UUID
    assert view.sub == encode_sub(view.user_id, LOCAL_CONNECTOR_ID)
    stored = svc.storage.get_password("jane@example.com")
    assert bcrypt.checkpw(JANE.password.encode(), stored.hash)
    assert JANE.password.encode() not in stored.hash
    assert local_login(svc, "jane@example.com", JANE.password)
    assert not local_login(svc, "jane@example.com", "wrong")
    [record] = admin_records(svc)
    assert record["details"]["action"] == "user.create"
    assert record["object"] == "user:jane@example.com"
    assert JANE.password not in json.dumps(record, default=str)
    assert "hash" not in repr(view)


def test_every_problem_at_once_and_nothing_stored(svc: Services, actor: Actor) -> None:
    spec = UserSpec(
        email="not-an-address",
        username="",
        password="",
        user_id="bad\x00id",
        groups=("ok", "", "ok"),
    )
    with pytest.raises(Invalid) as caught:
        users.create_user(svc, actor, spec)
    fields = {f for f, _ in caught.value.errors}
    assert fields == {"email", "username", "password", "user_id", "groups", "groups[1]"}
    assert [u.email for u in users.list_users(svc)] == [STATIC]


def test_taken_addresses_and_user_ids(svc: Services, actor: Actor) -> None:
    jane = users.create_user(svc, actor, JANE)
    with pytest.raises(AlreadyExists):
        users.create_user(svc, actor, UserSpec("JANE@example.com", "j2", "pw-pw-pw-pw"))
    with pytest.raises(AlreadyExists):
        users.create_user(svc, actor, UserSpec(STATIC, "admin2", "pw-pw-pw-pw"))
    with pytest.raises(AlreadyExists):
        users.create_user(
            svc, actor, UserSpec("other@example.com", "o", "pw-pw-pw-pw", user_id=jane.user_id)
        )
    assert [u.email for u in users.list_users(svc)] == [STATIC, "jane@example.com"]


def test_update_username_groups_and_password(svc: Services, actor: Actor) -> None:
    view = users.create_user(svc, actor, JANE)
    updated = users.update_user(
        svc,
        actor,
        "JANE@example.com",
        {"username": "Jane D.", "groups": ["ops", "dev"], "password": "a new passphrase"},
        expected_version=view.version,
    )
    assert (updated.username, updated.groups) == ("Jane D.", ("ops", "dev"))
    assert updated.user_id == view.user_id and updated.version != view.version
    assert local_login(svc, "jane@example.com", "a new passphrase")
    assert not local_login(svc, "jane@example.com", JANE.password)
    with pytest.raises(Conflict):
        users.update_user(
            svc, actor, "jane@example.com", {"username": "x"}, expected_version=view.version
        )
    assert users.get_user(svc, "jane@example.com") == updated
    record = admin_records(svc)[1]
    assert record["details"]["fields"] == ["groups", "password", "username"]
    assert "a new passphrase" not in json.dumps(admin_records(svc), default=str)


def test_bad_updates_are_refused(svc: Services, actor: Actor) -> None:
    view = users.create_user(svc, actor, JANE)
    for changes in (
        {"user_id": "other"},
        {"email": "x@example.com"},
        {"password": ""},
        {"password": "x" * 73},
        {"groups": "ops"},
        {"username": 7},
    ):
        with pytest.raises(Invalid):
            users.update_user(svc, actor, "jane@example.com", changes)
    assert users.get_user(svc, "jane@example.com") == view


def test_config_users_are_read_only(svc: Services, actor: Actor) -> None:
    static = users.get_user(svc, STATIC)
    assert static.static and static.groups == ("admins",)
    with pytest.raises(ReadOnly):
        users.update_user(svc, actor, STATIC, {"username": "evil"})
    with pytest.raises(ReadOnly):
        users.delete_user(svc, actor, STATIC.upper())
    assert users.get_user(svc, STATIC) == static


def test_unknown_users(svc: Services, actor: Actor) -> None:
    with pytest.raises(NotFound):
        users.get_user(svc, "nobody@example.com")
    with pytest.raises(NotFound):
        users.update_user(svc, actor, "nobody@example.com", {"username": "x"})
    with pytest.raises(NotFound):
        users.delete_user(svc, actor, "nobody@example.com")


def test_delete_ends_the_users_sessions_and_refresh_tokens(svc: Services, actor: Actor) -> None:
    jane = users.create_user(svc, actor, JANE)
    claims = factories.claims(user_id=jane.user_id)
    mine = factories.refresh_token(claims=claims, connector_id=LOCAL_CONNECTOR_ID)
    same_id_other_connector = factories.refresh_token(claims=claims, connector_id="mock")
    session = factories.session(claims=claims, connector_id=LOCAL_CONNECTOR_ID, clients=())
    for token in (mine, same_id_other_connector):
        svc.storage.create_refresh_token(token)
    svc.storage.create_session(session)
    users.delete_user(svc, actor, "jane@example.com", expected_version=jane.version)
    with pytest.raises(NotFound):
        users.get_user(svc, "jane@example.com")
    assert [t.id for t in svc.storage.list_refresh_tokens()] == [same_id_other_connector.id]
    assert svc.storage.list_sessions() == []
    assert svc.storage.is_access_token_revoked("jti", revocation.grant_id_of(mine.id))
    assert svc.storage.any_revoked([session_marker(session.id)])
    assert not local_login(svc, "jane@example.com", JANE.password)
    details = admin_records(svc)[-1]["details"]
    assert (details["action"], details["sessions"], details["refresh_tokens"]) == (
        "user.delete",
        1,
        1,
    )


def test_every_user_write_bumps_the_generation_and_a_refused_one_does_not(
    svc: Services, actor: Actor
) -> None:
    start = svc.storage.generation()
    users.create_user(svc, actor, JANE)
    users.update_user(svc, actor, "jane@example.com", {"groups": ["ops"]})
    users.delete_user(svc, actor, "jane@example.com")
    assert svc.storage.generation() == start + 3
    with pytest.raises(ReadOnly):
        users.delete_user(svc, actor, STATIC)
    with pytest.raises(Invalid):
        users.create_user(svc, actor, UserSpec("x", "", ""))
    assert svc.storage.generation() == start + 3


@pytest.mark.parametrize("email", ["/jane@example.com", "jane@example.com/x", "a/b@example.com"])
def test_an_address_with_a_slash_is_refused(svc: Services, actor: Actor, email: str) -> None:
    """It could never be named in the console's or the API's URLs (``/users/<email>``)."""
    with pytest.raises(Invalid) as caught:
        users.create_user(svc, actor, UserSpec(email, "jane", "pw-pw-pw-pw"))
    assert [f for f, _ in caught.value.errors] == ["email"]
