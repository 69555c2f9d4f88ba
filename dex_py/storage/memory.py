"""In-process storage for tests and demos (``storage.type: memory``).

Entities are frozen dataclasses, so they are stored as they are; one ``RLock`` serialises every
operation, which gives ``update_*`` the same all-or-nothing semantics as a database row lock
(within one process: memory storage is not shared between gunicorn workers). Connector configs
are the one mutable part (a ``dict``) and are copied on the way in and out.
"""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from dex_py.storage.base import (
    AlreadyExistsError,
    AuditRecord,
    AuthCode,
    AuthRequest,
    Client,
    ConflictError,
    Connector,
    DeviceRequest,
    GCResult,
    Issuer,
    Keys,
    LogoutEvent,
    MFAState,
    NotFoundError,
    Password,
    RefreshToken,
    Session,
    Updater,
    grant_marker,
)
from dex_py.storage.memory_table import (
    Table,
    drop,
    redeem,
    select_audit_records,
    select_logout_events,
    utc,
)


def _copy_connector(c: Connector) -> Connector:
    return replace(c, config=copy.deepcopy(c.config))


class MemoryStorage:
    """``Storage`` in a few dicts, guarded by one re-entrant lock."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._auth_requests: Table[AuthRequest] = Table("auth request", lambda o: o.id)
        self._auth_codes: Table[AuthCode] = Table("auth code", lambda o: o.id)
        self._refresh: Table[RefreshToken] = Table("refresh token", lambda o: o.id)
        self._passwords: Table[Password] = Table("password", lambda o: o.email.lower())
        self._clients: Table[Client] = Table("client", lambda o: o.id)
        self._connectors: Table[Connector] = Table("connector", lambda o: o.id)
        self._sessions: Table[Session] = Table("session", lambda o: o.id)
        self._logout_events: Table[LogoutEvent] = Table("logout event", lambda o: o.id)
        self._devices: Table[DeviceRequest] = Table("device request", lambda o: o.id)
        self._mfa: Table[MFAState] = Table("MFA state", lambda o: o.id)
        self._audit: Table[AuditRecord] = Table("audit record", lambda o: o.id)
        self._keys: Keys | None = None
        self._revoked: dict[str, datetime] = {}
        self._attempts: dict[str, tuple[int, datetime]] = {}  # key -> (count, window end)
        self._generation = 0
        self._settings: dict[str, tuple[str, int]] = {}  # key -> (JSON text, version)

    def __repr__(self) -> str:
        return "MemoryStorage()"

    def dispose_after_fork(self) -> None:
        """Nothing to do: memory storage holds no connections."""

    # auth requests

    def create_auth_request(self, req: AuthRequest) -> None:
        with self._lock:
            self._auth_requests.create(req)

    def get_auth_request(self, id: str) -> AuthRequest:
        with self._lock:
            return self._auth_requests.get(id)

    def update_auth_request(self, id: str, fn: Updater[AuthRequest]) -> AuthRequest:
        with self._lock:
            return self._auth_requests.update(id, fn)

    def delete_auth_request(self, id: str) -> None:
        with self._lock:
            self._auth_requests.delete(id)

    # auth codes

    def create_auth_code(self, code: AuthCode) -> None:
        with self._lock:
            self._auth_codes.create(code)

    def get_auth_code(self, id: str) -> AuthCode:
        with self._lock:
            return self._auth_codes.get(id)

    def update_auth_code(self, id: str, fn: Updater[AuthCode]) -> AuthCode:
        with self._lock:
            return self._auth_codes.update(id, fn)

    def redeem_auth_code(self, id: str, fn: Updater[AuthCode], issue: Issuer[AuthCode]) -> AuthCode:
        with self._lock:
            return redeem(self._auth_codes, self._refresh, id, fn, issue)

    def delete_auth_code(self, id: str) -> None:
        with self._lock:
            self._auth_codes.delete(id)

    # refresh tokens

    def create_refresh_token(self, token: RefreshToken) -> None:
        with self._lock:
            self._refresh.create(token)

    def get_refresh_token(self, id: str) -> RefreshToken:
        with self._lock:
            return self._refresh.get(id)

    def update_refresh_token(self, id: str, fn: Updater[RefreshToken]) -> RefreshToken:
        with self._lock:
            return self._refresh.update(id, fn)

    def delete_refresh_token(self, id: str) -> None:
        with self._lock:
            self._refresh.delete(id)

    def list_refresh_tokens(
        self, *, client_id: str | None = None, user_id: str | None = None
    ) -> list[RefreshToken]:
        with self._lock:
            return [
                t
                for t in self._refresh.list()
                if (client_id is None or t.client_id == client_id)
                and (user_id is None or t.claims.user_id == user_id)
            ]

    # passwords

    def create_password(self, p: Password) -> None:
        with self._lock:
            self._passwords.create(replace(p, email=p.email.lower()))

    def get_password(self, email: str) -> Password:
        with self._lock:
            return self._passwords.get(email.lower())

    def update_password(self, email: str, fn: Updater[Password]) -> Password:
        def lowered(old: Password) -> Password:
            new = fn(old)
            return new if new is old else replace(new, email=new.email.lower())

        with self._lock:
            return self._passwords.update(email.lower(), lowered)

    def delete_password(self, email: str) -> None:
        with self._lock:
            self._passwords.delete(email.lower())

    def list_passwords(self) -> list[Password]:
        with self._lock:
            return self._passwords.list()

    # clients

    def create_client(self, c: Client) -> None:
        with self._lock:
            self._clients.create(c)

    def get_client(self, id: str) -> Client:
        with self._lock:
            return self._clients.get(id)

    def update_client(self, id: str, fn: Updater[Client]) -> Client:
        with self._lock:
            return self._clients.update(id, fn)

    def delete_client(self, id: str) -> None:
        with self._lock:
            self._clients.delete(id)

    def list_clients(self) -> list[Client]:
        with self._lock:
            return self._clients.list()

    # connectors

    def create_connector(self, c: Connector) -> None:
        with self._lock:
            self._connectors.create(_copy_connector(c))

    def get_connector(self, id: str) -> Connector:
        with self._lock:
            return _copy_connector(self._connectors.get(id))

    def update_connector(self, id: str, fn: Updater[Connector]) -> Connector:
        def copied(old: Connector) -> Connector:
            new = fn(_copy_connector(old))
            return old if new == old else _copy_connector(new)

        with self._lock:
            return _copy_connector(self._connectors.update(id, copied))

    def delete_connector(self, id: str) -> None:
        with self._lock:
            self._connectors.delete(id)

    def list_connectors(self) -> list[Connector]:
        with self._lock:
            return [_copy_connector(c) for c in self._connectors.list()]

    # browser sessions

    def create_session(self, s: Session) -> None:
        with self._lock:
            self._sessions.create(s)

    def get_session(self, id: str) -> Session:
        with self._lock:
            return self._sessions.get(id)

    def update_session(self, id: str, fn: Updater[Session]) -> Session:
        with self._lock:
            return self._sessions.update(id, fn)

    def delete_session(self, id: str) -> None:
        with self._lock:
            self._sessions.delete(id)

    def list_sessions(self, *, user_id: str | None = None) -> list[Session]:
        with self._lock:
            return [
                s for s in self._sessions.list() if user_id is None or s.claims.user_id == user_id
            ]

    # the audit log (newest first; removed after audit.retention)

    def create_audit_record(self, r: AuditRecord) -> None:
        with self._lock:
            self._audit.create(r)

    def list_audit_records(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        event: str = "",
        actor: str = "",
        limit: int = 100,
    ) -> list[AuditRecord]:
        with self._lock:
            rows = list(self._audit.rows.values())
        return select_audit_records(
            rows, since=since, until=until, event=event, actor=actor, limit=limit
        )

    def delete_audit_records(self, before: datetime) -> int:
        cutoff = utc(before)
        with self._lock:
            old = [k for k, r in self._audit.rows.items() if r.time < cutoff]
            for key in old:
                del self._audit.rows[key]
        return len(old)

    # back-channel logout events (never garbage collected)

    def create_logout_event(self, e: LogoutEvent) -> None:
        with self._lock:
            self._logout_events.create(e)

    def get_logout_event(self, id: str) -> LogoutEvent:
        with self._lock:
            return self._logout_events.get(id)

    def update_logout_event(self, id: str, fn: Updater[LogoutEvent]) -> LogoutEvent:
        with self._lock:
            return self._logout_events.update(id, fn)

    def list_logout_events(
        self, *, status: str | None = None, due_before: datetime | None = None
    ) -> list[LogoutEvent]:
        with self._lock:
            return select_logout_events(self._logout_events.rows.values(), status, due_before)

    # signing keys

    def get_keys(self) -> Keys:
        with self._lock:
            if self._keys is None:
                raise NotFoundError("signing keys not created yet")
            return self._keys

    def update_keys(self, fn: Callable[[Keys | None], Keys]) -> Keys:
        with self._lock:
            old = self._keys
            new = fn(old)
            if new is not old:
                self._keys = new = utc(new)
            return new

    # revoked access tokens

    def revoke_access_token(self, jti: str, expiry: datetime) -> bool:
        expiry = utc(expiry)
        with self._lock:
            if jti in self._revoked:
                return False
            self._revoked[jti] = expiry
            return True

    def is_access_token_revoked(self, jti: str, grant_id: str = "") -> bool:
        with self._lock:
            return jti in self._revoked or bool(
                grant_id and grant_marker(grant_id) in self._revoked
            )

    # device requests

    def create_device_request(self, r: DeviceRequest) -> None:
        with self._lock:
            if any(d.user_code == r.user_code for d in self._devices.rows.values()):
                raise AlreadyExistsError(f"user code {r.user_code!r} already in use")
            self._devices.create(r)

    def get_device_request(self, id: str) -> DeviceRequest:
        with self._lock:
            return self._devices.get(id)

    def get_device_request_by_user_code(self, user_code: str) -> DeviceRequest:
        with self._lock:
            for d in self._devices.rows.values():
                if d.user_code == user_code:
                    return d
        raise NotFoundError(f"device request with user code {user_code!r} not found")

    def update_device_request(self, id: str, fn: Updater[DeviceRequest]) -> DeviceRequest:
        with self._lock:
            return self._devices.update(id, fn)

    def redeem_device_request(
        self, id: str, fn: Updater[DeviceRequest], issue: Issuer[DeviceRequest]
    ) -> DeviceRequest:
        with self._lock:
            return redeem(self._devices, self._refresh, id, fn, issue)

    def delete_device_request(self, id: str) -> None:
        with self._lock:
            self._devices.delete(id)

    # second factors

    def create_mfa_state(self, s: MFAState) -> None:
        with self._lock:
            self._mfa.create(s)

    def get_mfa_state(self, id: str) -> MFAState:
        with self._lock:
            return self._mfa.get(id)

    def update_mfa_state(self, id: str, fn: Updater[MFAState]) -> MFAState:
        with self._lock:
            return self._mfa.update(id, fn)

    def delete_mfa_state(self, id: str) -> None:
        with self._lock:
            self._mfa.delete(id)

    def list_mfa_states(self) -> list[MFAState]:
        with self._lock:
            return self._mfa.list()

    # attempt counters

    def count_attempt(self, key: str, now: datetime, window: timedelta) -> int:
        now = utc(now)
        with self._lock:
            count, end = self._attempts.get(key, (0, now))
            if end <= now:
                count, end = 0, now + window
            self._attempts[key] = (count + 1, end)
            return count + 1

    def attempts(self, key: str, now: datetime) -> int:
        now = utc(now)
        with self._lock:
            count, end = self._attempts.get(key, (0, now))
            return count if end > now else 0

    def reset_attempts(self, prefix: str) -> int:
        with self._lock:
            keys = [k for k in self._attempts if k.startswith(prefix)]
            for key in keys:
                del self._attempts[key]
            return len(keys)

    def any_revoked(self, keys: Sequence[str]) -> bool:
        with self._lock:
            return any(key in self._revoked for key in keys)

    # runtime-managed objects: the change counter and settings (kept as JSON text, so a
    # caller's later change to a value it passed or got is its own)

    def generation(self) -> int:
        with self._lock:
            return self._generation

    def bump_generation(self) -> int:
        with self._lock:
            self._generation += 1
            return self._generation

    def get_setting(self, key: str) -> tuple[Any, int]:
        with self._lock:
            text, version = self._settings.get(key, ("null", 0))
        return json.loads(text), version

    def put_setting(self, key: str, value: Any, expected_version: int) -> int:
        text = json.dumps(value)
        with self._lock:
            _, version = self._settings.get(key, ("null", 0))
            if version != expected_version:
                raise ConflictError(
                    f"setting {key!r} is at version {version}, not {expected_version}"
                )
            self._settings[key] = (text, version + 1)
            return version + 1

    # housekeeping

    def garbage_collect(self, now: datetime) -> GCResult:
        now = utc(now)
        with self._lock:
            ar = drop(self._auth_requests.rows, lambda r: r.expiry < now)
            ac = drop(self._auth_codes.rows, lambda c: c.expiry < now)
            rt = drop(self._refresh.rows, lambda t: t.expiry is not None and t.expiry < now)
            rv = drop(self._revoked, lambda expiry: expiry < now)
            ss = drop(self._sessions.rows, lambda s: s.expiry < now)
            dr = drop(self._devices.rows, lambda d: d.expiry < now)
            at = drop(self._attempts, lambda a: a[1] < now)
            return GCResult(
                auth_requests=ar,
                auth_codes=ac,
                refresh_tokens=rt,
                revoked_tokens=rv,
                sessions=ss,
                device_requests=dr,
                attempt_counters=at,
            )

    def ping(self) -> None:
        """Always reachable."""

    def close(self) -> None:
        """Nothing to release."""
