"""Logging in and out through the auth proxy: ``/oauth2/start``, ``/oauth2/callback``,
``/oauth2/sign_out`` and ``/oauth2/backchannel-logout``.

- start: a new state, nonce and PKCE verifier (S256) sealed in the login cookie, then the
  redirect to the issuer (OpenID Connect Core §3.1.2.1, RFC 7636);
- callback: the state must match the login cookie and not have been used, the code is redeemed
  with the verifier, the ID token checked with the nonce (Core §3.1.3.7); then the session
  cookie and the redirect to ``rd`` (checked by ``redirects.safe_redirect`` at start and again
  here);
- sign_out: the session ended here and, with ``signOut.issuerLogout``, at the issuer
  (RP-Initiated Logout 1.0 §2, with ``id_token_hint``);
- backchannel-logout: the issuer's logout token (Back-Channel Logout 1.0 §2.5-2.8) ends the
  server-side sessions of that ``sid`` (or ``sub``).

Failures are short plain-text pages with a 4xx/5xx status, never a stack trace.
"""

from __future__ import annotations

import logging
import secrets
import time
from urllib.parse import urlsplit

from aiohttp import web

from dex_py.proxy.cookie_jar import parse_cookie_header, read_value
from dex_py.proxy.identity_headers import UnsafeHeaderValue
from dex_py.proxy.jwt_verify import TokenInvalid, verify_id_token, verify_logout_token
from dex_py.proxy.login_state import LoginState, cookie_name, open_login, seal, state_matches
from dex_py.proxy.metrics import LOGINS
from dex_py.proxy.oidc_client import GrantRefused, IssuerUnavailable, pkce_pair
from dex_py.proxy.proxy_state import STATE, ProxyState
from dex_py.proxy.redirects import safe_redirect
from dex_py.proxy.session import from_claims
from dex_py.proxy.sessions import SessionTooLarge
from dex_py.proxy.store_base import StoreUnavailable

log = logging.getLogger("dex_py.proxy.login")


def _page(status: int, text: str, clear: list[str] | None = None) -> web.Response:
    response = web.Response(status=status, text=text + "\n")
    response.headers["Cache-Control"] = "no-store"
    for value in clear or ():
        response.headers.add("Set-Cookie", value)
    return response


def _login_cookie(state: ProxyState, value: str, max_age: int) -> str:
    cookie = state.config.cookie
    attrs = [f"Path={cookie.path}", f"Max-Age={max_age}", "HttpOnly", "SameSite=Lax"]
    if cookie.domain:
        attrs.append(f"Domain={cookie.domain}")
    if cookie.secure:
        attrs.append("Secure")
    return f"{cookie_name(cookie.name)}={value}; " + "; ".join(attrs)


async def _ensure_issuer(state: ProxyState) -> bool:
    return state.ready or await state.load_issuer()


async def start(request: web.Request) -> web.Response:
    state = request.app[STATE]
    if not await _ensure_issuer(state):
        return _page(503, "The identity provider cannot be reached; try again shortly.")
    # ingress-nginx's auth-signin may name the target in X-Auth-Request-Redirect instead.
    wanted = request.query.get("rd", "") or request.headers.get("X-Auth-Request-Redirect", "")
    rd = safe_redirect(wanted, request.host, state.config.allowed_domains)
    verifier, challenge = pkce_pair()
    login = LoginState(secrets.token_urlsafe(24), secrets.token_urlsafe(24), verifier, rd)
    sealed = seal(state.cipher, cookie_name(state.config.cookie.name), login)
    location = state.oidc.authorization_url(
        state=login.state, nonce=login.nonce, code_challenge=challenge
    )
    response = web.Response(status=302, headers={"Location": location, "Cache-Control": "no-store"})
    response.headers.add("Set-Cookie", _login_cookie(state, sealed, 600))
    return response


