"""``StaticOverlay``: config-defined clients, passwords and connectors are visible and read-only."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from dex_py.storage.base import (
    AlreadyExistsError,
    NotFoundError,
    ReadOnlyError,
    Storage,
)
from dex_py.storage.memory import MemoryStorage
from dex_py.storage.static import StaticOverlay
from tests.storage import factories as f


@pytest.fixture
def overlay(storage: Storage) -> StaticOverlay:
    return StaticOverlay(
        storage,
        clients=[f.client(id="static-app")],
        passwords=[f.password(email="Admin@Example.com")],
        connectors=[f.connector(id="static-ldap")],
    )


def test_static_objects_are_visible(overlay: StaticOverlay) -> None:
    assert overlay.get_client("static-app").id == "static-app"
    assert overlay.get_password("admin@example.com").email == "Admin@Example.com"
    assert overlay.get_connector("static-ldap").id == "static-ldap"
    assert isinstance(overlay, Storage)


def test_lists_merge_static_and_stored(overlay: StaticOverlay) -> None:
    stored = f.client(id="a-stored")
    overlay.create_client(stored)
    assert [c.id for c in overlay.list_clients()] == ["a-stored", "static-app"]
    overlay.create_password(f.password(email="user@example.com"))
    assert {p.email.lower() for p in overlay.list_passwords()} == {
        "admin@example.com",
        "user@example.com",
    }
    overlay.create_connector(f.connector(id="dynamic"))
    assert [c.id for c in overlay.list_connectors()] == ["dynamic", "static-ldap"]


@pytest.mark.parametrize(
    ("kind", "key"),
    [("client", "static-app"), ("password", "ADMIN@example.com"), ("connector", "static-ldap")],
)
def test_static_objects_are_read_only(overlay: StaticOverlay, kind: str, key: str) -> None:
    with pytest.raises(ReadOnlyError):
        getattr(overlay, f"update_{kind}")(key, lambda old: old)
    with pytest.raises(ReadOnlyError):
        getattr(overlay, f"delete_{kind}")(key)
    assert getattr(overlay, f"get_{kind}")(key) is not None


def test_create_over_static_id_is_refused(overlay: StaticOverlay, storage: Storage) -> None:
    with pytest.raises(AlreadyExistsError):
        overlay.create_client(f.client(id="static-app"))
    with pytest.raises(AlreadyExistsError):
        overlay.create_password(f.password(email="admin@EXAMPLE.com"))
    with pytest.raises(AlreadyExistsError):
        overlay.create_connector(f.connector(id="static-ldap"))
    assert storage.list_clients() == []
    assert storage.list_passwords() == []
    assert storage.list_connectors() == []


def test_stored_objects_are_writable_through_overlay(overlay: StaticOverlay) -> None:
    c = f.client()
    overlay.create_client(c)
    assert overlay.update_client(c.id, lambda o: replace(o, name="x")).name == "x"
    overlay.delete_client(c.id)
    with pytest.raises(NotFoundError):
        overlay.get_client(c.id)


def test_everything_else_is_delegated(overlay: StaticOverlay, storage: Storage) -> None:
    token = f.refresh_token()
    overlay.create_refresh_token(token)
    assert storage.get_refresh_token(token.id) == token
    assert overlay.list_refresh_tokens(client_id=token.client_id) == [token]
    keys = overlay.update_keys(lambda old: f.keys())
    assert storage.get_keys() == keys == overlay.get_keys()
    overlay.revoke_access_token("j", f.T0)
    assert storage.is_access_token_revoked("j")
    overlay.ping()


class _NoClientLookups(MemoryStorage):
    def get_client(self, id: str):  # type: ignore[no-untyped-def]
        raise AssertionError("static client lookup reached the database")


def test_static_client_lookup_does_not_touch_storage() -> None:
    static = f.client(id="hot")
    overlay = StaticOverlay(_NoClientLookups(), clients=[static])
    assert overlay.get_client("hot") is static


def test_sessions_and_logout_events_are_delegated(overlay: StaticOverlay, storage: Storage) -> None:
    s = f.session(claims=f.claims(user_id="u-static"))
    overlay.create_session(s)
    assert storage.get_session(s.id) == s == overlay.get_session(s.id)
    assert overlay.list_sessions(user_id="u-static") == [s]
    assert overlay.list_sessions(user_id="other") == []
    touched = overlay.update_session(s.id, lambda o: replace(o, clients=("static-app",)))
    assert storage.get_session(s.id) == touched
    overlay.delete_session(s.id)
    with pytest.raises(NotFoundError):
        storage.get_session(s.id)

    due = f.logout_event(status="pending", next_attempt=f.T0)
    done = f.logout_event(status="delivered", next_attempt=None)
    overlay.create_logout_event(due)
    overlay.create_logout_event(done)
    assert storage.get_logout_event(due.id) == due == overlay.get_logout_event(due.id)
    assert overlay.list_logout_events(status="delivered") == [done]
    assert overlay.list_logout_events(due_before=f.T0) == [due]
    sent = overlay.update_logout_event(due.id, lambda e: replace(e, status="delivered"))
    assert storage.get_logout_event(due.id) == sent
    expired = f.session(expiry=f.T0)
    storage.create_session(expired)
    assert overlay.garbage_collect(f.T0 + timedelta(seconds=1)).sessions == 1
