"""The one CSRF helper for every form we serve (login, approval, logout, the example app, and
the console and proxy pages to come).

A token is HMAC-SHA256 of a ``purpose`` (what the form is for, and for which request) under a
secret only the right browser has (its binding cookie, or a secret kept in its session),
base64url without padding. Stateless: nothing is stored, and a token is useless to anyone who
cannot read that browser's cookie. Each form states its purpose, so a token minted for one form
is refused by another.
"""

from __future__ import annotations

import base64
import hashlib
import hmac


def csrf_token(key: str, purpose: bytes) -> str:
    """The token for the form ``purpose`` under the browser's secret ``key``."""
    mac = hmac.new(key.encode(), purpose, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def csrf_valid(key: str, purpose: bytes, presented: str) -> bool:
    """Whether ``presented`` is the token for ``purpose`` under ``key`` (constant time); never
    for an empty key or token."""
    if not key or not presented:
        return False
    return hmac.compare_digest(csrf_token(key, purpose).encode(), presented.encode())
