"""Read-only overlay of config-defined clients, passwords and connectors over a ``Storage``.

``staticClients``, ``staticPasswords`` and ``connectors`` from the config file are visible to
``get_*``/``list_*`` like stored ones, but ``update_*``/``delete_*`` on them raise
``ReadOnlyError`` and ``create_*`` with their id raises ``AlreadyExistsError``. They live in plain
dicts, so a static client lookup on the token endpoint never touches the database. Everything
else is delegated to the wrapped storage. A static object hides a stored one with the same id.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from dex_py.storage.base import (
    AlreadyExistsError,
    AuditRecord,
    AuthCode,
    AuthRequest,
    Client,
    Connector,
    DeviceRequest,
    GCResult,
    Issuer,
    Keys,
    LogoutEvent,
    MFAState,
    Password,
    ReadOnlyError,
    RefreshToken,
    Session,
    Storage,
    Updater,
)


class StaticOverlay:
    """A ``Storage`` whose static clients, passwords and connectors come from the config."""

    def __init__(
        self,
        storage: Storage,
        *,
        clients: Iterable[Client] = (),
        passwords: Iterable[Password] = (),
        connectors: Iterable[Connector] = (),
    ) -> None:
        self.storage = storage
        self._clients = {c.id: c for c in clients}
        self._passwords = {p.email.lower(): p for p in passwords}
        self._connectors = {c.id: c for c in connectors}

    def __repr__(self) -> str:
        return f"StaticOverlay({self.storage!r})"

    def is_static_client(self, id: str) -> bool:
        return id in self._clients

    def is_static_password(self, email: str) -> bool:
        return email.lower() in self._passwords

    def is_static_connector(self, id: str) -> bool:
        return id in self._connectors

    def dispose_after_fork(self) -> None:
        dispose: Callable[[], None] | None = getattr(self.storage, "dispose_after_fork", None)
        if dispose is not None:
            dispose()

    # clients

    def create_client(self, c: Client) -> None:
        if c.id in self._clients:
            raise AlreadyExistsError(f"client {c.id!r} is defined in the config file")
        self.storage.create_client(c)

    def get_client(self, id: str) -> Client:
        static = self._clients.get(id)
        return static if static is not None else self.storage.get_client(id)

    def update_client(self, id: str, fn: Updater[Client]) -> Client:
        _refuse("client", id, self._clients)
        return self.storage.update_client(id, fn)

    def delete_client(self, id: str) -> None:
        _refuse("client", id, self._clients)
        self.storage.delete_client(id)

    def list_clients(self) -> list[Client]:
        return _merge(self._clients, self.storage.list_clients(), lambda c: c.id)

    # passwords

    def create_password(self, p: Password) -> None:
        if p.email.lower() in self._passwords:
            raise AlreadyExistsError(f"password {p.email!r} is defined in the config file")
        self.storage.create_password(p)

    def get_password(self, email: str) -> Password:
        static = self._passwords.get(email.lower())
        return static if static is not None else self.storage.get_password(email)

    def update_password(self, email: str, fn: Updater[Password]) -> Password:
        _refuse("password", email.lower(), self._passwords)
        return self.storage.update_password(email, fn)

    def delete_password(self, email: str) -> None:
        _refuse("password", email.lower(), self._passwords)
        self.storage.delete_password(email)

    def list_passwords(self) -> list[Password]:
        return _merge(self._passwords, self.storage.list_passwords(), lambda p: p.email.lower())

    # connectors

    def create_connector(self, c: Connector) -> None:
        if c.id in self._connectors:
            raise AlreadyExistsError(f"connector {c.id!r} is defined in the config file")
        self.storage.create_connector(c)

    def get_connector(self, id: str) -> Connector:
        static = self._connectors.get(id)
        return static if static is not None else self.storage.get_connector(id)

    def update_connector(self, id: str, fn: Updater[Connector]) -> Connector:
        _refuse("connector", id, self._connectors)
        return self.storage.update_connector(id, fn)

    def delete_connector(self, id: str) -> None:
        _refuse("connector", id, self._connectors)
        self.storage.delete_connector(id)

    def list_connectors(self) -> list[Connector]:
        return _merge(self._connectors, self.storage.list_connectors(), lambda c: c.id)

    # everything else: delegated

    def create_auth_request(self, req: AuthRequest) -> None:
        self.storage.create_auth_request(req)

    def get_auth_request(self, id: str) -> AuthRequest:
        return self.storage.get_auth_request(id)

    def update_auth_request(self, id: str, fn: Updater[AuthRequest]) -> AuthRequest:
        return self.storage.update_auth_request(id, fn)

    def delete_auth_request(self, id: str) -> None:
        self.storage.delete_auth_request(id)

    def create_auth_code(self, code: AuthCode) -> None:
        self.storage.create_auth_code(code)

    def get_auth_code(self, id: str) -> AuthCode:
        return self.storage.get_auth_code(id)

    def update_auth_code(self, id: str, fn: Updater[AuthCode]) -> AuthCode:
        return self.storage.update_auth_code(id, fn)

    def redeem_auth_code(self, id: str, fn: Updater[AuthCode], issue: Issuer[AuthCode]) -> AuthCode:
        return self.storage.redeem_auth_code(id, fn, issue)

    def delete_auth_code(self, id: str) -> None:
        self.storage.delete_auth_code(id)

    def create_refresh_token(self, token: RefreshToken) -> None:
        self.storage.create_refresh_token(token)

    def get_refresh_token(self, id: str) -> RefreshToken:
        return self.storage.get_refresh_token(id)

    def update_refresh_token(self, id: str, fn: Updater[RefreshToken]) -> RefreshToken:
        return self.storage.update_refresh_token(id, fn)

    def delete_refresh_token(self, id: str) -> None:
        self.storage.delete_refresh_token(id)

    def list_refresh_tokens(
        self, *, client_id: str | None = None, user_id: str | None = None
    ) -> list[RefreshToken]:
        return self.storage.list_refresh_tokens(client_id=client_id, user_id=user_id)

    def create_session(self, s: Session) -> None:
        self.storage.create_session(s)

    def get_session(self, id: str) -> Session:
        return self.storage.get_session(id)

    def update_session(self, id: str, fn: Updater[Session]) -> Session:
        return self.storage.update_session(id, fn)

    def delete_session(self, id: str) -> None:
        self.storage.delete_session(id)

    def list_sessions(self, *, user_id: str | None = None) -> list[Session]:
        return self.storage.list_sessions(user_id=user_id)

    def create_audit_record(self, r: AuditRecord) -> None:
        self.storage.create_audit_record(r)

    def list_audit_records(self, **filters: Any) -> list[AuditRecord]:
        return self.storage.list_audit_records(**filters)

    def delete_audit_records(self, before: datetime) -> int:
        return self.storage.delete_audit_records(before)

    def create_logout_event(self, e: LogoutEvent) -> None:
        self.storage.create_logout_event(e)

    def get_logout_event(self, id: str) -> LogoutEvent:
        return self.storage.get_logout_event(id)

    def update_logout_event(self, id: str, fn: Updater[LogoutEvent]) -> LogoutEvent:
        return self.storage.update_logout_event(id, fn)

    def list_logout_events(
        self, *, status: str | None = None, due_before: datetime | None = None
    ) -> list[LogoutEvent]:
        return self.storage.list_logout_events(status=status, due_before=due_before)

    def get_keys(self) -> Keys:
        return self.storage.get_keys()

    def update_keys(self, fn: Callable[[Keys | None], Keys]) -> Keys:
        return self.storage.update_keys(fn)

    def revoke_access_token(self, jti: str, expiry: datetime) -> bool:
        return self.storage.revoke_access_token(jti, expiry)

    def is_access_token_revoked(self, jti: str, grant_id: str = "") -> bool:
        return self.storage.is_access_token_revoked(jti, grant_id)

    def create_device_request(self, r: DeviceRequest) -> None:
        self.storage.create_device_request(r)

    def get_device_request(self, id: str) -> DeviceRequest:
        return self.storage.get_device_request(id)

    def get_device_request_by_user_code(self, user_code: str) -> DeviceRequest:
        return self.storage.get_device_request_by_user_code(user_code)

    def update_device_request(self, id: str, fn: Updater[DeviceRequest]) -> DeviceRequest:
        return self.storage.update_device_request(id, fn)

    def redeem_device_request(
        self, id: str, fn: Updater[DeviceRequest], issue: Issuer[DeviceRequest]
    ) -> DeviceRequest:
        return self.storage.redeem_device_request(id, fn, issue)

    def delete_device_request(self, id: str) -> None:
        self.storage.delete_device_request(id)

    def create_mfa_state(self, s: MFAState) -> None:
        self.storage.create_mfa_state(s)

    def get_mfa_state(self, id: str) -> MFAState:
        return self.storage.get_mfa_state(id)

    def update_mfa_state(self, id: str, fn: Updater[MFAState]) -> MFAState:
        return self.storage.update_mfa_state(id, fn)

    def delete_mfa_state(self, id: str) -> None:
        self.storage.delete_mfa_state(id)

    def list_mfa_states(self) -> list[MFAState]:
        return self.storage.list_mfa_states()

    def count_attempt(self, key: str, now: datetime, window: timedelta) -> int:
        return self.storage.count_attempt(key, now, window)

    def attempts(self, key: str, now: datetime) -> int:
        return self.storage.attempts(key, now)

    def reset_attempts(self, prefix: str) -> int:
        return self.storage.reset_attempts(prefix)

    def any_revoked(self, keys: Sequence[str]) -> bool:
        return self.storage.any_revoked(keys)

    def generation(self) -> int:
        return self.storage.generation()

    def bump_generation(self) -> int:
        return self.storage.bump_generation()

    def on_change(self, callback: Callable[[], None]) -> None:
        """The wrapped storage's change notifications, where it has them (PostgreSQL)."""
        listen: Callable[[Callable[[], None]], None] | None = getattr(
            self.storage, "on_change", None
        )
        if listen is not None:
            listen(callback)

    def get_setting(self, key: str) -> tuple[Any, int]:
        return self.storage.get_setting(key)

    def put_setting(self, key: str, value: Any, expected_version: int) -> int:
        return self.storage.put_setting(key, value, expected_version)

    def garbage_collect(self, now: datetime) -> GCResult:
        return self.storage.garbage_collect(now)

    def ping(self) -> None:
        self.storage.ping()

    def close(self) -> None:
        self.storage.close()


def _refuse(kind: str, key: str, static: dict[str, Any]) -> None:
    if key in static:
        raise ReadOnlyError(f"{kind} {key!r} is defined in the config file and cannot be changed")


def _merge(static: dict[str, Any], stored: list[Any], key: Callable[[Any], str]) -> list[Any]:
    """Static objects plus the stored ones they do not hide, sorted by key."""
    merged = dict(static)
    for obj in stored:
        merged.setdefault(key(obj), obj)
    return [merged[k] for k in sorted(merged)]