async def callback(request: web.Request) -> web.Response:
    state = request.app[STATE]
    config = state.config
    query = request.query
    cookies = parse_cookie_header(request.headers.get("Cookie", ""))
    name = cookie_name(config.cookie.name)
    clear = [_login_cookie(state, "", 0)]
    if "error" in query:
        LOGINS.labels("error").inc()
        return _page(403, "The login was not completed at the identity provider.", clear)
    login = open_login(state.cipher, name, cookies.get(name, ""))
    if login is None:
        LOGINS.labels("refused").inc()
        return _page(400, "This login was not started in this browser or took too long.", clear)
    if not state_matches(login, query.get("state", "")):
        LOGINS.labels("refused").inc()
        return _page(400, "The login's state does not match: start again.", clear)
    if not state.used_states.claim(login.state):
        LOGINS.labels("refused").inc()
        return _page(400, "This login was already used: start again.", clear)
    code = query.get("code", "")
    if not code or not await _ensure_issuer(state):
        return _page(400 if not code else 503, "The login cannot be finished now.", clear)
    try:
        tokens = await state.oidc.exchange_code(code, login.verifier)
        claims = await verify_id_token(
            tokens.id_token,
            state.jwks,
            issuer=config.issuer,
            client_id=config.client_id,
            nonce=login.nonce,
        )
    except IssuerUnavailable as exc:
        log.warning("code exchange failed: %s", exc)
        return _page(502, "The identity provider did not answer; try again.", clear)
    except (GrantRefused, TokenInvalid) as exc:
        LOGINS.labels("refused").inc()
        log.warning("login refused: %s", exc)
        return _page(400, "The identity provider's answer was refused; start again.", clear)
    now = time.time()
    session = from_claims(
        claims,
        id_token=tokens.id_token,
        access_token=tokens.access_token if config.headers.pass_access_token else "",
        refresh_token=tokens.refresh_token,
        now=now,
        expires_at=now + config.cookie.expire,
    )
    try:
        _, set_cookies = await state.sessions.save(session, session_id="", present=cookies)
    except UnsafeHeaderValue:
        LOGINS.labels("refused").inc()
        log.warning("login refused: a claim holds a control character")
        return _page(400, "The identity provider sent a value that cannot be passed on.", clear)
    except SessionTooLarge:
        LOGINS.labels("refused").inc()
        return _page(400, "This login is too large for a cookie: ask for a server-side store.")
    LOGINS.labels("ok").inc()
    log.info("login: %s", session.subject)
    rd = safe_redirect(login.rd, request.host, config.allowed_domains)
    response = _page(302, "", clear)
    response.headers["Location"] = rd
    for value in set_cookies:
        response.headers.add("Set-Cookie", value)
    return response


async def sign_out(request: web.Request) -> web.Response:
    state = request.app[STATE]
    config = state.config
    cookies = parse_cookie_header(request.headers.get("Cookie", ""))
    loaded = await state.sessions.load(read_value(cookies, state.sessions.name))
    clear = await state.sessions.end(loaded, cookies)
    target = safe_redirect(
        request.query.get("rd", "") or config.post_logout_redirect_url or "/",
        request.host,
        (*config.allowed_domains, *_own(config.post_logout_redirect_url)),
    )
    metadata = state.oidc.metadata
    if config.issuer_logout and loaded is not None and metadata and metadata.end_session_endpoint:
        target = state.oidc.end_session_url(
            id_token=loaded.session.id_token,
            post_logout_redirect_uri=config.post_logout_redirect_url,
        )
    if loaded is not None:
        log.info("sign-out: %s", loaded.session.subject)
    response = _page(302, "", clear)
    response.headers["Location"] = target
    return response


def _own(url: str) -> tuple[str, ...]:
    """The configured post-logout URL's host, allowed as a sign-out target."""
    netloc = urlsplit(url).netloc.lower() if url else ""
    return (netloc,) if netloc else ()


async def backchannel_logout(request: web.Request) -> web.Response:
    state = request.app[STATE]
    config = state.config
    if not config.backchannel_logout or state.store is None:
        raise web.HTTPNotFound()
    headers = {"Cache-Control": "no-store"}
    form = await request.post()
    token = form.get("logout_token")
    if not isinstance(token, str) or not await _ensure_issuer(state):
        return web.json_response({"error": "invalid_request"}, status=400, headers=headers)
    try:
        claims = await verify_logout_token(
            token, state.jwks, issuer=config.issuer, client_id=config.client_id
        )
    except TokenInvalid as exc:
        log.warning("logout token refused: %s", exc)
        return web.json_response({"error": "invalid_request"}, status=400, headers=headers)
    if not state.used_logout_jtis.claim(str(claims["jti"])):
        return web.json_response({"error": "invalid_request"}, status=400, headers=headers)
    subject, sid = str(claims.get("sub") or ""), str(claims.get("sid") or "")
    try:
        ended = await state.store.delete_for(subject=subject, issuer_sid=sid)
    except StoreUnavailable:
        return web.json_response({"error": "temporarily_unavailable"}, status=503, headers=headers)
    state.sessions.forget_matching(subject=subject, issuer_sid=sid)
    log.info("back-channel logout: %d session(s) ended", ended)
    return web.Response(status=200, headers=headers)
