"""Everything one proxy worker holds: config, cookie cipher, sessions and their store, the OIDC
client and the issuer's keys, the relay to the upstreams, metrics and the request log.

Built once per worker by ``app.create_app``; handlers find it in ``request.app[STATE]``.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from dex_py.proxy.config import ProxyConfig
from dex_py.proxy.cookie_cipher import CookieCipher
from dex_py.proxy.jwks import JwksCache
from dex_py.proxy.login_state import UsedStates
from dex_py.proxy.logs import RequestLog
from dex_py.proxy.metrics import RequestMetrics
from dex_py.proxy.oidc_client import OidcClient
from dex_py.proxy.sessions import Sessions
from dex_py.proxy.store import open_store
from dex_py.proxy.store_base import SessionStore
from dex_py.proxy.upstream import Upstreams

log = logging.getLogger("dex_py.proxy")


def open_session_store(config: ProxyConfig) -> SessionStore | None:
    """None for cookie-only sessions; else the configured store (``proxy.store.open_store``)."""
    if config.store.kind == "cookie":
        return None
    return open_store(config.store)


def open_upstreams(config: ProxyConfig) -> Upstreams | None:
    """The relay of upstream mode (``proxy.upstream.Upstreams``), or None without upstreams."""
    if not config.upstreams:
        return None
    return Upstreams(config.upstreams, config.headers)


@dataclass
class ProxyState:
    config: ProxyConfig
    cipher: CookieCipher
    sessions: Sessions
    store: SessionStore | None
    oidc: OidcClient
    jwks: JwksCache
    upstreams: Upstreams | None
    request_log: RequestLog
    metrics: RequestMetrics = field(default_factory=RequestMetrics)
    used_states: UsedStates = field(default_factory=UsedStates)
    used_logout_jtis: UsedStates = field(default_factory=UsedStates)
    refreshing: dict[str, asyncio.Task[Any]] = field(default_factory=dict)
    bearer_cache: OrderedDict[str, Any] = field(default_factory=OrderedDict)
    loader: asyncio.Task[None] | None = None
    issuer_warned: bool = False

    @property
    def ready(self) -> bool:
        return self.oidc.metadata is not None and self.jwks.loaded

    async def load_issuer(self) -> bool:
        """Discovery and JWKS; False (logged) when the issuer cannot be reached now."""
        try:
            await self.oidc.discover()
            await self.jwks.refresh()
        except Exception as exc:
            # Said once as a warning; the retries every few seconds only at debug level.
            (log.debug if self.issuer_warned else log.warning)("issuer not reachable: %s", exc)
            self.issuer_warned = True
            return False
        return True


STATE: web.AppKey[ProxyState] = web.AppKey("proxy_state", ProxyState)
