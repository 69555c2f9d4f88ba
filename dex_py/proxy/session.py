"""What the auth proxy remembers of a login, and its compact byte form.

A ``Session`` holds the user's claims (for rules and identity headers), the tokens (the ID token
for ``id_token_hint`` at sign-out and the optional Authorization header, the access token only
when it is passed on, the refresh token) and three times: when the login ends, when the ID
token expires and when it was last refreshed. ``encode``/``decode`` turn it into bytes (JSON,
deflated when that is shorter) that the cookie cipher or a store keeps.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass
from typing import Any

from dex_py.proxy.identity_headers import Identity

_JSON, _DEFLATED = b"J", b"Z"
MAX_DECODED = 1 << 20


@dataclass(frozen=True)
class Session:
    subject: str
    issuer_sid: str = ""
    email: str = ""
    groups: tuple[str, ...] = ()
    preferred_username: str = ""
    id_token: str = ""
    access_token: str = ""
    refresh_token: str = ""
    id_token_expires_at: float = 0.0
    refreshed_at: float = 0.0
    expires_at: float = 0.0  # the login ends (cookie.expire after it started)

    def identity(self) -> Identity:
        return Identity(
            user=self.subject,
            email=self.email or None,
            groups=self.groups,
            preferred_username=self.preferred_username or None,
            access_token=self.access_token or None,
            id_token=self.id_token or None,
        )

    def refresh_due_at(self, interval: float, early: float = 60.0) -> float:
        """When to use the refresh token: ``interval`` after the last refresh, or ``early``
        seconds before the ID token expires, whichever comes first."""
        due = self.refreshed_at + interval
        if self.id_token_expires_at:
            due = min(due, self.id_token_expires_at - early)
        return due


def encode(session: Session) -> bytes:
    body = json.dumps(
        {
            "s": session.subject,
            "d": session.issuer_sid,
            "e": session.email,
            "g": list(session.groups),
            "p": session.preferred_username,
            "i": session.id_token,
            "a": session.access_token,
            "r": session.refresh_token,
            "x": session.id_token_expires_at,
            "f": session.refreshed_at,
            "t": session.expires_at,
        },
        separators=(",", ":"),
    ).encode()
    if len(body) > 200:
        deflated = zlib.compress(body, 6)
        if len(deflated) < len(body):
            return _DEFLATED + deflated
    return _JSON + body


def decode(data: bytes) -> Session | None:
    """The session, or None for bytes that are not one (after a format change, say)."""
    try:
        if data[:1] == _DEFLATED:
            inflater = zlib.decompressobj()
            body = inflater.decompress(data[1:], MAX_DECODED)
            if inflater.unconsumed_tail:
                return None
        elif data[:1] == _JSON:
            body = data[1:]
        else:
            return None
        raw = json.loads(body)
        return Session(
            subject=str(raw["s"]),
            issuer_sid=str(raw["d"]),
            email=str(raw["e"]),
            groups=tuple(str(g) for g in raw["g"]),
            preferred_username=str(raw["p"]),
            id_token=str(raw["i"]),
            access_token=str(raw["a"]),
            refresh_token=str(raw["r"]),
            id_token_expires_at=float(raw["x"]),
            refreshed_at=float(raw["f"]),
            expires_at=float(raw["t"]),
        )
    except (zlib.error, ValueError, KeyError, TypeError):
        return None


def from_claims(
    claims: dict[str, Any],
    *,
    id_token: str,
    access_token: str,
    refresh_token: str,
    now: float,
    expires_at: float,
) -> Session:
    """A session from a verified ID token's claims and the token response."""
    groups = claims.get("groups") or ()
    if isinstance(groups, str):
        groups = (groups,)
    return Session(
        subject=str(claims["sub"]),
        issuer_sid=str(claims.get("sid") or ""),
        email=str(claims.get("email") or ""),
        groups=tuple(str(g) for g in groups),
        preferred_username=str(claims.get("preferred_username") or claims.get("name") or ""),
        id_token=id_token,
        access_token=access_token,
        refresh_token=refresh_token,
        id_token_expires_at=float(claims.get("exp") or 0),
        refreshed_at=now,
        expires_at=expires_at,
    )
