"""The login in progress between ``/oauth2/start`` and ``/oauth2/callback``: state, nonce, PKCE
verifier and where to go afterwards, kept in a short-lived encrypted cookie (``NAME_login``).

The callback must bring back the same ``state`` as the cookie (RFC 6749 §10.12: a login that this
browser did not start is refused), and a state, once used, is refused again in this worker
(``UsedStates``): a replayed callback with its cookie cannot log anyone in twice, and the nonce
bound to it is never accepted a second time (OpenID Connect Core §15.5.2).
"""

from __future__ import annotations

import hmac
import json
import time
from collections import OrderedDict
from dataclasses import dataclass

from dex_py.proxy.cookie_cipher import CookieCipher

LOGIN_MAX_AGE = 600.0  # seconds a login may take
_MAX_REMEMBERED = 50_000


@dataclass(frozen=True)
class LoginState:
    state: str
    nonce: str
    verifier: str
    rd: str


def cookie_name(session_cookie: str) -> str:
    return session_cookie + "_login"


def seal(cipher: CookieCipher, name: str, login: LoginState) -> str:
    body = json.dumps([login.state, login.nonce, login.verifier, login.rd]).encode()
    return cipher.seal(name, body)


def open_login(cipher: CookieCipher, name: str, value: str) -> LoginState | None:
    body = cipher.open(name, value, max_age=LOGIN_MAX_AGE)
    if body is None:
        return None
    try:
        state, nonce, verifier, rd = json.loads(body)
        return LoginState(str(state), str(nonce), str(verifier), str(rd))
    except (ValueError, TypeError):
        return None


def state_matches(login: LoginState, state: str) -> bool:
    return hmac.compare_digest(login.state.encode(), state.encode())


class UsedStates:
    """States already redeemed in this worker, forgotten once their login could not be
    replayed anyway (``LOGIN_MAX_AGE``)."""

    def __init__(self) -> None:
        self._seen: OrderedDict[str, float] = OrderedDict()

    def claim(self, state: str) -> bool:
        """True the first time ``state`` is seen, False on a replay."""
        now = time.monotonic()
        while self._seen:
            oldest, at = next(iter(self._seen.items()))
            if now - at < LOGIN_MAX_AGE and len(self._seen) < _MAX_REMEMBERED:
                break
            del self._seen[oldest]
        if state in self._seen:
            return False
        self._seen[state] = now
        return True
