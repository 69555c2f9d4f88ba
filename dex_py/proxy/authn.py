"""Who a request is from: a bearer token (API clients) or the session cookie, refreshed when
due (OpenID Connect Core §12).

A session is refreshed when it is older than ``session.refreshInterval`` or its ID token is
about to expire; the new ID token is checked like the first and its claims replace the old ones
(a user who lost a team is denied from then on). A refused refresh (``invalid_grant``: user
removed, token revoked) ends the session; an issuer that cannot be reached leaves it as it is
until its ID token expires, trying again every ``RETRY_AFTER`` seconds (or every
refresh interval when that is shorter). Concurrent requests of
one session share one refresh.

Bearer tokens are verified against the issuer's JWKS; a verified token's identity is cached
until it expires (bounded), so an API client sending the same token pays once.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from dex_py.proxy.cookie_jar import read_value
from dex_py.proxy.identity_headers import (
    Identity,
    UnsafeHeaderValue,
    forward_auth_headers,
    upstream_headers,
)
from dex_py.proxy.jwt_verify import TokenInvalid, verify_bearer, verify_id_token
from dex_py.proxy.metrics import REFRESHES
from dex_py.proxy.oidc_client import GrantRefused, IssuerUnavailable
from dex_py.proxy.proxy_state import ProxyState, log
from dex_py.proxy.session import from_claims
from dex_py.proxy.sessions import LoadedSession

RETRY_AFTER = 30.0
BEARER_CACHE_SIZE = 5_000


@dataclass
class Caller:
    """The authenticated caller of one request."""

    identity: Identity
    auth_headers: dict[str, str]
    upstream_headers: dict[str, str]
    session: LoadedSession | None = None  # None for a bearer token
    expires_at: float = 0.0


@dataclass
class Outcome:
    caller: Caller | None
    set_cookies: list[str]
    bearer_refused: bool = False


def _caller(loaded: LoadedSession) -> Caller:
    return Caller(loaded.identity, loaded.auth_headers, loaded.upstream_headers, loaded)


async def identify(state: ProxyState, cookies: dict[str, str], authorization: str) -> Outcome:
    """The caller from ``Authorization: Bearer`` (when enabled) or the session cookie."""
    if state.config.bearer_enabled and authorization[:7].lower() == "bearer ":
        caller = await _bearer(state, authorization[7:].strip())
        return Outcome(caller, [], bearer_refused=caller is None)
    loaded = await state.sessions.load(read_value(cookies, state.sessions.name))
    if loaded is None:
        return Outcome(None, [])
    session = loaded.session
    now = time.time()
    if (
        session.refresh_token
        and now >= session.refresh_due_at(state.config.refresh_interval)
        and now >= loaded.refresh_retry_at
    ):
        return await _shared_refresh(state, loaded, cookies)
    return Outcome(_caller(loaded), [])


async def _bearer(state: ProxyState, token: str) -> Caller | None:
    cache = state.bearer_cache
    cached = cache.get(token)
    if cached is not None and cached.expires_at > time.time():
        return cached
    try:
        claims = await verify_bearer(
            token, state.jwks, issuer=state.config.issuer, audiences=state.config.bearer_audiences
        )
        groups = claims.get("groups") or ()
        identity = Identity(
            user=claims["sub"],
            email=str(claims.get("email") or "") or None,
            groups=tuple(str(g) for g in (groups if isinstance(groups, list) else [groups])),
            preferred_username=str(claims.get("preferred_username") or "") or None,
            access_token=token,
            id_token=token,
        )
        caller = Caller(
            identity,
            forward_auth_headers(identity, state.config.headers),
            upstream_headers(identity, state.config.headers),
            expires_at=float(claims["exp"]),
        )
    except (TokenInvalid, UnsafeHeaderValue, KeyError, TypeError, ValueError) as exc:
        log.info("bearer token refused: %s", exc)
        return None
    cache[token] = caller
    if len(cache) > BEARER_CACHE_SIZE:
        cache.popitem(last=False)
    return caller


async def _shared_refresh(
    state: ProxyState, loaded: LoadedSession, cookies: dict[str, str]
) -> Outcome:
    """One refresh per session at a time, in its own task: a request that gives up (client
    gone) does not cancel it for the others."""
    key = loaded.cookie_value
    task = state.refreshing.get(key)
    first = task is None
    if task is None:
        task = asyncio.get_running_loop().create_task(_refresh(state, loaded, cookies))
        state.refreshing[key] = task
        task.add_done_callback(lambda _: state.refreshing.pop(key, None))
    outcome: Outcome = await asyncio.shield(task)
    # Only the first request carries the new cookie; the others just go through.
    return outcome if first else Outcome(outcome.caller, [])


async def _refresh(state: ProxyState, loaded: LoadedSession, cookies: dict[str, str]) -> Outcome:
    config = state.config
    old = loaded.session
    now = time.time()
    try:
        tokens = await state.oidc.refresh(old.refresh_token)
        claims = await verify_id_token(
            tokens.id_token,
            state.jwks,
            issuer=config.issuer,
            client_id=config.client_id,
            nonce=None,
        )
        if claims["sub"] != old.subject:
            raise TokenInvalid("the refreshed ID token names another subject")
    except IssuerUnavailable as exc:
        REFRESHES.labels("unavailable").inc()
        log.warning("refresh failed, issuer unavailable: %s", exc)
        if old.id_token_expires_at and now >= old.id_token_expires_at:
            return Outcome(None, [])
        loaded.refresh_retry_at = now + min(RETRY_AFTER, max(1.0, config.refresh_interval))
        return Outcome(_caller(loaded), [])
    except (GrantRefused, TokenInvalid) as exc:
        REFRESHES.labels("refused").inc()
        log.info("refresh refused (%s): session ended for %s", exc, old.subject)
        return Outcome(None, await state.sessions.end(loaded, cookies))
    fresh = from_claims(
        claims,
        id_token=tokens.id_token,
        access_token=tokens.access_token if config.headers.pass_access_token else "",
        refresh_token=tokens.refresh_token or old.refresh_token,
        now=now,
        expires_at=old.expires_at,
    )
    try:
        new_loaded, set_cookies = await state.sessions.save(
            fresh, session_id=loaded.session_id, present=cookies
        )
    except UnsafeHeaderValue:
        REFRESHES.labels("refused").inc()
        return Outcome(None, await state.sessions.end(loaded, cookies))
    REFRESHES.labels("ok").inc()
    state.sessions.forget(cookie_value=loaded.cookie_value)
    if not loaded.session_id:
        # A front proxy that drops the new Set-Cookie (Caddy on a 2xx) sends the old cookie
        # again: in this worker it keeps meaning the refreshed session.
        state.sessions.remember_alias(loaded.cookie_value, new_loaded)
    return Outcome(_caller(new_loaded), set_cookies)
