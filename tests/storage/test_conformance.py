"""The storage conformance suite: every backend must behave the same (DESIGN §6)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest

from dex_py.storage.base import (
    AlreadyExistsError,
    AuditRecord,
    ConflictError,
    Keys,
    NotFoundError,
    Storage,
    StorageError,
    grant_marker,
    session_marker,
)
from tests.storage import factories as f
from tests.storage.factories import T0

# factory per CRUD entity; the storage methods are create_<kind>, get_<kind>, ...
ENTITIES = {
    "auth_request": f.auth_request,
    "auth_code": f.auth_code,
    "refresh_token": f.refresh_token,
    "password": f.password,
    "client": f.client,
    "connector": f.connector,
    "session": f.session,
    "logout_event": f.logout_event,
    "device_request": f.device_request,
    "mfa_state": f.mfa_state,
}
KEY_FIELD = {"password": "email"}
# logout events are an audit trail: no delete_logout_event
DELETABLE = [kind for kind in ENTITIES if kind != "logout_event"]


def ops(storage: Storage, kind: str):
    return (
        getattr(storage, f"create_{kind}"),
        getattr(storage, f"get_{kind}"),
        getattr(storage, f"update_{kind}"),
        getattr(storage, f"delete_{kind}", None),
    )


def key_of(kind: str, obj: object) -> str:
    return str(getattr(obj, KEY_FIELD.get(kind, "id")))


def in_threads(work: Callable[[], object], n: int = 4) -> list[BaseException]:
    """Run ``work`` in ``n`` threads at once; the exceptions they raised."""
    errors: list[BaseException] = []

    def guarded() -> None:
        try:
            work()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=guarded) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors


@pytest.mark.parametrize("kind", ENTITIES)
def test_create_get_roundtrips_every_field(storage: Storage, kind: str) -> None:
    create, get, _, _ = ops(storage, kind)
    obj = ENTITIES[kind]()
    create(obj)
    assert get(key_of(kind, obj)) == obj


@pytest.mark.parametrize("kind", ENTITIES)
def test_get_missing_raises_not_found(storage: Storage, kind: str) -> None:
    _, get, _, _ = ops(storage, kind)
    with pytest.raises(NotFoundError):
        get("does-not-exist")


@pytest.mark.parametrize("kind", ENTITIES)
def test_create_twice_raises_already_exists(storage: Storage, kind: str) -> None:
    create, get, _, _ = ops(storage, kind)
    obj = ENTITIES[kind]()
    create(obj)
    with pytest.raises(AlreadyExistsError):
        create(obj)
    assert get(key_of(kind, obj)) == obj


@pytest.mark.parametrize("kind", DELETABLE)
def test_delete(storage: Storage, kind: str) -> None:
    create, get, _, delete = ops(storage, kind)
    obj, other = ENTITIES[kind](), ENTITIES[kind]()
    create(obj)
    create(other)
    delete(key_of(kind, obj))
    with pytest.raises(NotFoundError):
        get(key_of(kind, obj))
    with pytest.raises(NotFoundError):
        delete(key_of(kind, obj))
    assert get(key_of(kind, other)) == other


@pytest.mark.parametrize("kind", ENTITIES)
def test_update_applies_callback_and_returns_new(storage: Storage, kind: str) -> None:
    create, get, update, _ = ops(storage, kind)
    obj = ENTITIES[kind]()
    create(obj)
    seen = []
    # a field every entity except Password/Connector has; pick per kind
    field, value = {
        "password": ("username", "Renamed ✓"),
        "connector": ("config", {"changed": True}),
        "client": ("name", "new name"),
        "logout_event": ("attempts", 6),
        "mfa_state": ("totp_last_step", 59_000_124),
    }.get(kind, ("connector_data", b"new\x00data"))

    def fn(old):
        seen.append(old)
        return replace(old, **{field: value})

    new = update(key_of(kind, obj), fn)
    assert seen == [obj]
    assert getattr(new, field) == value
    assert get(key_of(kind, obj)) == new


@pytest.mark.parametrize("kind", ENTITIES)
def test_update_missing_raises_not_found(storage: Storage, kind: str) -> None:
    _, _, update, _ = ops(storage, kind)
    with pytest.raises(NotFoundError):
        update("does-not-exist", lambda old: old)


@pytest.mark.parametrize("kind", ENTITIES)
def test_update_callback_raising_leaves_row_unchanged(storage: Storage, kind: str) -> None:
    create, get, update, _ = ops(storage, kind)
    obj = ENTITIES[kind]()
    create(obj)

    class Boom(Exception):
        pass

    def fn(old):
        raise Boom()

    with pytest.raises(Boom):
        update(key_of(kind, obj), fn)
    assert get(key_of(kind, obj)) == obj


@pytest.mark.parametrize("kind", ENTITIES)
def test_update_cannot_change_key(storage: Storage, kind: str) -> None:
    create, get, update, _ = ops(storage, kind)
    obj = ENTITIES[kind]()
    create(obj)
    other_key = "other@example.com" if kind == "password" else "other-id"
    with pytest.raises(StorageError):
        update(
            key_of(kind, obj), lambda old: replace(old, **{KEY_FIELD.get(kind, "id"): other_key})
        )
    assert get(key_of(kind, obj)) == obj
    with pytest.raises(NotFoundError):
        get(other_key)


def test_update_returning_same_object_returns_it(storage: Storage) -> None:
    c = f.client()
    storage.create_client(c)
    assert storage.update_client(c.id, lambda old: old) == c
    assert storage.get_client(c.id) == c


def test_ids_differing_only_in_case_are_distinct(storage: Storage) -> None:
    lower, upper = f.client(id="app-x", name="lower"), f.client(id="APP-X", name="upper")
    storage.create_client(lower)
    storage.create_client(upper)
    assert storage.get_client("app-x").name == "lower"
    assert storage.get_client("APP-X").name == "upper"


def test_optional_fields_none_and_defaults_roundtrip(storage: Storage) -> None:
    req = f.auth_request(claims=None, connector_data=None, max_age=None, auth_time=None)
    storage.create_auth_request(req)
    assert storage.get_auth_request(req.id) == req
    token = f.refresh_token(expiry=None, connector_data=None, auth_time=None)
    storage.create_refresh_token(token)
    assert storage.get_refresh_token(token.id) == token


def test_passwords_are_keyed_by_lower_case_email(storage: Storage) -> None:
    p = f.password(email="Jane.Doe@Example.COM")
    storage.create_password(p)
    got = storage.get_password("jane.doe@example.com")
    assert got.email == "jane.doe@example.com"
    assert storage.get_password("JANE.DOE@EXAMPLE.COM") == got
    with pytest.raises(AlreadyExistsError):
        storage.create_password(f.password(email="jane.doe@example.com"))
    updated = storage.update_password("JANE.doe@example.com", lambda o: replace(o, username="J"))
    assert updated.username == "J" and updated.email == "jane.doe@example.com"
    storage.delete_password("Jane.Doe@Example.com")
    assert storage.list_passwords() == []


def test_lists(storage: Storage) -> None:
    clients = [f.client() for _ in range(3)]
    passwords = [f.password() for _ in range(2)]
    connectors = [f.connector() for _ in range(2)]
    for c in clients:
        storage.create_client(c)
    for p in passwords:
        storage.create_password(p)
    for c in connectors:
        storage.create_connector(c)
    assert storage.list_clients() == sorted(clients, key=lambda c: c.id)
    assert storage.list_passwords() == sorted(passwords, key=lambda p: p.email)
    assert storage.list_connectors() == sorted(connectors, key=lambda c: c.id)


def test_list_refresh_tokens_filters(storage: Storage) -> None:
    a1 = f.refresh_token(id="t1", client_id="a", claims=f.claims(user_id="u1"))
    a2 = f.refresh_token(id="t2", client_id="a", claims=f.claims(user_id="u2"))
    b1 = f.refresh_token(id="t3", client_id="b", claims=f.claims(user_id="u1"))
    for t in (a1, a2, b1):
        storage.create_refresh_token(t)
    assert storage.list_refresh_tokens() == [a1, a2, b1]
    assert storage.list_refresh_tokens(client_id="a") == [a1, a2]
    assert storage.list_refresh_tokens(user_id="u1") == [a1, b1]
    assert storage.list_refresh_tokens(client_id="b", user_id="u1") == [b1]
    assert storage.list_refresh_tokens(client_id="b", user_id="u2") == []
    storage.update_refresh_token("t2", lambda t: replace(t, claims=f.claims(user_id="u1")))
    assert [t.id for t in storage.list_refresh_tokens(user_id="u1")] == ["t1", "t2", "t3"]


def test_aware_datetimes_come_back_utc_same_instant(storage: Storage) -> None:
    plus5 = timezone(timedelta(hours=5))
    local = datetime(2026, 6, 1, 17, 30, 15, 654321, tzinfo=plus5)
    req = f.auth_request(expiry=local, auth_time=local)
    storage.create_auth_request(req)
    got = storage.get_auth_request(req.id)
    assert got.expiry == local
    assert got.expiry.utcoffset() == timedelta(0)
    assert got.expiry.replace(tzinfo=None) == datetime(2026, 6, 1, 12, 30, 15, 654321)
    assert got.auth_time == local


def test_datetimes_independent_of_process_time_zone(
    storage: Storage, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TZ", "America/St_Johns")  # UTC-03:30 / -02:30
    time.tzset()
    try:
        token = f.refresh_token()
        storage.create_refresh_token(token)
        got = storage.get_refresh_token(token.id)
        assert got == token
        assert got.created_at.tzinfo is not None and got.created_at.utcoffset() == timedelta(0)
    finally:
        monkeypatch.undo()
        time.tzset()


def test_unicode_roundtrip(storage: Storage) -> None:
    text = "Ünïcødé 名前 😀🔑 ﷽"
    c = f.client(id=f"client-{text}", name=text, logo_url=f"https://x/{text}")
    storage.create_client(c)
    assert storage.get_client(c.id) == c
    p = f.password(email=f"😀{f.uid()}@ëxample.com", username=text, groups=(text,))
    storage.create_password(p)
    assert storage.get_password(p.email) == p


def test_bytes_roundtrip(storage: Storage) -> None:
    blob = bytes(range(256)) * 300  # 76 KiB: more than a MySQL BLOB
    code = f.auth_code(connector_data=blob)
    storage.create_auth_code(code)
    assert storage.get_auth_code(code.id).connector_data == blob
    empty = f.auth_code(connector_data=b"")
    storage.create_auth_code(empty)
    assert storage.get_auth_code(empty.id).connector_data == b""


def test_connector_config_is_not_shared(storage: Storage) -> None:
    c = f.connector()
    storage.create_connector(c)
    got = storage.get_connector(c.id)
    got.config["host"] = "mutated"
    assert storage.get_connector(c.id).config["host"] == "ldap.example.com:636"


def test_garbage_collect(storage: Storage) -> None:
    now = T0 + timedelta(hours=1)
    past, future = now - timedelta(microseconds=1), now + timedelta(seconds=1)
    keep, drop = [], []
    for expiry, bucket in ((past, drop), (future, keep)):
        req, code = f.auth_request(expiry=expiry), f.auth_code(expiry=expiry)
        storage.create_auth_request(req)
        storage.create_auth_code(code)
        bucket.extend([("auth_request", req.id), ("auth_code", code.id)])
    for expiry, bucket in (
        (past, drop),
        (past - timedelta(days=1), drop),
        (future, keep),
        (None, keep),
    ):
        token = f.refresh_token(expiry=expiry)
        storage.create_refresh_token(token)
        bucket.append(("refresh_token", token.id))
    storage.revoke_access_token("jti-old", past)
    storage.revoke_access_token("jti-new", future)

    result = storage.garbage_collect(now)

    assert (result.auth_requests, result.auth_codes, result.refresh_tokens) == (1, 1, 2)
    assert result.revoked_tokens == 1
    assert result.total == 5
    for kind, id in drop:
        with pytest.raises(NotFoundError):
            getattr(storage, f"get_{kind}")(id)
    for kind, id in keep:
        assert getattr(storage, f"get_{kind}")(id).id == id
    assert not storage.is_access_token_revoked("jti-old")
    assert storage.is_access_token_revoked("jti-new")
    assert storage.garbage_collect(now).total == 0


def test_device_request_by_user_code(storage: Storage) -> None:
    req = f.device_request()
    storage.create_device_request(req)
    assert storage.get_device_request_by_user_code(req.user_code) == req
    with pytest.raises(NotFoundError):
        storage.get_device_request_by_user_code("BCDFGHJK" if req.user_code != "BCDFGHJK" else "X")


def test_device_user_code_is_unique(storage: Storage) -> None:
    """Two live device requests never share a user code: the second create is refused and
    nothing of it is stored."""
    first = f.device_request()
    storage.create_device_request(first)
    second = f.device_request(user_code=first.user_code)
    with pytest.raises(AlreadyExistsError):
        storage.create_device_request(second)
    with pytest.raises(NotFoundError):
        storage.get_device_request(second.id)


def test_device_request_gc(storage: Storage) -> None:
    now = T0 + timedelta(hours=1)
    old = f.device_request(expiry=now - timedelta(microseconds=1))
    live = f.device_request(expiry=now + timedelta(seconds=1))
    storage.create_device_request(old)
    storage.create_device_request(live)
    assert storage.garbage_collect(now).device_requests == 1
    with pytest.raises(NotFoundError):
        storage.get_device_request(old.id)
    assert storage.get_device_request(live.id) == live
    # the user code of a collected request is free again
    storage.create_device_request(f.device_request(user_code=old.user_code))


def test_count_attempt_windows(storage: Storage) -> None:
    window = timedelta(minutes=1)
    assert storage.attempts("k1", T0) == 0
    assert [storage.count_attempt("k1", T0, window) for _ in range(3)] == [1, 2, 3]
    assert storage.attempts("k1", T0 + timedelta(seconds=59)) == 3
    assert storage.count_attempt("k2", T0, window) == 1  # per key
    later = T0 + window - timedelta(microseconds=1)
    assert storage.count_attempt("k1", later, window) == 4  # same window
    assert storage.attempts("k1", T0 + window) == 0  # the window ended
    assert storage.count_attempt("k1", T0 + window, window) == 1  # a new window
    assert storage.garbage_collect(T0 + window + timedelta(seconds=1)).attempt_counters == 1
    assert storage.count_attempt("k2", T0 + 2 * window, window) == 1


def test_reset_attempts_by_prefix(storage: Storage) -> None:
    """A prefix is literal: ``%`` and ``_`` in it match only themselves (no SQL LIKE wildcards)."""
    window = timedelta(minutes=1)
    for key in ("login:a%b:1.2.3.4", "login:a%b:5.6.7.8", "login:aXb:1.2.3.4", "login:a_b:9"):
        storage.count_attempt(key, T0, window)
    assert storage.reset_attempts("login:a%b:") == 2
    assert storage.attempts("login:a%b:1.2.3.4", T0) == 0
    assert storage.attempts("login:aXb:1.2.3.4", T0) == 1
    assert storage.reset_attempts("login:a_") == 1  # not login:aXb
    assert storage.attempts("login:aXb:1.2.3.4", T0) == 1
    assert storage.reset_attempts("nothing:") == 0


def test_count_attempt_concurrent(storage: Storage) -> None:
    """Concurrent first attempts on one key (insert races) and later ones all count."""
    results: list[int] = []

    def hit() -> None:
        for _ in range(5):
            results.append(storage.count_attempt("shared", T0, timedelta(minutes=1)))

    assert in_threads(hit) == []
    assert sorted(results) == list(range(1, 21))


def test_device_poll_race_single_winner(storage: Storage) -> None:
    """Two pollers updating one device request at once: exactly one sees it approved and spends
    it (the row lock serialises the read-check-write)."""
    req = f.device_request(status="approved")
    storage.create_device_request(req)
    winners: list[int] = []

    def spend(i: int) -> None:
        def fn(r):  # type: ignore[no-untyped-def]
            if r.status != "approved":
                return r
            time.sleep(0.05)
            winners.append(i)
            return replace(r, status="spent")

        storage.update_device_request(req.id, fn)

    threads = [threading.Thread(target=spend, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(winners) == 1
    assert storage.get_device_request(req.id).status == "spent"


def test_revoked_access_tokens(storage: Storage) -> None:
    assert not storage.is_access_token_revoked("jti-1")
    assert storage.revoke_access_token("jti-1", T0) is True
    assert storage.revoke_access_token("jti-1", T0) is False  # idempotent, and says so
    assert storage.is_access_token_revoked("jti-1")
    assert not storage.is_access_token_revoked("jti-2")


def test_revoking_a_grant_revokes_its_access_tokens(storage: Storage) -> None:
    assert not storage.is_access_token_revoked("jti-1", "grant-a")
    storage.revoke_access_token(grant_marker("grant-a"), T0)
    assert storage.is_access_token_revoked("jti-1", "grant-a")
    assert storage.is_access_token_revoked("jti-2", "grant-a")
    assert not storage.is_access_token_revoked("jti-1", "grant-b")
    assert not storage.is_access_token_revoked("jti-1")
    assert not storage.is_access_token_revoked("grant-a")  # a marker is not a jti


def test_any_revoked_looks_up_every_key_given(storage: Storage) -> None:
    storage.revoke_access_token(session_marker("sid-1"), T0)
    storage.revoke_access_token("jti-9", T0)
    assert not storage.any_revoked([])
    assert not storage.any_revoked(["jti-1", grant_marker("g"), session_marker("sid-2")])
    assert storage.any_revoked(["jti-1", grant_marker("g"), session_marker("sid-1")])
    assert storage.any_revoked(["jti-9"])
    assert not storage.any_revoked(["sid-1"])  # the marker, not the bare id
    assert storage.any_revoked(["a", "b", "c", "d", "jti-9"])  # more keys than one query takes
    assert not storage.any_revoked(["a", "b", "c", "d", "e"])


def test_keys_lifecycle(storage: Storage) -> None:
    with pytest.raises(NotFoundError):
        storage.get_keys()
    first = f.keys()
    calls: list[Keys | None] = []

    def create(old: Keys | None) -> Keys:
        calls.append(old)
        return first

    assert storage.update_keys(create) == first
    assert calls == [None]
    assert storage.get_keys() == first

    rotated = f.keys(verification_keys=(), next_rotation=T0 + timedelta(days=1))

    def rotate(old: Keys | None) -> Keys:
        calls.append(old)
        return rotated

    assert storage.update_keys(rotate) == rotated
    assert calls == [None, first]
    assert storage.get_keys() == rotated
    assert storage.update_keys(lambda old: old) == rotated  # type: ignore[arg-type,return-value]

    def fail(old: Keys | None) -> Keys:
        raise RuntimeError("no")

    with pytest.raises(RuntimeError):
        storage.update_keys(fail)
    assert storage.get_keys() == rotated


def test_keys_first_creation_failure_writes_nothing(storage: Storage) -> None:
    with pytest.raises(ZeroDivisionError):
        storage.update_keys(lambda old: 1 / 0)  # type: ignore[arg-type,return-value]
    with pytest.raises(NotFoundError):
        storage.get_keys()


def test_concurrent_updates_from_threads(storage: Storage) -> None:
    c = f.client(name="0")
    storage.create_client(c)

    def work() -> None:
        for _ in range(20):
            storage.update_client(c.id, lambda old: replace(old, name=str(int(old.name) + 1)))

    assert in_threads(work) == []
    assert storage.get_client(c.id).name == "80"


def test_ping_and_close(storage: Storage) -> None:
    storage.ping()
    storage.close()


def test_is_a_storage(storage: Storage) -> None:
    assert isinstance(storage, Storage)


def test_aware_now_from_clock_roundtrips(storage: Storage) -> None:
    now = datetime.now(UTC)
    storage.revoke_access_token("j", now)
    assert storage.garbage_collect(now).revoked_tokens == 0
    assert storage.garbage_collect(now + timedelta(microseconds=1)).revoked_tokens == 1


def test_naive_datetimes_are_refused(storage: Storage) -> None:
    naive = datetime(2026, 1, 1, 12, 0)
    with pytest.raises(ValueError, match="naive"):
        storage.create_auth_request(f.auth_request(expiry=naive))
    with pytest.raises(ValueError, match="naive"):
        storage.garbage_collect(naive)
    assert storage.list_refresh_tokens() == []


REDEEMABLE = {
    "auth_code": (f.auth_code, lambda c: replace(c, used_at=T0)),
    "device_request": (f.device_request, lambda r: replace(r, status="spent")),
}


@pytest.mark.parametrize("kind", REDEEMABLE)
def test_redeem_writes_the_record_and_the_refresh_token_together(
    storage: Storage, kind: str
) -> None:
    make, mark = REDEEMABLE[kind]
    obj = make()
    getattr(storage, f"create_{kind}")(obj)
    token = f.refresh_token()
    used = getattr(storage, f"redeem_{kind}")(obj.id, mark, lambda o: token)
    assert used == mark(obj) and getattr(storage, f"get_{kind}")(obj.id) == used
    assert storage.get_refresh_token(token.id) == token


@pytest.mark.parametrize("kind", REDEEMABLE)
def test_redeem_writes_nothing_when_the_token_cannot_be_stored(storage: Storage, kind: str) -> None:
    make, mark = REDEEMABLE[kind]
    obj = make()
    getattr(storage, f"create_{kind}")(obj)
    taken = f.refresh_token()
    storage.create_refresh_token(taken)
    with pytest.raises(AlreadyExistsError):
        getattr(storage, f"redeem_{kind}")(obj.id, mark, lambda o: taken)
    assert getattr(storage, f"get_{kind}")(obj.id) == obj  # not marked used


def test_redeem_auth_code_writes_nothing_when_issue_refuses(storage: Storage) -> None:
    code = f.auth_code()
    storage.create_auth_code(code)

    def refuse(c: object) -> None:
        raise PermissionError("policy")

    with pytest.raises(PermissionError):
        storage.redeem_auth_code(code.id, lambda c: replace(c, used_at=T0), refuse)
    assert storage.get_auth_code(code.id) == code
    with pytest.raises(NotFoundError):
        storage.redeem_auth_code("missing", lambda c: c, lambda c: None)


def test_mfa_state_compare_and_swap_keeps_one_use_per_step(storage: Storage) -> None:
    """Two logins racing to use the same TOTP step: the update sees the other's write, so
    only one of them can move ``totp_last_step`` past a given step."""
    state = f.mfa_state(totp_last_step=100)
    storage.create_mfa_state(state)
    accepted: list[int] = []

    def use(step: int):
        def fn(old):
            if old.totp_last_step >= step:
                raise ValueError("step already used")
            return replace(old, totp_last_step=step)

        return fn

    storage.update_mfa_state(state.id, use(101))
    accepted.append(101)
    with pytest.raises(ValueError):
        storage.update_mfa_state(state.id, use(101))
    assert storage.get_mfa_state(state.id).totp_last_step == 101
    assert accepted == [101]


def test_list_mfa_states(storage: Storage) -> None:
    states = [f.mfa_state(), f.mfa_state(totp_confirmed=False, webauthn_credentials=())]
    for state in states:
        storage.create_mfa_state(state)
    assert sorted(storage.list_mfa_states(), key=lambda s: s.id) == sorted(
        states, key=lambda s: s.id
    )


def _audit(id: str, minutes: int, event: str = "login", actor: str = "alice") -> AuditRecord:
    return AuditRecord(
        id=id,
        time=T0 + timedelta(minutes=minutes),
        event=event,
        outcome="failure" if event == "login" else "success",
        actor=actor,
        object="user:alice",
        client="example-app",
        connector="local",
        ip="198.51.100.7",
        details='{"reason": "wrong password", "name": "Zoë"}',
    )


def test_the_audit_log_lists_newest_first_filters_and_expires(storage: Storage) -> None:
    records = [
        _audit("a1", 0),
        _audit("a2", 10, event="admin", actor="cli:root"),
        _audit("a3", 20),
        _audit("a4", 30, event="revocation"),
    ]
    for record in records:
        storage.create_audit_record(record)
    with pytest.raises(AlreadyExistsError):
        storage.create_audit_record(records[0])
    assert [r.id for r in storage.list_audit_records()] == ["a4", "a3", "a2", "a1"]
    assert storage.list_audit_records()[-1] == records[0]  # every field round-trips
    assert [r.id for r in storage.list_audit_records(limit=2)] == ["a4", "a3"]
    assert [r.id for r in storage.list_audit_records(event="login")] == ["a3", "a1"]
    assert [r.id for r in storage.list_audit_records(actor="cli:root")] == ["a2"]
    window = storage.list_audit_records(
        since=T0 + timedelta(minutes=10), until=T0 + timedelta(minutes=30)
    )
    assert [r.id for r in window] == ["a3", "a2"]
    assert storage.delete_audit_records(T0 + timedelta(minutes=15)) == 2
    assert [r.id for r in storage.list_audit_records()] == ["a4", "a3"]


def test_the_change_counter_starts_at_zero_and_counts_every_bump(storage: Storage) -> None:
    assert storage.generation() == 0
    assert [storage.bump_generation() for _ in range(3)] == [1, 2, 3]
    assert storage.generation() == 3


def test_concurrent_bumps_from_threads_lose_no_increment(storage: Storage) -> None:
    seen: list[int] = []
    assert in_threads(lambda: seen.extend(storage.bump_generation() for _ in range(10))) == []
    assert sorted(seen) == list(range(1, 41))  # each bump got its own new value
    assert storage.generation() == 40


def test_settings_keep_json_values_with_a_version(storage: Storage) -> None:
    assert storage.get_setting("team-rules") == (None, 0)
    rules = [{"connector": "ldap", "match": "cn=(?P<team>.+)", "team": "{team}", "ü": 1}]
    assert storage.put_setting("team-rules", rules, 0) == 1
    assert storage.get_setting("team-rules") == (rules, 1)
    rules.append({"changed": "by the caller"})  # the caller's list is its own
    assert len(storage.get_setting("team-rules")[0]) == 1
    assert storage.put_setting("team-rules", [], 1) == 2
    assert storage.get_setting("team-rules") == ([], 2)
    assert storage.get_setting("other") == (None, 0)


@pytest.mark.parametrize("stale", [0, 1, 3])
def test_a_stale_setting_version_is_a_conflict_and_writes_nothing(
    storage: Storage, stale: int
) -> None:
    storage.put_setting("k", "first", 0)
    storage.put_setting("k", "second", 1)
    with pytest.raises(ConflictError):
        storage.put_setting("k", "lost", stale)
    assert storage.get_setting("k") == ("second", 2)


def test_concurrent_setting_writers_one_wins_per_version(storage: Storage) -> None:
    results: list[str] = []
    barrier = threading.Barrier(4)

    def work(n: int) -> None:
        barrier.wait(timeout=10)
        try:
            storage.put_setting("race", n, 0)
            results.append(f"won {n}")
        except ConflictError:
            results.append("conflict")

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count("conflict") == 3
    winner = next(r for r in results if r.startswith("won"))
    assert storage.get_setting("race") == (int(winner.split()[1]), 1)


def test_client_previous_secret_roundtrips(storage: Storage) -> None:
    c = f.client(previous_secret_hash="d" * 64, previous_secret_expiry=T0)
    storage.create_client(c)
    assert storage.get_client(c.id) == c
    plain = f.client(previous_secret_hash="", previous_secret_expiry=None)
    storage.create_client(plain)
    assert storage.get_client(plain.id) == plain
