"""The auth proxy's aiohttp application for one worker: routes, start-up and shut-down.

Routes: ``/oauth2/auth``, ``/oauth2/start`` (also ``/oauth2/sign_in``), ``/oauth2/callback``
(the path of ``redirectURL``), ``/oauth2/sign_out``, ``/oauth2/userinfo``,
``/oauth2/backchannel-logout``,
``/ping`` (the process answers) and ``/ready`` (discovery and keys loaded, the store answers);
every other path goes to upstream mode (404 without upstreams).

At start-up the issuer's discovery document and keys are loaded in the background, retried
until they come (``/ready`` says 503 meanwhile); the store and the upstream relay are opened. A
store that cannot be reached makes the request 503; any other unexpected error is a plain 500
with nothing of the error in the answer (it is logged by type).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from dex_py.proxy import forward_auth, login_handlers
from dex_py.proxy.config import ProxyConfig
from dex_py.proxy.cookie_cipher import CookieCipher
from dex_py.proxy.jwks import JwksCache
from dex_py.proxy.logs import RequestLog
from dex_py.proxy.oidc_client import OidcClient
from dex_py.proxy.proxy_state import STATE, ProxyState, open_session_store, open_upstreams
from dex_py.proxy.sessions import Sessions
from dex_py.proxy.store_base import StoreUnavailable

log = logging.getLogger("dex_py.proxy")
ISSUER_RETRY = 2.0
# Chunked session cookies arrive in one Cookie header: allow it to hold them all.
MAX_FIELD_SIZE = 64 * 1024

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPException:
        raise
    except StoreUnavailable:
        log.error("session store unavailable")
        return web.Response(status=503, text="Session store unavailable\n")
    except Exception as exc:
        log.error("internal error on %s: %s", request.path, type(exc).__name__)
        return web.Response(status=500, text="Internal error\n")


async def ping(request: web.Request) -> web.Response:
    return web.Response(text="OK")


async def ready(request: web.Request) -> web.Response:
    state = request.app[STATE]
    if not state.ready and not await state.load_issuer():
        return web.Response(status=503, text="issuer not loaded\n")
    if state.store is not None:
        try:
            await state.store.get("readiness-probe")
        except Exception:
            return web.Response(status=503, text="session store unavailable\n")
    return web.Response(text="OK")


async def _load_issuer_until_ready(state: ProxyState) -> None:
    while not await state.load_issuer():
        await asyncio.sleep(ISSUER_RETRY)
    log.info("issuer loaded: %s", state.config.issuer)


async def _on_startup(app: web.Application) -> None:
    state = app[STATE]
    if state.upstreams is not None:
        await state.upstreams.start()
    state.loader = asyncio.get_running_loop().create_task(_load_issuer_until_ready(state))


async def _on_cleanup(app: web.Application) -> None:
    state = app[STATE]
    if state.loader is not None:
        state.loader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await state.loader
    if state.upstreams is not None:
        await state.upstreams.close()
    await state.oidc.close()
    if state.store is not None:
        await state.store.close()


def build_state(config: ProxyConfig) -> ProxyState:
    cipher = CookieCipher(config.cookie.secrets)
    store = open_session_store(config)
    oidc = OidcClient(config)
    return ProxyState(
        config=config,
        cipher=cipher,
        sessions=Sessions(config, cipher, store),
        store=store,
        oidc=oidc,
        jwks=JwksCache(oidc.fetch_jwks),
        upstreams=open_upstreams(config),
        request_log=RequestLog(config.log_requests, config.log_format),
    )


def create_app(config: ProxyConfig) -> web.Application:
    app = web.Application(middlewares=[errors], handler_args={"max_field_size": MAX_FIELD_SIZE})
    app[STATE] = build_state(config)
    callback_path = config.callback_path or "/oauth2/callback"
    app.router.add_get("/oauth2/auth", forward_auth.auth)
    app.router.add_route("*", "/oauth2/auth/{original:.*}", forward_auth.auth)  # Envoy
    app.router.add_get("/oauth2/userinfo", forward_auth.userinfo)
    app.router.add_get("/oauth2/start", login_handlers.start)
    app.router.add_get("/oauth2/sign_in", login_handlers.start)  # oauth2-proxy's other name
    app.router.add_get(callback_path, login_handlers.callback)
    app.router.add_route("GET", "/oauth2/sign_out", login_handlers.sign_out)
    app.router.add_route("POST", "/oauth2/sign_out", login_handlers.sign_out)
    app.router.add_post("/oauth2/backchannel-logout", login_handlers.backchannel_logout)
    app.router.add_get("/ping", ping)
    app.router.add_get("/ready", ready)
    app.router.add_route("*", "/{tail:.*}", forward_auth.upstream)
    app.on_startup.append(_on_startup)
    app.on_cleanup.append(_on_cleanup)
    return app
