"""Storage contract: the ``Storage`` protocol over the records of ``storage.records``
(re-exported here).

Modelled on Dex's ``storage/storage.go``: create/get/list/update/delete per entity, where
``update_x(id, fn)`` runs ``fn(old) -> new`` so that concurrent updaters (threads or processes)
never lose a write: inside one transaction holding a row lock, or, for refresh tokens on
PostgreSQL, as a compare-and-swap that calls ``fn`` again after a lost race. Every backend
(memory, SQLite, PostgreSQL, MySQL) passes the same conformance suite in ``tests/storage``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol, TypeVar, runtime_checkable

from dex_py.storage.records import (
    GRANT_PREFIX,
    PKCE,
    SESSION_PREFIX,
    AlreadyExistsError,
    Approval,
    AuditRecord,
    AuthCode,
    AuthRequest,
    Claims,
    Client,
    ConflictError,
    Connector,
    DeviceRequest,
    GCResult,
    Keys,
    LogoutEvent,
    MFAState,
    NotFoundError,
    Password,
    ReadOnlyError,
    RefreshToken,
    Session,
    StorageError,
    VerificationKey,
    WebAuthnCredential,
    grant_marker,
    session_marker,
)

__all__ = [
    "GRANT_PREFIX",
    "PKCE",
    "SESSION_PREFIX",
    "AlreadyExistsError",
    "Approval",
    "AuditRecord",
    "AuthCode",
    "AuthRequest",
    "Claims",
    "Client",
    "ConflictError",
    "Connector",
    "DeviceRequest",
    "GCResult",
    "Issuer",
    "Keys",
    "LogoutEvent",
    "MFAState",
    "NotFoundError",
    "Password",
    "ReadOnlyError",
    "RefreshToken",
    "Session",
    "Storage",
    "StorageError",
    "Updater",
    "VerificationKey",
    "WebAuthnCredential",
    "grant_marker",
    "session_marker",
]

T = TypeVar("T")
Updater = Callable[[T], T]
# What redeeming a code or device request stores with it: the new refresh token chain, if any.
Issuer = Callable[[T], RefreshToken | None]


@runtime_checkable
class Storage(Protocol):
    """What every backend implements. ``update_*`` raise ``NotFoundError`` for a missing id;
    ``create_*`` raise ``AlreadyExistsError`` for a taken one. ``update_*`` returns the new value;
    if ``fn`` raises, nothing is written and the exception propagates. ``fn`` sees the value
    as it is when the update is written: a backend may call it more than once (an update
    without a lock that lost a race to another request calls ``fn`` again on the value that
    request wrote), so ``fn`` must not act on the world; it may only record its result."""

    # auth requests
    def create_auth_request(self, req: AuthRequest) -> None: ...
    def get_auth_request(self, id: str) -> AuthRequest: ...
    def update_auth_request(self, id: str, fn: Updater[AuthRequest]) -> AuthRequest: ...
    def delete_auth_request(self, id: str) -> None: ...

    # auth codes
    def create_auth_code(self, code: AuthCode) -> None: ...
    def get_auth_code(self, id: str) -> AuthCode: ...
    def update_auth_code(self, id: str, fn: Updater[AuthCode]) -> AuthCode: ...
    def redeem_auth_code(self, id: str, fn: Updater[AuthCode], issue: Issuer[AuthCode]) -> AuthCode:
        """``update_auth_code(id, fn)`` and, in the same transaction, the creation of the
        refresh token ``issue(new_code)`` returns (if any): both are written or neither (when
        ``fn`` or ``issue`` raises, or the token cannot be stored)."""
        ...

    def delete_auth_code(self, id: str) -> None: ...

    # refresh tokens
    def create_refresh_token(self, token: RefreshToken) -> None: ...
    def get_refresh_token(self, id: str) -> RefreshToken: ...
    def update_refresh_token(self, id: str, fn: Updater[RefreshToken]) -> RefreshToken: ...
    def delete_refresh_token(self, id: str) -> None: ...
    def list_refresh_tokens(
        self, *, client_id: str | None = None, user_id: str | None = None
    ) -> list[RefreshToken]: ...

    # passwords (keyed by lower-cased email)
    def create_password(self, p: Password) -> None: ...
    def get_password(self, email: str) -> Password: ...
    def update_password(self, email: str, fn: Updater[Password]) -> Password: ...
    def delete_password(self, email: str) -> None: ...
    def list_passwords(self) -> list[Password]: ...

    # clients
    def create_client(self, c: Client) -> None: ...
    def get_client(self, id: str) -> Client: ...
    def update_client(self, id: str, fn: Updater[Client]) -> Client: ...
    def delete_client(self, id: str) -> None: ...
    def list_clients(self) -> list[Client]: ...

    # connectors
    def create_connector(self, c: Connector) -> None: ...
    def get_connector(self, id: str) -> Connector: ...
    def update_connector(self, id: str, fn: Updater[Connector]) -> Connector: ...
    def delete_connector(self, id: str) -> None: ...
    def list_connectors(self) -> list[Connector]: ...

    # signing keys: one row; get_keys raises NotFoundError before the first update_keys.
    # update_keys(fn) calls fn(old or None) under a lock; returning ``old`` writes nothing.
    def get_keys(self) -> Keys: ...
    def update_keys(self, fn: Callable[[Keys | None], Keys]) -> Keys: ...

    # browser sessions (SSO)
    def create_session(self, s: Session) -> None: ...
    def get_session(self, id: str) -> Session: ...
    def update_session(self, id: str, fn: Updater[Session]) -> Session: ...
    def delete_session(self, id: str) -> None: ...
    def list_sessions(self, *, user_id: str | None = None) -> list[Session]: ...

    # the audit log (security events and admin changes), newest first; ``delete_audit_records``
    # removes those older than ``before`` (audit.retention) and returns how many went
    def create_audit_record(self, r: AuditRecord) -> None: ...
    def list_audit_records(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        event: str = "",
        actor: str = "",
        limit: int = 100,
    ) -> list[AuditRecord]: ...
    def delete_audit_records(self, before: datetime) -> int: ...

    # back-channel logout deliveries (retry queue + audit trail; never garbage collected)
    def create_logout_event(self, e: LogoutEvent) -> None: ...
    def get_logout_event(self, id: str) -> LogoutEvent: ...
    def update_logout_event(self, id: str, fn: Updater[LogoutEvent]) -> LogoutEvent: ...
    def list_logout_events(
        self, *, status: str | None = None, due_before: datetime | None = None
    ) -> list[LogoutEvent]: ...

    # revoked access tokens (by jti, or a whole grant by ``grant_marker(grant_id)``), kept
    # until the tokens would have expired anyway. ``revoke_access_token`` is an atomic
    # insert-if-absent on a unique key: it returns False if the key was recorded already (the
    # replay cache of client assertions relies on it across processes).
    def revoke_access_token(self, jti: str, expiry: datetime) -> bool: ...
    def is_access_token_revoked(self, jti: str, grant_id: str = "") -> bool: ...
    # whether any of ``keys`` (jtis or markers, taken as given) is recorded: one lookup
    def any_revoked(self, keys: Sequence[str]) -> bool: ...

    # device authorization requests (RFC 8628), keyed by the device code's SHA-256 digest;
    # ``create`` also raises ``AlreadyExistsError`` for a user code in use.
    def create_device_request(self, r: DeviceRequest) -> None: ...
    def get_device_request(self, id: str) -> DeviceRequest: ...
    def get_device_request_by_user_code(self, user_code: str) -> DeviceRequest: ...
    def update_device_request(self, id: str, fn: Updater[DeviceRequest]) -> DeviceRequest: ...
    def redeem_device_request(
        self, id: str, fn: Updater[DeviceRequest], issue: Issuer[DeviceRequest]
    ) -> DeviceRequest:
        """``update_device_request`` and the refresh token ``issue`` returns, together (as
        ``redeem_auth_code``)."""
        ...

    def delete_device_request(self, id: str) -> None: ...

    # attempt counters (rate limits shared by every process): one atomic increment of the
    # counter ``key`` in a fixed window that starts at the first attempt and lasts ``window``;
    # returns the count including this attempt; ``attempts`` reads it without counting.
    def count_attempt(self, key: str, now: datetime, window: timedelta) -> int: ...
    def attempts(self, key: str, now: datetime) -> int: ...  # the count, 0 once the window ended
    # removes every counter whose key starts with ``prefix``; returns how many
    def reset_attempts(self, prefix: str) -> int: ...

    # second factors (dex_py.mfa), one record per user, keyed by the user's ``sub``
    def create_mfa_state(self, s: MFAState) -> None: ...
    def get_mfa_state(self, id: str) -> MFAState: ...
    def update_mfa_state(self, id: str, fn: Updater[MFAState]) -> MFAState: ...
    def delete_mfa_state(self, id: str) -> None: ...
    def list_mfa_states(self) -> list[MFAState]: ...  # for copying storage

    # runtime-managed objects (issue 12). The change counter: whoever changes a client,
    # connector, password or setting at run time bumps it afterwards, and every process that
    # caches such objects (the running connectors, the team rules) rebuilds them when it moved.
    # ``generation`` is 0 before the first bump and costs one primary-key read;
    # ``bump_generation`` is an atomic increment across processes and returns the new value.
    def generation(self) -> int: ...
    def bump_generation(self) -> int: ...

    # settings: small JSON values (lists, objects, strings, numbers) by key, each with a version
    # for optimistic concurrency. ``get_setting`` returns ``(value, version)``, ``(None, 0)``
    # for a key never written; ``put_setting`` writes only if the version is still
    # ``expected_version`` (0: never written), returns the new version, and raises
    # ``ConflictError`` otherwise (nothing written).
    def get_setting(self, key: str) -> tuple[Any, int]: ...
    def put_setting(self, key: str, value: Any, expected_version: int) -> int: ...

    # housekeeping
    def garbage_collect(self, now: datetime) -> GCResult: ...
    def ping(self) -> None: ...
    def close(self) -> None: ...
