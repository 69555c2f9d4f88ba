"""Recovery codes: ten single-use codes a user keeps for when the authenticator is lost.

Each code has 49 random bits (ten characters of a 31-letter alphabet without look-alikes,
shown as two groups of five). Only SHA-256 digests are stored (``MFAState.recovery_code_hashes``):
with that much entropy a fast hash is enough, and a database dump yields no usable code. A code
is removed when it is used; the codes are shown once, when they are made.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

COUNT = 10
_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i
_LENGTH = 10
MAX_INPUT = 64


def new_codes(count: int = COUNT) -> list[str]:
    """``count`` fresh codes, as shown to the user (``xxxxx-xxxxx``)."""
    codes = []
    for _ in range(count):
        raw = "".join(secrets.choice(_ALPHABET) for _ in range(_LENGTH))
        codes.append(f"{raw[:5]}-{raw[5:]}")
    return codes


def normalize(code: str) -> str:
    """What the user typed, without case, spaces or dashes."""
    return "".join(c for c in code.lower() if c not in " -\t")


def digest(code: str) -> str:
    return hashlib.sha256(b"dex-py recovery\0" + normalize(code).encode()).hexdigest()


def matching(hashes: tuple[str, ...], code: str) -> str | None:
    """The stored digest that ``code`` matches, or ``None``."""
    if len(code) > MAX_INPUT or len(normalize(code)) != _LENGTH:
        return None
    presented = digest(code)
    found = None
    for stored in hashes:
        if hmac.compare_digest(stored, presented):
            found = stored
    return found
