"""A user's SSO sessions and refresh tokens: list them per user or per client, revoke one, or
revoke everything of a user.

A user is named as in tokens: a user id of one connector (the ``sub`` is Dex's encoding of the
two, ``dex_py.jose.tokens.encode_sub``); sessions and refresh tokens store both. Revoking a
refresh token ends its chain and the access tokens issued under it (``dex_py.revocation``,
RFC 7009 §2.1). Revoking a session deletes it, records its end so tokens carrying its ``sid``
are refused where revocation is checked, and starts OpenID Connect back-channel logout for the
clients that got tokens in it (``dex_py.backchannel``, Back-Channel Logout 1.0 §2.5). Views
never carry a secret or digest.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from dex_py import backchannel, revocation
from dex_py.jose.tokens import decode_sub, encode_sub
from dex_py.management.actor import Actor, audited
from dex_py.management.errors import Invalid, NotFound, storage_errors
from dex_py.services import Services
from dex_py.storage.base import NotFoundError, RefreshToken, Session

__all__ = [
    "RefreshTokenView",
    "RevokedUser",
    "SessionView",
    "list_refresh_tokens",
    "list_sessions",
    "revoke_refresh_token",
    "revoke_session",
    "revoke_user",
    "user_of_sub",
]


@dataclass(frozen=True)
class SessionView:
    """One SSO session (a browser's login), without its cookie secret."""

    id: str  # also the ``sid`` claim
    sub: str
    user_id: str
    connector_id: str
    username: str
    email: str
    clients: tuple[str, ...]
    auth_time: datetime
    created_at: datetime
    last_active: datetime
    expiry: datetime


@dataclass(frozen=True)
class RefreshTokenView:
    """One refresh token chain, without its secret."""

    id: str
    sub: str
    user_id: str
    connector_id: str
    username: str
    email: str
    client_id: str
    scopes: tuple[str, ...]
    created_at: datetime
    last_used: datetime
    expiry: datetime | None
    session_id: str


@dataclass(frozen=True)
class RevokedUser:
    """What ``revoke_user`` ended."""

    sessions: int
    refresh_tokens: int
    logout_deliveries: int  # back-channel logout tokens queued for the sessions' clients


def user_of_sub(sub: str) -> tuple[str, str]:
    """``(user_id, connector_id)`` of a token's ``sub``; ``Invalid`` if it is not one."""
    try:
        user_id, connector_id = decode_sub(sub)
    except ValueError:
        raise Invalid([("sub", "not a subject of this issuer's tokens")]) from None
    if not user_id:
        raise Invalid([("sub", "names no user")])
    return user_id, connector_id


def _session_view(s: Session) -> SessionView:
    return SessionView(
        id=s.id,
        sub=encode_sub(s.claims.user_id, s.connector_id),
        user_id=s.claims.user_id,
        connector_id=s.connector_id,
        username=s.claims.username,
        email=s.claims.email,
        clients=s.clients,
        auth_time=s.auth_time,
        created_at=s.created_at,
        last_active=s.last_active,
        expiry=s.expiry,
    )


def _token_view(t: RefreshToken) -> RefreshTokenView:
    return RefreshTokenView(
        id=t.id,
        sub=encode_sub(t.claims.user_id, t.connector_id),
        user_id=t.claims.user_id,
        connector_id=t.connector_id,
        username=t.claims.username,
        email=t.claims.email,
        client_id=t.client_id,
        scopes=t.scopes,
        created_at=t.created_at,
        last_used=t.last_used,
        expiry=t.expiry,
        session_id=t.session_id,
    )


def _sessions(svc: Services, user_id: str | None, connector_id: str | None) -> list[Session]:
    found = svc.storage.list_sessions(user_id=user_id)
    return [s for s in found if connector_id is None or s.connector_id == connector_id]


def _tokens(
    svc: Services, user_id: str | None, connector_id: str | None, client_id: str | None
) -> list[RefreshToken]:
    found = svc.storage.list_refresh_tokens(user_id=user_id, client_id=client_id)
    return [t for t in found if connector_id is None or t.connector_id == connector_id]


def list_sessions(
    svc: Services,
    *,
    user_id: str | None = None,
    connector_id: str | None = None,
    client_id: str | None = None,
) -> list[SessionView]:
    """SSO sessions that have not expired, of one user (user id and, optionally, connector)
    and/or in which one client got tokens; most recently active first."""
    now = svc.clock.now()
    found = [
        s
        for s in _sessions(svc, user_id, connector_id)
        if s.expiry > now and (client_id is None or client_id in s.clients)
    ]
    found.sort(key=lambda s: (s.last_active, s.id), reverse=True)
    return [_session_view(s) for s in found]


def list_refresh_tokens(
    svc: Services,
    *,
    user_id: str | None = None,
    connector_id: str | None = None,
    client_id: str | None = None,
) -> list[RefreshTokenView]:
    """Refresh tokens that have not expired, of one user and/or one client; most recently used
    first."""
    now = svc.clock.now()
    found = [
        t
        for t in _tokens(svc, user_id, connector_id, client_id)
        if t.expiry is None or t.expiry > now
    ]
    found.sort(key=lambda t: (t.last_used, t.id), reverse=True)
    return [_token_view(t) for t in found]


def revoke_refresh_token(svc: Services, actor: Actor, token_id: str) -> None:
    """Revoke one refresh token chain and the access tokens issued under it."""
    with audited(svc, actor, "session.revoke_refresh_token", "refresh_token", token_id) as out:
        with storage_errors(f"refresh token {token_id!r}"):
            token = svc.storage.get_refresh_token(token_id)
        out.update(client=token.client_id, user=token.claims.user_id)
        revocation.revoke_grant(svc, token.id)


def _end_session(svc: Services, session: Session) -> int | None:
    """Delete ``session``, record its end and start back-channel logout; how many deliveries
    were queued, or ``None`` when it was gone already (another request ended it)."""
    try:
        svc.storage.delete_session(session.id)
    except NotFoundError:
        return None
    revocation.revoke_session(svc, session.id)
    return len(backchannel.start_logout(svc, session))


def revoke_session(svc: Services, actor: Actor, session_id: str) -> int:
    """End one SSO session (as a logout would); returns how many back-channel logout
    deliveries were queued."""
    with audited(svc, actor, "session.revoke", "session", session_id) as out:
        with storage_errors(f"session {session_id!r}"):
            session = svc.storage.get_session(session_id)
        deliveries = _end_session(svc, session)
        if deliveries is None:
            raise NotFound(f"no session {session_id!r}")
        out.update(user=session.claims.user_id, logout_deliveries=deliveries)
    return deliveries


def end_user_sessions(svc: Services, user_id: str, connector_id: str) -> RevokedUser:
    """Revoke every refresh token and SSO session of a user, unaudited (the callers audit)."""
    tokens = _tokens(svc, user_id, connector_id, None)
    for token in tokens:
        revocation.revoke_grant(svc, token.id)
    sessions = _sessions(svc, user_id, connector_id)
    deliveries = sum(_end_session(svc, s) or 0 for s in sessions)
    return RevokedUser(len(sessions), len(tokens), deliveries)


def revoke_user(svc: Services, actor: Actor, user_id: str, connector_id: str) -> RevokedUser:
    """Revoke everything of one user of one connector: refresh tokens first (so no new access
    token is minted meanwhile), then SSO sessions, with back-channel logout."""
    if not user_id:
        raise Invalid([("user_id", "required")])
    sub = encode_sub(user_id, connector_id)
    with audited(svc, actor, "session.revoke_user", "user", sub) as out:
        result = end_user_sessions(svc, user_id, connector_id)
        out.update(
            user=user_id,
            connector=connector_id,
            sessions=result.sessions,
            refresh_tokens=result.refresh_tokens,
            logout_deliveries=result.logout_deliveries,
        )
    return result
