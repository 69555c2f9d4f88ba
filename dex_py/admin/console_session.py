"""The admin's console session: a cookie that cannot be forged or read, tied to the browser's
single sign-on session.

The console is a relying party of its own issuer (``login``): after the code is redeemed, the
browser gets ``dexpy_admin`` = ``<sid>.<sealed>``, where ``sealed`` is AES-256-GCM of the
console's own small state (when the admin logged in to the console, and the secret its CSRF
tokens are made under) with the SSO session id as associated data. The key is derived
(HKDF-SHA256) from the secret of the SSO session's cookie, which only that browser holds (storage
keeps SHA-256 of it): the server cannot open a console cookie without the SSO cookie it belongs
to, a database leak yields no usable console cookie, and nobody can make one.

Every request opens the cookie against the browser's *current* SSO session (``current``):
logging out, a revoked or expired SSO session, or a new login in that browser (a new session
id) ends console access at once. Who the admin is comes from the SSO session in storage, never
from the cookie.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import request
from werkzeug import Response

from dex_py.services import Services
from dex_py.storage.base import Session
from dex_py.web.session_cookie import current_with_secret

COOKIE = "dexpy_admin"
_INFO = b"dex-py admin console session v1"
_MAX_COOKIE = 600


@dataclass(frozen=True)
class ConsoleLogin:
    """An admin's console login: the SSO session it rides on, and the console's own state."""

    session: Session
    csrf_key: str  # the secret the console's CSRF tokens are made under
    logged_in_at: datetime


def _cipher(sso_secret: str) -> AESGCM:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(
        sso_secret.encode()
    )
    return AESGCM(key)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def seal(session_id: str, sso_secret: str, now: datetime) -> str:
    """The cookie value for a console login on SSO session ``session_id`` (at ``now``)."""
    state = {"csrf": secrets.token_urlsafe(32), "at": int(now.timestamp())}
    nonce = secrets.token_bytes(12)
    sealed = _cipher(sso_secret).encrypt(nonce, json.dumps(state).encode(), session_id.encode())
    return f"{session_id}.{_b64(nonce + sealed)}"


def open_cookie(value: str, session_id: str, sso_secret: str) -> dict | None:
    """The console state sealed in ``value`` for this SSO session, or ``None``."""
    sid, sep, blob = value.partition(".")
    if not sep or sid != session_id or len(value) > _MAX_COOKIE:
        return None
    try:
        raw = _unb64(blob)
        plain = _cipher(sso_secret).decrypt(raw[:12], raw[12:], session_id.encode())
        state = json.loads(plain)
    except (binascii.Error, ValueError, InvalidTag):
        return None
    if not isinstance(state, dict):
        return None
    if not isinstance(state.get("csrf"), str) or not isinstance(state.get("at"), int):
        return None
    return state


def current(svc: Services) -> ConsoleLogin | None:
    """The browser's console login, or ``None`` (no cookie, or its SSO session is gone)."""
    value = request.cookies.get(COOKIE, "")
    if not value:
        return None
    found = current_with_secret(svc)
    if found is None:
        return None
    session, sso_secret = found
    state = open_cookie(value, session.id, sso_secret)
    if state is None:
        return None
    return ConsoleLogin(
        session=session,
        csrf_key=state["csrf"],
        logged_in_at=datetime.fromtimestamp(state["at"], tz=UTC),
    )


def cookie_path(svc: Services) -> str:
    return f"{svc.issuer_path}/admin"


def set_cookie(svc: Services, resp: Response, value: str) -> None:
    # SameSite=Lax, not Strict: a login through an upstream provider comes back in a
    # cross-site redirect chain, and a Strict cookie set at its end would not be sent on the
    # redirect to the console. Every POST carries a CSRF token as well.
    resp.set_cookie(
        COOKIE,
        value,
        httponly=True,
        samesite="Lax",
        secure=svc.secure_cookies,
        path=cookie_path(svc),
    )


def clear_cookie(svc: Services, resp: Response) -> None:
    resp.delete_cookie(
        COOKIE, path=cookie_path(svc), httponly=True, samesite="Lax", secure=svc.secure_cookies
    )
