"""Encrypted, authenticated cookie values for the auth proxy (AES-256-GCM, NIST SP 800-38D).

Each configured secret gives one key through HKDF-SHA256 (RFC 5869); the first key seals, every
key opens, so a new secret can be put first while cookies sealed with the old one still work
until they expire (rotation). The cookie's name and purpose are the associated data: a value
copied into another cookie (the login-state cookie into the session cookie, say) does not open.
The sealed time is inside the ciphertext, so a value older than its lifetime is refused even if
a browser kept it.

Wire form: ``v1.`` + base64url(12-byte random nonce || ciphertext || 16-byte tag). Anything
that does not open (tampered, truncated, another key, too old) is ``None``, never an exception.
"""

from __future__ import annotations

import base64
import binascii
import os
import struct
import time

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

PREFIX = "v1."
NONCE_BYTES = 12
_TIME = struct.Struct(">d")
_HKDF_SALT = b"dex-py auth proxy cookie"
_HKDF_INFO = b"aes-256-gcm v1"


def derive_key(secret: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=_HKDF_SALT, info=_HKDF_INFO).derive(
        secret
    )


class CookieCipher:
    """Seals and opens cookie values with keys derived from ``secrets`` (first one seals)."""

    def __init__(self, secrets: tuple[bytes, ...]) -> None:
        if not secrets:
            raise ValueError("at least one cookie secret is needed")
        self._aeads = tuple(AESGCM(derive_key(s)) for s in secrets)

    def seal(self, name: str, plaintext: bytes, *, now: float | None = None) -> str:
        sealed_at = time.time() if now is None else now
        nonce = os.urandom(NONCE_BYTES)
        body = self._aeads[0].encrypt(nonce, _TIME.pack(sealed_at) + plaintext, name.encode())
        return PREFIX + base64.urlsafe_b64encode(nonce + body).rstrip(b"=").decode("ascii")

    def open(
        self, name: str, value: str, *, max_age: float, now: float | None = None
    ) -> bytes | None:
        """The plaintext, or None when ``value`` was not sealed by us for ``name`` within
        ``max_age`` seconds."""
        if not value.startswith(PREFIX):
            return None
        text = value[len(PREFIX) :]
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        except (binascii.Error, ValueError):
            return None
        if len(raw) < NONCE_BYTES + _TIME.size + 16:
            return None
        if base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii") != text:
            return None  # only the one canonical spelling: no other text opens to the same value
        nonce, body = raw[:NONCE_BYTES], raw[NONCE_BYTES:]
        for aead in self._aeads:
            try:
                opened = aead.decrypt(nonce, body, name.encode())
            except InvalidTag:
                continue
            (sealed_at,) = _TIME.unpack_from(opened)
            current = time.time() if now is None else now
            if not sealed_at - 60 <= current <= sealed_at + max_age:
                return None
            return opened[_TIME.size :]
        return None
