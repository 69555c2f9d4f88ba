"""Where the auth proxy keeps logins: in the cookie itself (``session.store: cookie``) or in a
server-side store, the cookie then carrying only the encrypted session id.

``Sessions.load`` is the hot path of ``/oauth2/auth``: the sealed cookie value is the key of a
per-worker LRU cache holding the opened session and its precomputed identity headers, so a
logged-in request costs a dictionary lookup. A cookie-only session is cached until it expires;
a server-side one is looked up again after ``STORE_RECHECK`` seconds, so that a sign-out or a
back-channel logout in another worker or replica takes effect within seconds (at once in this
worker, which drops the entry itself).

Anything that does not open (tampered, truncated, oversized, another key, expired, unknown id)
is simply "not logged in".
"""

from __future__ import annotations

import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass, field

from dex_py.proxy.config import ProxyConfig
from dex_py.proxy.cookie_cipher import CookieCipher
from dex_py.proxy.cookie_jar import (
    MAX_VALUE,
    clear_cookie_headers,
    present_names,
    set_cookie_headers,
)
from dex_py.proxy.identity_headers import (
    Identity,
    UnsafeHeaderValue,
    forward_auth_headers,
    upstream_headers,
)
from dex_py.proxy.session import Session, decode, encode
from dex_py.proxy.store_base import SessionStore, StoredSession

STORE_RECHECK = 5.0
CACHE_SIZE = 10_000
_ID_PREFIX = b"S"


class SessionTooLarge(ValueError):
    """The sealed session would need more cookie chunks than a browser sends back."""


@dataclass
class LoadedSession:
    """A session as a request sees it, with what the hot path needs precomputed."""

    session: Session
    session_id: str  # "" for a cookie-only session
    identity: Identity
    auth_headers: dict[str, str]
    upstream_headers: dict[str, str]
    recheck_at: float  # monotonic: look in the store again after this
    refresh_retry_at: float = 0.0  # wall clock: no refresh attempt before this
    cookie_value: str = field(default="", repr=False)


def prepare(
    session: Session, session_id: str, config: ProxyConfig, recheck_at: float
) -> LoadedSession:
    """``LoadedSession`` for ``session``; UnsafeHeaderValue when a claim cannot be a header."""
    identity = session.identity()
    return LoadedSession(
        session=session,
        session_id=session_id,
        identity=identity,
        auth_headers=forward_auth_headers(identity, config.headers),
        upstream_headers=upstream_headers(identity, config.headers),
        recheck_at=recheck_at,
    )


class Sessions:
    def __init__(
        self, config: ProxyConfig, cipher: CookieCipher, store: SessionStore | None
    ) -> None:
        self.config = config
        self.cipher = cipher
        self.store = store
        self.name = config.cookie.name
        self._cache: OrderedDict[str, LoadedSession] = OrderedDict()

    # --- reading ---------------------------------------------------------------------------

    async def load(self, cookie_value: str | None) -> LoadedSession | None:
        """The session behind a sealed cookie value, or None (not logged in)."""
        if not cookie_value:
            return None
        now = time.time()
        cached = self._cache.get(cookie_value)
        if cached is not None:
            if cached.session.expires_at > now and cached.recheck_at > time.monotonic():
                self._cache.move_to_end(cookie_value)
                return cached
            del self._cache[cookie_value]
        loaded = await self._open(cookie_value, now)
        if loaded is not None:
            loaded.cookie_value = cookie_value
            self._remember(cookie_value, loaded)
        return loaded

    async def _open(self, cookie_value: str, now: float) -> LoadedSession | None:
        plain = self.cipher.open(self.name, cookie_value, max_age=self.config.cookie.expire)
        if plain is None:
            return None
        session_id = ""
        recheck = float("inf")
        if plain[:1] == _ID_PREFIX:
            if self.store is None:
                return None
            session_id = plain[1:].decode("ascii", "replace")
            stored = await self.store.get(session_id)
            if stored is None:
                return None
            data = self.cipher.open(
                self._data_name(session_id),
                stored.data.decode("ascii", "replace"),
                max_age=self.config.cookie.expire,
            )
            if data is None:
                return None
            plain = data
            recheck = time.monotonic() + STORE_RECHECK
        elif self.store is not None:
            return None  # a cookie-only session where the config wants server-side ones
        session = decode(plain)
        if session is None or session.expires_at <= now:
            return None
        try:
            return prepare(session, session_id, self.config, recheck)
        except UnsafeHeaderValue:
            return None

    def _remember(self, key: str, loaded: LoadedSession) -> None:
        self._cache[key] = loaded
        if len(self._cache) > CACHE_SIZE:
            self._cache.popitem(last=False)

    def remember_alias(self, cookie_value: str, loaded: LoadedSession) -> None:
        """Let an older cookie value stand for ``loaded`` in this worker."""
        self._remember(cookie_value, loaded)

    def forget(self, *, session_id: str = "", cookie_value: str = "") -> None:
        """Drop cached entries of a session that ended."""
        if cookie_value:
            self._cache.pop(cookie_value, None)
        if session_id:
            for key in [k for k, v in self._cache.items() if v.session_id == session_id]:
                del self._cache[key]

    def forget_matching(self, *, subject: str = "", issuer_sid: str = "") -> None:
        for key, value in list(self._cache.items()):
            s = value.session
            if (issuer_sid and s.issuer_sid == issuer_sid) or (
                not issuer_sid and subject and s.subject == subject
            ):
                del self._cache[key]

    # --- writing ---------------------------------------------------------------------------

    async def save(
        self, session: Session, *, session_id: str, present: dict[str, str]
    ) -> tuple[LoadedSession, list[str]]:
        """Keep ``session`` (a new one when ``session_id`` is ""); returns it loaded and the
        Set-Cookie values to send. ``present`` is the request's cookies."""
        max_age = max(1, int(session.expires_at - time.time()))
        recheck = float("inf")
        if self.store is not None:
            session_id = session_id or secrets.token_urlsafe(24)
            data = self.cipher.seal(self._data_name(session_id), encode(session)).encode("ascii")
            await self.store.put(
                StoredSession(
                    id=session_id,
                    subject=session.subject,
                    issuer_sid=session.issuer_sid,
                    data=data,
                    expires_at=session.expires_at,
                )
            )
            plain = _ID_PREFIX + session_id.encode("ascii")
            recheck = time.monotonic() + STORE_RECHECK
        else:
            plain = encode(session)
        value = self.cipher.seal(self.name, plain)
        if len(value) > MAX_VALUE:
            raise SessionTooLarge("the session does not fit in cookies: use a server-side store")
        loaded = prepare(session, session_id, self.config, recheck)
        loaded.cookie_value = value
        self._remember(value, loaded)
        headers = set_cookie_headers(
            self.config.cookie, self.name, value, max_age, present_names(present, self.name)
        )
        return loaded, headers

    async def end(self, loaded: LoadedSession | None, present: dict[str, str]) -> list[str]:
        """Sign-out: the server-side session deleted, the cookies cleared."""
        if loaded is not None:
            self.forget(session_id=loaded.session_id, cookie_value=loaded.cookie_value)
            if loaded.session_id and self.store is not None:
                await self.store.delete(loaded.session_id)
        return self.clear_headers(present)

    def clear_headers(self, present: dict[str, str]) -> list[str]:
        return clear_cookie_headers(self.config.cookie, present_names(present, self.name))

    def _data_name(self, session_id: str) -> str:
        return f"{self.name}:store:{session_id}"
