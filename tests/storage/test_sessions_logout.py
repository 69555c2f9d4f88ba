"""Conformance suite, part two: SSO sessions, back-channel logout events and the client fields
added with them (revision 0002). Generic CRUD of the new entities runs in ``test_conformance``;
this file covers what is particular to them: filters, ordering, garbage collection, defaults."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from dex_py.storage.base import (
    Client,
    LogoutEvent,
    NotFoundError,
    Session,
    Storage,
)
from tests.storage import factories as f
from tests.storage.factories import T0

# sessions


def test_session_defaults_roundtrip(storage: Storage) -> None:
    s = Session(
        id="s-min",
        secret_hash="e" * 64,
        claims=f.claims(groups=()),
        connector_id="local",
        auth_time=T0,
        created_at=T0,
        last_active=T0,
        expiry=T0 + timedelta(hours=1),
    )
    storage.create_session(s)
    got = storage.get_session("s-min")
    assert got == s
    assert got.connector_data is None
    assert got.clients == () and got.approved_clients == ()


def test_list_sessions_filters_by_user(storage: Storage) -> None:
    a = f.session(id="s-a", claims=f.claims(user_id="u1"))
    b = f.session(id="s-b", claims=f.claims(user_id="u2"))
    c = f.session(id="s-c", claims=f.claims(user_id="u1"))
    for s in (c, a, b):
        storage.create_session(s)
    assert storage.list_sessions() == [a, b, c]
    assert storage.list_sessions(user_id="u1") == [a, c]
    assert storage.list_sessions(user_id="u2") == [b]
    assert storage.list_sessions(user_id="nobody") == []
    storage.update_session("s-b", lambda s: replace(s, claims=f.claims(user_id="u1")))
    assert [s.id for s in storage.list_sessions(user_id="u1")] == ["s-a", "s-b", "s-c"]
    assert storage.list_sessions(user_id="u2") == []
    storage.delete_session("s-a")
    assert [s.id for s in storage.list_sessions(user_id="u1")] == ["s-b", "s-c"]


def test_session_update_extends_and_records_clients(storage: Storage) -> None:
    s = f.session(clients=(), approved_clients=())
    storage.create_session(s)
    later = T0 + timedelta(minutes=20)

    def touch(old: Session) -> Session:
        return replace(
            old,
            last_active=later,
            expiry=later + timedelta(hours=1),
            clients=(*old.clients, "app"),
            approved_clients=(*old.approved_clients, "app"),
        )

    new = storage.update_session(s.id, touch)
    got = storage.get_session(s.id)
    assert got == new
    assert got.last_active == later and got.expiry == later + timedelta(hours=1)
    assert got.clients == ("app",) and got.approved_clients == ("app",)
    assert got.created_at == s.created_at and got.auth_time == s.auth_time


def test_concurrent_session_updates_lose_nothing(storage: Storage) -> None:
    s = f.session(clients=())
    storage.create_session(s)
    errors: list[BaseException] = []

    def work(worker: int) -> None:
        try:
            for i in range(10):
                storage.update_session(
                    s.id, lambda old, i=i: replace(old, clients=(*old.clients, f"c{worker}-{i}"))
                )
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    clients = storage.get_session(s.id).clients
    assert sorted(clients) == sorted(f"c{w}-{i}" for w in range(4) for i in range(10))


# logout events


def _events(storage: Storage) -> dict[str, LogoutEvent]:
    """A queue in every state. Ids, creation times and due times sort differently, so the
    ordering assertions below can tell which one a backend used."""
    events = {
        "e1": f.logout_event(
            id="e1", status="pending", attempts=0, next_attempt=T0 + timedelta(minutes=5)
        ),
        "e2": f.logout_event(
            id="e2",
            status="pending",
            attempts=2,
            next_attempt=T0 + timedelta(minutes=1),
            created_at=T0 + timedelta(seconds=2),
        ),
        "e3": f.logout_event(
            id="e3",
            status="pending",
            attempts=1,
            next_attempt=T0 + timedelta(minutes=3),
            created_at=T0 - timedelta(seconds=2),
        ),
        "e4": f.logout_event(
            id="e4", status="pending", next_attempt=T0 + timedelta(hours=1)
        ),  # not due yet
        "e5": f.logout_event(
            id="e5", status="delivered", attempts=1, next_attempt=None, last_error=""
        ),
        # finished but with a stale due time: never due again
        "e6": f.logout_event(
            id="e6",
            status="failed",
            attempts=5,
            next_attempt=T0,
            created_at=T0 - timedelta(days=1),
        ),
        "e7": f.logout_event(
            id="e7", status="failed", next_attempt=None, created_at=T0 - timedelta(hours=1)
        ),
    }
    for e in events.values():
        storage.create_logout_event(e)
    return events


def test_logout_event_defaults_roundtrip(storage: Storage) -> None:
    e = LogoutEvent(
        id="le-min", client_id="c", uri="https://c/logout", sid="s", sub="x", created_at=T0
    )
    storage.create_logout_event(e)
    got = storage.get_logout_event("le-min")
    assert got == e
    assert (got.status, got.attempts, got.next_attempt, got.last_error) == ("pending", 0, None, "")


def test_list_logout_events_by_status(storage: Storage) -> None:
    ev = _events(storage)
    # soonest due first; events without a due time last, oldest first
    assert [e.id for e in storage.list_logout_events()] == [
        "e6", "e2", "e3", "e1", "e4", "e7", "e5"
    ]  # fmt: skip
    assert storage.list_logout_events(status="pending") == [ev["e2"], ev["e3"], ev["e1"], ev["e4"]]
    assert storage.list_logout_events(status="failed") == [ev["e6"], ev["e7"]]
    assert storage.list_logout_events(status="delivered") == [ev["e5"]]
    assert storage.list_logout_events(status="unknown") == []


def test_list_logout_events_due_before(storage: Storage) -> None:
    ev = _events(storage)
    due = storage.list_logout_events(due_before=T0 + timedelta(minutes=10))
    assert due == [ev["e2"], ev["e3"], ev["e1"]]  # ordered by next_attempt
    # the bound is inclusive
    assert [e.id for e in storage.list_logout_events(due_before=T0 + timedelta(minutes=3))] == [
        "e2",
        "e3",
    ]
    assert (
        storage.list_logout_events(due_before=T0 + timedelta(minutes=1) - timedelta(microseconds=1))
        == []
    )
    assert [e.id for e in storage.list_logout_events(due_before=T0 + timedelta(days=1))] == [
        "e2", "e3", "e1", "e4"
    ]  # fmt: skip
    # combined with status: due_before only ever yields pending events
    assert storage.list_logout_events(status="pending", due_before=T0 + timedelta(minutes=2)) == [
        ev["e2"]
    ]
    assert storage.list_logout_events(status="failed", due_before=T0 + timedelta(days=1)) == []


def test_due_before_in_another_time_zone_is_the_same_instant(storage: Storage) -> None:
    _events(storage)
    minus7 = timezone(timedelta(hours=-7))
    bound = (T0 + timedelta(minutes=3)).astimezone(minus7)
    assert [e.id for e in storage.list_logout_events(due_before=bound)] == ["e2", "e3"]


def test_naive_due_before_is_refused(storage: Storage) -> None:
    _events(storage)
    with pytest.raises(ValueError, match="naive"):
        storage.list_logout_events(due_before=datetime(2026, 3, 1, 13, 0))


def test_delivery_leaves_the_queue(storage: Storage) -> None:
    ev = _events(storage)
    now = T0 + timedelta(minutes=10)
    retried = storage.update_logout_event(
        "e2",
        lambda e: replace(
            e,
            attempts=e.attempts + 1,
            next_attempt=now + timedelta(minutes=4),
            last_error="timeout",
        ),
    )
    assert retried.attempts == 3
    delivered = storage.update_logout_event(
        "e3", lambda e: replace(e, status="delivered", next_attempt=None, last_error="")
    )
    assert [e.id for e in storage.list_logout_events(due_before=now)] == ["e1"]
    assert [e.id for e in storage.list_logout_events(due_before=now + timedelta(minutes=4))] == [
        "e1",
        "e2",
    ]
    assert storage.get_logout_event("e3") == delivered
    # finished events: oldest first (e3 was created before e5)
    assert storage.list_logout_events(status="delivered") == [delivered, ev["e5"]]


def test_logout_events_have_no_delete(storage: Storage) -> None:
    assert not hasattr(storage, "delete_logout_event")
    with pytest.raises(NotFoundError):
        storage.get_logout_event("missing")


# garbage collection


def test_garbage_collect_removes_expired_sessions_only(storage: Storage) -> None:
    now = T0 + timedelta(days=2)
    expired = [
        f.session(expiry=now - timedelta(microseconds=1)),
        f.session(expiry=now - timedelta(days=1)),
    ]
    alive = [f.session(expiry=now), f.session(expiry=now + timedelta(seconds=1))]
    for s in expired + alive:
        storage.create_session(s)
    # Logout events are an audit trail: old, finished or overdue, they all survive.
    events = [
        f.logout_event(status="delivered", next_attempt=None, created_at=now - timedelta(days=400)),
        f.logout_event(status="failed", next_attempt=None, created_at=now - timedelta(days=30)),
        f.logout_event(status="pending", next_attempt=now - timedelta(days=1)),
    ]
    for e in events:
        storage.create_logout_event(e)

    result = storage.garbage_collect(now)

    assert result.sessions == 2
    assert result.total == 2
    for s in expired:
        with pytest.raises(NotFoundError):
            storage.get_session(s.id)
    assert storage.list_sessions() == sorted(alive, key=lambda s: s.id)
    for e in events:
        assert storage.get_logout_event(e.id) == e
    assert len(storage.list_logout_events()) == 3
    assert storage.garbage_collect(now).sessions == 0


# client fields of revision 0002


def test_client_new_fields_roundtrip_and_update(storage: Storage) -> None:
    c = f.client()
    storage.create_client(c)
    got = storage.get_client(c.id)
    assert got.token_endpoint_auth_method == "private_key_jwt"
    assert got.jwks == c.jwks and got.jwks_uri == c.jwks_uri
    assert got.backchannel_logout_uri == c.backchannel_logout_uri
    big_jwks = '{"keys":[' + ",".join(['{"kty":"RSA","n":"' + "A" * 700 + '"}'] * 100) + "]}"
    assert len(big_jwks) > 65536  # more than a MySQL TEXT holds
    updated = storage.update_client(
        c.id,
        lambda old: replace(
            old, token_endpoint_auth_method="client_secret_basic", jwks=big_jwks, jwks_uri=""
        ),
    )
    assert storage.get_client(c.id) == updated
    assert storage.get_client(c.id).jwks == big_jwks
    assert storage.list_clients() == [updated]


def test_client_defaults_roundtrip(storage: Storage) -> None:
    c = Client(id="plain", secret_hash="f" * 64)
    storage.create_client(c)
    got = storage.get_client("plain")
    assert got == c
    assert (got.token_endpoint_auth_method, got.jwks, got.jwks_uri) == ("", "", "")
    assert got.backchannel_logout_uri == ""


def test_session_ids_on_login_objects_roundtrip(storage: Storage) -> None:
    req, code, token = f.auth_request(), f.auth_code(), f.refresh_token()
    storage.create_auth_request(req)
    storage.create_auth_code(code)
    storage.create_refresh_token(token)
    assert storage.get_auth_request(req.id).session_id == "sess-ar"
    assert storage.get_auth_code(code.id).session_id == "sess-ac"
    assert storage.get_refresh_token(token.id).session_id == "sess-rt"
