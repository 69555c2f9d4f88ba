"""The codes of the device flow (RFC 8628 §3.2, §6.1, §5.1, §5.2): user codes, device codes, and
the rate limit on wrong user codes.

A user code is 8 letters from §6.1's 20 consonants (no vowels, so no words; about 34 bits),
shown as ``XXXX-XXXX`` and read back case- and dash-insensitively. A device code is 32 random
bytes; only its SHA-256 is stored, so the database never holds a code that could be polled with.
Guessing user codes is what §5.1 warns about: wrong codes are counted in storage (so every worker
process and replica shares the count) per browser and per client address, and once either
count reaches its limit within the window, entry is refused until the window ends.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from dex_py.services import Services

USER_CODE_ALPHABET = "BCDFGHJKLMNPQRSTVWXZ"
USER_CODE_LENGTH = 8
POLL_INTERVAL = 5  # seconds, §3.2 ``interval``; slow_down adds 5 (§3.5)

# Wrong user codes allowed per window: per browser, and per client address (several people
# behind one NAT share an address, so it allows more).
WRONG_CODES_PER_BROWSER = 5
WRONG_CODES_PER_ADDRESS = 20
WRONG_CODE_WINDOW = timedelta(minutes=15)


def new_user_code() -> str:
    """8 letters from the §6.1 alphabet, without the dash (as stored)."""
    return "".join(secrets.choice(USER_CODE_ALPHABET) for _ in range(USER_CODE_LENGTH))


def display_user_code(code: str) -> str:
    """``BCDFGHJK`` -> ``BCDF-GHJK``."""
    half = USER_CODE_LENGTH // 2
    return f"{code[:half]}-{code[half:]}"


def normalize_user_code(entered: str) -> str:
    """What the user typed, upper-cased without dashes and spaces; "" unless it can be a code."""
    code = "".join(ch for ch in entered.upper() if ch not in "- ")
    if len(code) != USER_CODE_LENGTH or any(ch not in USER_CODE_ALPHABET for ch in code):
        return ""
    return code


def new_device_code() -> str:
    return secrets.token_urlsafe(32)


def device_code_id(device_code: str) -> str:
    """The storage key of a device code: its SHA-256 hex digest."""
    return hashlib.sha256(device_code.encode()).hexdigest()


def wrong_code_limited(svc: Services, browser_binding: str, address: str, *, count: bool) -> bool:
    """Whether this browser or address has used up its wrong user codes; with ``count``, this
    attempt is counted first (a wrong code was just entered)."""
    now = svc.clock.now()
    keys = (
        (f"device-code:browser:{browser_binding}", WRONG_CODES_PER_BROWSER),
        (f"device-code:addr:{address}", WRONG_CODES_PER_ADDRESS),
    )
    limited = False
    for key, limit in keys:
        if count:
            n = svc.storage.count_attempt(key, now, WRONG_CODE_WINDOW)
            limited = limited or n > limit
        else:
            limited = limited or svc.storage.attempts(key, now) >= limit
    return limited
