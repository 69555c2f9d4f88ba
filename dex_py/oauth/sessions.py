"""Single sign-on sessions: the browser's login, remembered so the user is not asked again
(OIDC Core §3.1.2.1 ``prompt``, ``max_age``, ``id_token_hint``; the ``sid`` claim of OIDC
Back-Channel Logout 1.0 §2.1).

The browser holds ``<id>.<secret>`` in an HttpOnly, SameSite=Lax cookie scoped to the issuer's
path; storage keeps only SHA-256 of the secret. A session expires after ``session.idleTimeout``
without use or ``session.absoluteLifetime`` after login, whichever comes first. Logging in again
always starts a new session id (no session fixation).

The ``session`` config section is parsed by ``dex_py.config.session``.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from werkzeug import Response

from dex_py.config.session import SessionPolicy
from dex_py.oauth import consent
from dex_py.services import Services
from dex_py.storage.base import Claims, NotFoundError, Session
from dex_py.web.session_cookie import COOKIE, TOUCH_EVERY, current, digest

__all__ = ["COOKIE", "clear_cookie", "current", "end", "record", "set_cookie", "start"]


def _policy(svc: Services) -> SessionPolicy:
    return svc.session_policy


def start(
    svc: Services,
    *,
    claims: Claims,
    connector_id: str,
    connector_data: bytes | None,
    auth_time: datetime,
    previous: Session | None,
    connector_scopes: tuple[str, ...] = (),
) -> tuple[Session, str] | None:
    """A new session for a fresh login (replacing ``previous``); returns it and the cookie.
    ``connector_scopes`` are those the identity was fetched with."""
    policy = _policy(svc)
    if not policy.enabled:
        return None
    if previous is not None:
        end(svc, previous.id)
    now = svc.clock.now()
    secret = secrets.token_urlsafe(32)
    session = Session(
        id=secrets.token_urlsafe(16),
        secret_hash=digest(secret),
        claims=claims,
        connector_id=connector_id,
        auth_time=auth_time,
        created_at=now,
        last_active=now,
        expiry=policy.expiry(now, now),
        connector_data=connector_data,
        connector_scopes=connector_scopes,
    )
    svc.storage.create_session(session)
    return session, f"{session.id}.{secret}"


def end(svc: Services, session_id: str) -> Session | None:
    """Delete a session (logout); returns what it was, if it existed."""
    try:
        session = svc.storage.get_session(session_id)
        svc.storage.delete_session(session_id)
    except NotFoundError:
        return None
    return session


def record(
    svc: Services,
    session_id: str,
    *,
    approved: str = "",
    scopes: Sequence[str] = (),
    client: str = "",
) -> None:
    """Record use of the session (sliding idle timeout), the ``scopes`` the user approved for
    client ``approved``, or a client that got tokens (no-op without a session). Writes at most
    once a minute unless something new is recorded."""
    if not session_id:
        return
    try:
        session = svc.storage.get_session(session_id)
    except NotFoundError:
        return
    now = svc.clock.now()
    if (
        now - session.last_active < TOUCH_EVERY
        and (not approved or set(scopes) <= consent.approved_scopes(session, approved))
        and (not client or client in session.clients)
    ):
        return
    policy = _policy(svc)

    def update(s: Session) -> Session:
        changes: dict[str, Any] = {
            "last_active": now,
            "expiry": policy.expiry(s.created_at, now),
        }
        if approved:
            changes["approvals"] = consent.with_approval(s.approvals, approved, scopes)
            if approved not in s.approved_clients:  # read by the previous release
                changes["approved_clients"] = (*s.approved_clients, approved)
        if client and client not in s.clients:
            changes["clients"] = (*s.clients, client)
        return replace(s, **changes)

    with contextlib.suppress(NotFoundError):
        svc.storage.update_session(session.id, update)


def set_cookie(svc: Services, resp: Response, value: str) -> None:
    resp.set_cookie(
        COOKIE,
        value,
        max_age=int(_policy(svc).absolute_lifetime.total_seconds()),
        httponly=True,
        samesite="Lax",
        secure=svc.secure_cookies,
        path=svc.issuer_path or "/",
    )


def clear_cookie(svc: Services, resp: Response) -> None:
    resp.delete_cookie(COOKIE, path=svc.issuer_path or "/", httponly=True, samesite="Lax")
