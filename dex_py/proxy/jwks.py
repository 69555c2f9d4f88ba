"""The issuer's signing keys (its JWKS, RFC 7517 §5), cached by the auth proxy.

Loaded at start; a token signed with an unknown ``kid`` makes the cache fetch the set again
(the issuer rotated its keys), at most once per ``MIN_REFETCH`` seconds so that tokens with
made-up kids cannot make the proxy hammer the issuer. Keys that are not public signing keys
(no ``kty`` we know, ``use`` other than ``sig``, private parts) are ignored.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from joserfc.errors import JoseError
from joserfc.jwk import ECKey, OKPKey, RSAKey

log = logging.getLogger(__name__)

MIN_REFETCH = 10.0
_KEY_TYPES: dict[str, type[RSAKey] | type[ECKey] | type[OKPKey]] = {
    "RSA": RSAKey,
    "EC": ECKey,
    "OKP": OKPKey,
}

Fetch = Callable[[], Awaitable[dict[str, Any]]]


def parse_keys(document: dict[str, Any]) -> dict[str, RSAKey | ECKey | OKPKey]:
    keys: dict[str, RSAKey | ECKey | OKPKey] = {}
    for item in document.get("keys") or ():
        if not isinstance(item, dict) or item.get("use", "sig") != "sig" or "d" in item:
            continue
        kind = _KEY_TYPES.get(str(item.get("kty")))
        if kind is None:
            continue
        try:
            key = kind.import_key(item)
        except (JoseError, ValueError, TypeError):
            continue
        keys[str(item.get("kid") or "")] = key
    return keys


class JwksCache:
    def __init__(self, fetch: Fetch) -> None:
        self._fetch = fetch
        self._keys: dict[str, RSAKey | ECKey | OKPKey] = {}
        self._fetched_at = 0.0
        self._lock = asyncio.Lock()
        self.loaded = False

    async def refresh(self) -> None:
        document = await self._fetch()
        self._keys = parse_keys(document)
        self._fetched_at = time.monotonic()
        self.loaded = True

    async def key_for(self, kid: str) -> RSAKey | ECKey | OKPKey | None:
        key = self._lookup(kid)
        if key is not None:
            return key
        async with self._lock:
            key = self._lookup(kid)
            if key is None and time.monotonic() - self._fetched_at >= MIN_REFETCH:
                try:
                    await self.refresh()
                except Exception as exc:  # the issuer is down: the known keys stay
                    log.warning("jwks refetch failed: %s", type(exc).__name__)
                    self._fetched_at = time.monotonic()
                key = self._lookup(kid)
        return key

    def _lookup(self, kid: str) -> RSAKey | ECKey | OKPKey | None:
        if kid:
            return self._keys.get(kid)
        return next(iter(self._keys.values())) if len(self._keys) == 1 else None
