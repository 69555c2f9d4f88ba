"""Reading the single sign-on session cookie: which stored ``Session`` this browser holds.

The browser holds ``<id>.<secret>`` (``COOKIE``); storage keeps only SHA-256 of the secret
(``digest``). ``dex_py.oauth.sessions`` starts, records and ends sessions; the pages of other
blueprints (``dex_py.mfa``'s self-service page, the admin console) only need to know who is
logged in, here.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
from dataclasses import replace
from datetime import timedelta

from flask import request

from dex_py.services import Services
from dex_py.storage.base import NotFoundError, Session

COOKIE = "dexpy_session"
TOUCH_EVERY = timedelta(minutes=1)  # a session's last use is written at most this often


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def current(svc: Services) -> Session | None:
    """The browser's valid session, or ``None``."""
    found = current_with_secret(svc)
    return found[0] if found is not None else None


def current_with_secret(svc: Services) -> tuple[Session, str] | None:
    """The browser's valid session and the secret its cookie holds (only that browser has it:
    the admin console derives its own cookie's key from it), or ``None``."""
    if not svc.session_policy.enabled:
        return None
    raw = request.cookies.get(COOKIE, "")
    session_id, sep, secret = raw.partition(".")
    if not sep or not session_id or not secret or len(raw) > 200:
        return None
    try:
        session = svc.storage.get_session(session_id)
    except NotFoundError:
        return None
    if not hmac.compare_digest(digest(secret), session.secret_hash):
        return None
    if session.expiry <= svc.clock.now():
        return None
    return session, secret


def touch(svc: Services, session: Session) -> None:
    """Record that the session is in use (its idle timeout starts again), at most once a
    minute: pages outside the login (the admin console) keep the session alive this way."""
    now = svc.clock.now()
    if now - session.last_active < TOUCH_EVERY:
        return
    expiry = svc.session_policy.expiry(session.created_at, now)

    def update(s: Session) -> Session:
        return replace(s, last_active=now, expiry=expiry)

    with contextlib.suppress(NotFoundError):
        svc.storage.update_session(session.id, update)
