"""etcd storage (``storage.type: etcd``, Dex's keys; see ``etcd_settings``): the ``Storage``
protocol over an etcd v3 cluster, shared by every worker and replica.

Each record is one key holding JSON (layout, leases and compare-and-swap in ``etcd_table``;
the HTTP client, and why it talks to etcd's JSON gateway, in ``etcd_client``). What expires
(auth requests, codes, device requests, sessions, refresh tokens with an expiry, revoked access
tokens, attempt counters) lives under leases that end a grace period after its expiry, so etcd
drops it even if garbage collection never runs; ``garbage_collect`` still removes and counts
expired records as the SQL backends do. Redeeming a code or a device request writes the record
and the new refresh token in one transaction that also checks the token's id is free. Attempt
counters and revocations are compare-and-swap / create-if-absent transactions too.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from functools import partial

from dex_py.storage import etcd_client as ec
from dex_py.storage.base import Issuer, Updater
from dex_py.storage.etcd_runtime import EtcdRuntimeObjects
from dex_py.storage.etcd_settings import EtcdSettings
from dex_py.storage.etcd_table import Kind, Tables
from dex_py.storage.memory_table import select_audit_records, select_logout_events, utc
from dex_py.storage.records import (
    AuditRecord,
    AuthCode,
    AuthRequest,
    Client,
    Connector,
    DeviceRequest,
    GCResult,
    Keys,
    LogoutEvent,
    MFAState,
    NotFoundError,
    Password,
    RefreshToken,
    Session,
    grant_marker,
)

AUTH_REQUESTS = Kind(
    "auth request", "auth-requests/", AuthRequest, lambda o: o.id, lambda o: o.expiry
)
AUTH_CODES = Kind("auth code", "auth-codes/", AuthCode, lambda o: o.id, lambda o: o.expiry)
REFRESH_TOKENS = Kind(
    "refresh token", "refresh-tokens/", RefreshToken, lambda o: o.id, lambda o: o.expiry
)
PASSWORDS = Kind("password", "passwords/", Password, lambda o: o.email.lower())
CLIENTS = Kind("client", "clients/", Client, lambda o: o.id)
CONNECTORS = Kind("connector", "connectors/", Connector, lambda o: o.id)
SESSIONS = Kind("session", "sessions/", Session, lambda o: o.id, lambda o: o.expiry)
LOGOUT_EVENTS = Kind("logout event", "logout-events/", LogoutEvent, lambda o: o.id)
AUDIT_RECORDS = Kind("audit record", "audit-records/", AuditRecord, lambda o: o.id)
DEVICE_REQUESTS = Kind(
    "device request",
    "device-requests/",
    DeviceRequest,
    lambda o: o.id,
    lambda o: o.expiry,
    index_prefix="device-user-codes/",
    index=lambda o: o.user_code,
    index_name="user code",
)
MFA_STATES = Kind("MFA state", "mfa-states/", MFAState, lambda o: o.id)
KEYS = "keys"
REVOKED = "revoked-tokens/"
ATTEMPTS = "attempts/"


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text)


class EtcdStorage(EtcdRuntimeObjects):
    """``Storage`` in etcd; thread-safe, and safe to share with other processes and replicas.
    The change counter and the settings: ``etcd_runtime``."""

    def __init__(self, settings: EtcdSettings) -> None:
        self.client = ec.EtcdClient(settings)
        self.t = Tables(self.client, settings.namespace)

    def __repr__(self) -> str:
        return f"EtcdStorage({self.client.settings!r})"

    def dispose_after_fork(self) -> None:
        """A forked worker gets its own connections and locks."""
        self.client.reset_after_fork()
        self.t.reset_locks()

    # auth requests

    def create_auth_request(self, req: AuthRequest) -> None:
        self.t.create(AUTH_REQUESTS, req)

    def get_auth_request(self, id: str) -> AuthRequest:
        return self.t.read(AUTH_REQUESTS, id)[0]

    def update_auth_request(self, id: str, fn: Updater[AuthRequest]) -> AuthRequest:
        return self.t.update(AUTH_REQUESTS, id, fn)

    def delete_auth_request(self, id: str) -> None:
        self.t.delete(AUTH_REQUESTS, id)

    # auth codes

    def create_auth_code(self, code: AuthCode) -> None:
        self.t.create(AUTH_CODES, code)

    def get_auth_code(self, id: str) -> AuthCode:
        return self.t.read(AUTH_CODES, id)[0]

    def update_auth_code(self, id: str, fn: Updater[AuthCode]) -> AuthCode:
        return self.t.update(AUTH_CODES, id, fn)

    def redeem_auth_code(self, id: str, fn: Updater[AuthCode], issue: Issuer[AuthCode]) -> AuthCode:
        return self.t.redeem(AUTH_CODES, REFRESH_TOKENS, id, fn, issue)

    def delete_auth_code(self, id: str) -> None:
        self.t.delete(AUTH_CODES, id)

    # refresh tokens

    def create_refresh_token(self, token: RefreshToken) -> None:
        self.t.create(REFRESH_TOKENS, token)

    def get_refresh_token(self, id: str) -> RefreshToken:
        return self.t.read(REFRESH_TOKENS, id)[0]

    def update_refresh_token(self, id: str, fn: Updater[RefreshToken]) -> RefreshToken:
        return self.t.update(REFRESH_TOKENS, id, fn)

    def delete_refresh_token(self, id: str) -> None:
        self.t.delete(REFRESH_TOKENS, id)

    def list_refresh_tokens(
        self, *, client_id: str | None = None, user_id: str | None = None
    ) -> list[RefreshToken]:
        return [
            t
            for t in self.t.list(REFRESH_TOKENS)
            if (client_id is None or t.client_id == client_id)
            and (user_id is None or t.claims.user_id == user_id)
        ]

    # passwords (keyed by the lower-cased email)

    def create_password(self, p: Password) -> None:
        self.t.create(PASSWORDS, replace(p, email=p.email.lower()))

    def get_password(self, email: str) -> Password:
        return self.t.read(PASSWORDS, email.lower())[0]

    def update_password(self, email: str, fn: Updater[Password]) -> Password:
        def lowered(old: Password) -> Password:
            new = fn(old)
            return new if new is old else replace(new, email=new.email.lower())

        return self.t.update(PASSWORDS, email.lower(), lowered)

    def delete_password(self, email: str) -> None:
        self.t.delete(PASSWORDS, email.lower())

    def list_passwords(self) -> list[Password]:
        return self.t.list(PASSWORDS)

    # clients

    def create_client(self, c: Client) -> None:
        self.t.create(CLIENTS, c)

    def get_client(self, id: str) -> Client:
        return self.t.read(CLIENTS, id)[0]

    def update_client(self, id: str, fn: Updater[Client]) -> Client:
        return self.t.update(CLIENTS, id, fn)

    def delete_client(self, id: str) -> None:
        self.t.delete(CLIENTS, id)

    def list_clients(self) -> list[Client]:
        return self.t.list(CLIENTS)

    # connectors (decoded afresh on every read: a caller's change to ``config`` stays its own)

    def create_connector(self, c: Connector) -> None:
        self.t.create(CONNECTORS, c)

    def get_connector(self, id: str) -> Connector:
        return self.t.read(CONNECTORS, id)[0]

    def update_connector(self, id: str, fn: Updater[Connector]) -> Connector:
        return self.t.update(CONNECTORS, id, fn)

    def delete_connector(self, id: str) -> None:
        self.t.delete(CONNECTORS, id)

    def list_connectors(self) -> list[Connector]:
        return self.t.list(CONNECTORS)

    # browser sessions

    def create_session(self, s: Session) -> None:
        self.t.create(SESSIONS, s)

    def get_session(self, id: str) -> Session:
        return self.t.read(SESSIONS, id)[0]

    def update_session(self, id: str, fn: Updater[Session]) -> Session:
        return self.t.update(SESSIONS, id, fn)

    def delete_session(self, id: str) -> None:
        self.t.delete(SESSIONS, id)

    def list_sessions(self, *, user_id: str | None = None) -> list[Session]:
        return [s for s in self.t.list(SESSIONS) if user_id is None or s.claims.user_id == user_id]

    # second factors

    def create_mfa_state(self, s: MFAState) -> None:
        self.t.create(MFA_STATES, s)

    def get_mfa_state(self, id: str) -> MFAState:
        return self.t.read(MFA_STATES, id)[0]

    def update_mfa_state(self, id: str, fn: Updater[MFAState]) -> MFAState:
        return self.t.update(MFA_STATES, id, fn)

    def delete_mfa_state(self, id: str) -> None:
        self.t.delete(MFA_STATES, id)

    def list_mfa_states(self) -> list[MFAState]:
        return self.t.list(MFA_STATES)

    # back-channel logout events (never garbage collected)

    def create_audit_record(self, r: AuditRecord) -> None:
        self.t.create(AUDIT_RECORDS, r)

    def list_audit_records(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        event: str = "",
        actor: str = "",
        limit: int = 100,
    ) -> list[AuditRecord]:
        return select_audit_records(
            self.t.list(AUDIT_RECORDS),
            since=since,
            until=until,
            event=event,
            actor=actor,
            limit=limit,
        )

    def delete_audit_records(self, before: datetime) -> int:
        cutoff = utc(before)
        old = [r.id for r in self.t.list(AUDIT_RECORDS) if r.time < cutoff]
        for id in old:
            with contextlib.suppress(NotFoundError):
                self.t.delete(AUDIT_RECORDS, id)
        return len(old)

    def create_logout_event(self, e: LogoutEvent) -> None:
        self.t.create(LOGOUT_EVENTS, e)

    def get_logout_event(self, id: str) -> LogoutEvent:
        return self.t.read(LOGOUT_EVENTS, id)[0]

    def update_logout_event(self, id: str, fn: Updater[LogoutEvent]) -> LogoutEvent:
        return self.t.update(LOGOUT_EVENTS, id, fn)

    def list_logout_events(
        self, *, status: str | None = None, due_before: datetime | None = None
    ) -> list[LogoutEvent]:
        return select_logout_events(self.t.list(LOGOUT_EVENTS), status, due_before)

    # signing keys: one key, compare-and-swap like every update

    def _keys_path(self) -> str:
        return self.t.namespace + KEYS

    def get_keys(self) -> Keys:
        kv = self.client.get(self._keys_path())
        if kv is None:
            raise NotFoundError("signing keys not created yet")
        return _KEYS.decode(kv.value)

    def update_keys(self, fn: Callable[[Keys | None], Keys]) -> Keys:
        path = self._keys_path()
        with self.t.serialised(path):
            kv = self.client.get(path)
            while True:
                old = None if kv is None else _KEYS.decode(kv.value)
                new = fn(old)
                if old is not None and (new is old or new == old):
                    return old
                new = utc(new)
                revision = 0 if kv is None else kv.mod_revision
                done, answer = self.client.txn(
                    [ec.mod_revision_is(path, revision)],
                    [ec.op_put(path, _KEYS.encode(new))],
                    [ec.op_get(path)],
                )
                if done:
                    return new
                kvs = ec.range_kvs(answer[0])
                kv = kvs[0] if kvs else None

    # revoked access tokens: create-if-absent keys under a lease past their expiry

    def revoke_access_token(self, jti: str, expiry: datetime) -> bool:
        expiry = utc(expiry)
        path = self.t.namespace + REVOKED + jti
        value = json.dumps({"expiry": expiry.isoformat()}).encode()
        done, _ = self.t.write(
            [ec.absent(path)], partial(self.t.put_value, path, value, expiry), []
        )
        return done

    def is_access_token_revoked(self, jti: str, grant_id: str = "") -> bool:
        return self.any_revoked([jti, grant_marker(grant_id)] if grant_id else [jti])

    def any_revoked(self, keys: Sequence[str]) -> bool:
        """One transaction of counting reads per ``MAX_TXN_OPS`` keys."""
        prefix = self.t.namespace + REVOKED
        for start in range(0, len(keys), ec.MAX_TXN_OPS):
            chunk = keys[start : start + ec.MAX_TXN_OPS]
            _, answers = self.client.txn(
                [], [ec.op_get(prefix + k, count_only=True) for k in chunk]
            )
            if any(ec.range_count(a) for a in answers):
                return True
        return False

    # device requests (a user code is unique: an index key written with the request)

    def create_device_request(self, r: DeviceRequest) -> None:
        self.t.create(DEVICE_REQUESTS, r)

    def get_device_request(self, id: str) -> DeviceRequest:
        return self.t.read(DEVICE_REQUESTS, id)[0]

    def get_device_request_by_user_code(self, user_code: str) -> DeviceRequest:
        kv = self.client.get(self.t.namespace + DEVICE_REQUESTS.index_prefix + user_code)
        try:
            if kv is not None:
                return self.get_device_request(kv.value.decode())
        except NotFoundError:
            pass
        raise NotFoundError(f"device request with user code {user_code!r} not found")

    def update_device_request(self, id: str, fn: Updater[DeviceRequest]) -> DeviceRequest:
        return self.t.update(DEVICE_REQUESTS, id, fn)

    def redeem_device_request(
        self, id: str, fn: Updater[DeviceRequest], issue: Issuer[DeviceRequest]
    ) -> DeviceRequest:
        return self.t.redeem(DEVICE_REQUESTS, REFRESH_TOKENS, id, fn, issue)

    def delete_device_request(self, id: str) -> None:
        self.t.delete(DEVICE_REQUESTS, id)

    # attempt counters: {"count", "end"} per key, compare-and-swap, under a lease past the end

    def _read_attempts(self, path: str) -> tuple[int, datetime | None, int]:
        kv = self.client.get(path)
        return _attempts_of(kv)

    def count_attempt(self, key: str, now: datetime, window: timedelta) -> int:
        now = utc(now)
        path = self.t.namespace + ATTEMPTS + key
        with self.t.serialised(path):
            count, end, revision = self._read_attempts(path)
            while True:
                if end is None or end <= now:
                    count, end = 0, now + window
                value = json.dumps({"count": count + 1, "end": end.isoformat()}).encode()
                done, answer = self.t.write(
                    [ec.mod_revision_is(path, revision)],
                    partial(self.t.put_value, path, value, end),
                    [ec.op_get(path)],
                )
                if done:
                    return count + 1
                kvs = ec.range_kvs(answer[0])
                count, end, revision = _attempts_of(kvs[0] if kvs else None)

    def attempts(self, key: str, now: datetime) -> int:
        count, end, _ = self._read_attempts(self.t.namespace + ATTEMPTS + key)
        return count if end is not None and end > utc(now) else 0

    def reset_attempts(self, prefix: str) -> int:
        return self.client.delete_prefix(self.t.namespace + ATTEMPTS + prefix)

    # housekeeping

    def _collect_raw(self, prefix: str, field: str, now: datetime) -> int:
        """Delete the JSON values under ``prefix`` whose ``field`` instant is before ``now``."""
        deleted = 0
        for kv in self.client.scan(self.t.namespace + prefix):
            if _instant(json.loads(kv.value)[field]) < now:
                done, _ = self.client.txn(
                    [ec.mod_revision_is(kv.key, kv.mod_revision)], [ec.op_delete(kv.key)]
                )
                deleted += done
        return deleted

    def garbage_collect(self, now: datetime) -> GCResult:
        now = utc(now)
        return GCResult(
            auth_requests=self.t.collect(AUTH_REQUESTS, now),
            auth_codes=self.t.collect(AUTH_CODES, now),
            refresh_tokens=self.t.collect(REFRESH_TOKENS, now),
            revoked_tokens=self._collect_raw(REVOKED, "expiry", now),
            sessions=self.t.collect(SESSIONS, now),
            device_requests=self.t.collect(DEVICE_REQUESTS, now),
            attempt_counters=self._collect_raw(ATTEMPTS, "end", now),
        )

    def ping(self) -> None:
        """Raises ``EtcdUnavailable`` unless an endpoint answers."""
        self.client.get(self._keys_path())

    def close(self) -> None:
        self.client.close()


_KEYS: Kind[Keys] = Kind("keys", KEYS, Keys, lambda _: KEYS)


def _attempts_of(kv: ec.KeyValue | None) -> tuple[int, datetime | None, int]:
    """(count, window end, mod_revision) of an attempt counter key; (0, None, 0) if absent."""
    if kv is None:
        return 0, None, 0
    data = json.loads(kv.value)
    return int(data["count"]), _instant(data["end"]), kv.mod_revision
