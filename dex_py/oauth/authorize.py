"""The authorization endpoint ``/auth`` (RFC 6749 §4.1.1, OIDC Core §3.1.2.1, RFC 7636 §4.3).

The request is validated by the named checks below, in two visible tuples. Until the client and
its redirect URI are known to be good, errors are shown as a page (``PAGE_CHECKS``); after that
they go back to the client (``REDIRECT_CHECKS``). A valid request becomes a stored
``AuthRequest`` bound to this browser, and the user is sent to the connector (directly when
there is one choice, else through the chooser page).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from flask import redirect, request
from werkzeug import Response
from werkzeug.datastructures import MultiDict

from dex_py import scopes as sc
from dex_py.clients import redirect_uri_allowed
from dex_py.errors import (
    InvalidRequest,
    InvalidScope,
    OAuth2Error,
    PageError,
    RedirectError,
    RequestNotSupported,
    RequestURINotSupported,
    UnauthorizedClient,
    UnsupportedResponseType,
)
from dex_py.oauth.approval import issue_authorization_response
from dex_py.oauth.authorize_context import AuthorizeContext
from dex_py.oauth.policy import check_admin_scope
from dex_py.oauth.responses import default_mode, redirect_to
from dex_py.oauth.sso import already_approved, check_id_token_hint, reusable_session
from dex_py.services import services
from dex_py.storage.base import PKCE, AuthRequest, Client, Session
from dex_py.web import browser
from dex_py.web.pages import render_page

MAX_PARAM_LENGTH = 4096
SINGLE_VALUED = (
    "client_id",
    "redirect_uri",
    "response_type",
    "response_mode",
    "scope",
    "state",
    "nonce",
    "code_challenge",
    "code_challenge_method",
    "prompt",
    "max_age",
    "login_hint",
    "id_token_hint",
    "connector_id",
    "approval_prompt",
    "acr_values",
)
RESPONSE_TYPES = {"code", "token", "id_token"}
PROMPTS = {"none", "login", "consent", "select_account"}
_PKCE_RE = re.compile(r"^[A-Za-z0-9\-._~]{43,128}$")


# --- checks before the redirect URI is trusted: errors are pages ------------------------------


def check_single_valued(ctx: AuthorizeContext) -> None:
    for name in ("client_id", "redirect_uri"):
        if len(ctx.params.getlist(name)) > 1:
            raise PageError(400, "Bad Request", f"The parameter {name} was sent more than once.")
    for name, value in ctx.params.items(multi=True):
        if len(value) > MAX_PARAM_LENGTH:
            raise PageError(400, "Bad Request", f"The parameter {name[:40]} is too long.")


def check_client(ctx: AuthorizeContext) -> None:
    client_id = ctx.get("client_id")
    if not client_id:
        raise PageError(400, "Bad Request", "The request has no client_id.")
    ctx.client = ctx.svc.clients.get(client_id)
    if ctx.client is None:
        raise PageError(400, "Unknown client", "The application is not registered with us.")


def check_redirect_uri(ctx: AuthorizeContext) -> None:
    assert ctx.client is not None
    uri = ctx.get("redirect_uri")
    if not uri:
        raise PageError(400, "Bad Request", "The request has no redirect_uri.")
    if not redirect_uri_allowed(ctx.client, uri):
        raise PageError(
            400, "Unregistered redirect URI", "The redirect URI is not registered for this client."
        )
    ctx.redirect_uri = uri


# --- checks after: errors go back to the client -----------------------------------------------


def check_other_params_single(ctx: AuthorizeContext) -> None:
    for name in SINGLE_VALUED:
        if len(ctx.params.getlist(name)) > 1:
            raise InvalidRequest(f"parameter {name} repeated")


def check_request_object(ctx: AuthorizeContext) -> None:
    if "request" in ctx.params:
        raise RequestNotSupported("request objects are not supported")
    if "request_uri" in ctx.params:
        raise RequestURINotSupported("request_uri is not supported")


def check_response_type(ctx: AuthorizeContext) -> None:
    raw = ctx.get("response_type")
    if not raw:
        raise InvalidRequest("response_type is required")
    types = tuple(sorted(set(raw.split())))
    if not types or not set(types) <= RESPONSE_TYPES:
        raise UnsupportedResponseType("unsupported response_type")
    enabled = {tuple(sorted(set(t.split()))) for t in ctx.svc.config.oauth2.response_types}
    if types not in enabled:
        raise UnsupportedResponseType("response_type not enabled on this server")
    ctx.response_types = types


def check_response_mode(ctx: AuthorizeContext) -> None:
    mode = ctx.get("response_mode") or default_mode(ctx.response_types)
    if mode not in ("query", "fragment", "form_post"):
        raise InvalidRequest("unsupported response_mode")
    if mode == "query" and ctx.response_types != ("code",):
        raise InvalidRequest("tokens must not be returned in the query string")
    ctx.response_mode = mode


def check_scope(ctx: AuthorizeContext) -> None:
    requested = ctx.get("scope").split()
    if sc.OPENID not in requested:
        raise InvalidScope("the openid scope is required")
    check_admin_scope(ctx.svc, ctx.get("client_id"), "", ctx.get("scope"))
    ctx.scopes = sc.parse(ctx.get("scope"))


def check_peers(ctx: AuthorizeContext) -> None:
    assert ctx.client is not None
    for peer_id in sc.peers(ctx.scopes):
        if peer_id == ctx.client.id:
            continue
        peer = ctx.svc.clients.get(peer_id)
        if peer is None or ctx.client.id not in peer.trusted_peers:
            raise InvalidScope(f"client is not a trusted peer of {peer_id[:64]}")


def check_pkce(ctx: AuthorizeContext) -> None:
    assert ctx.client is not None
    challenge = ctx.get("code_challenge")
    method = ctx.get("code_challenge_method")
    if not challenge:
        if method:
            raise InvalidRequest("code_challenge_method without code_challenge")
        if ctx.client.public and "code" in ctx.response_types:
            raise InvalidRequest("public clients must use PKCE (code_challenge)")
        return
    if "code" not in ctx.response_types:
        raise InvalidRequest("code_challenge is only valid with response_type code")
    method = method or "plain"
    if method not in ("S256", "plain"):
        raise InvalidRequest("unsupported code_challenge_method")
    if not _PKCE_RE.match(challenge):
        raise InvalidRequest("malformed code_challenge")
    ctx.notes["code_challenge_method"] = method


def check_nonce(ctx: AuthorizeContext) -> None:
    # OIDC Core §3.2.2.1 and §3.3.2.11: implicit and hybrid flows must carry a nonce.
    if ctx.response_types != ("code",) and sc.OPENID in ctx.scopes and not ctx.get("nonce"):
        raise InvalidRequest("nonce is required unless response_type is code")


def check_prompt(ctx: AuthorizeContext) -> None:
    values = tuple(ctx.get("prompt").split())
    if not set(values) <= PROMPTS:
        raise InvalidRequest("unsupported prompt value")
    if "none" in values and len(values) > 1:
        raise InvalidRequest("prompt=none cannot be combined with other values")
    ctx.prompt = values
    ctx.force_approval = "consent" in values or ctx.get("approval_prompt") == "force"


def check_max_age(ctx: AuthorizeContext) -> None:
    raw = ctx.get("max_age")
    if not raw:
        return
    if not raw.isdigit() or len(raw) > 10:
        raise InvalidRequest("max_age must be a non-negative integer")
    ctx.max_age = int(raw)


def check_connector(ctx: AuthorizeContext) -> None:
    assert ctx.client is not None
    connector_id = ctx.get("connector_id")
    if not connector_id:
        return
    if ctx.svc.connectors.get(connector_id) is None:
        raise InvalidRequest("unknown connector_id")
    if ctx.client.allowed_connectors and connector_id not in ctx.client.allowed_connectors:
        raise UnauthorizedClient("connector not allowed for this client")
    ctx.connector_id = connector_id


def check_grant_allowed(ctx: AuthorizeContext) -> None:
    assert ctx.client is not None
    needs = "authorization_code" if "code" in ctx.response_types else "implicit"
    if needs == "authorization_code" and needs not in ctx.svc.config.oauth2.grant_types:
        raise UnauthorizedClient("the authorization code grant is disabled")
    if ctx.client.grant_types and needs not in ctx.client.grant_types:
        raise UnauthorizedClient(f"client may not use the {needs} grant")


PAGE_CHECKS: tuple[Callable[[AuthorizeContext], None], ...] = (
    check_single_valued,
    check_client,
    check_redirect_uri,
)
REDIRECT_CHECKS: tuple[Callable[[AuthorizeContext], None], ...] = (
    check_other_params_single,
    check_response_type,
    check_response_mode,
    check_request_object,
    check_grant_allowed,
    check_scope,
    check_peers,
    check_pkce,
    check_nonce,
    check_prompt,
    check_max_age,
    check_id_token_hint,
    check_connector,
)


def request_params() -> MultiDict[str, str]:
    """Authorization parameters from the query (GET) or the form body (POST, OIDC §3.1.2.1)."""
    return request.form if request.method == "POST" else request.args


def validate(params: MultiDict[str, str]) -> AuthorizeContext:
    """Run every check; raise ``PageError`` or ``RedirectError``."""
    ctx = AuthorizeContext(params=params, svc=services())
    for check in PAGE_CHECKS:
        check(ctx)
    try:
        for check in REDIRECT_CHECKS:
            check(ctx)
    except OAuth2Error as err:
        mode = ctx.response_mode or ctx.get("response_mode")
        if mode not in ("query", "fragment", "form_post"):
            mode = default_mode(ctx.response_types or ("code",))
        raise RedirectError(err, ctx.redirect_uri, ctx.get("state"), mode) from None
    return ctx


def create_auth_request(
    ctx: AuthorizeContext, browser_secret: str, session: Session | None = None
) -> AuthRequest:
    """Store the validated request; when an SSO session answers it, it is already logged in."""
    svc = ctx.svc
    assert ctx.client is not None
    now = svc.clock.now()
    challenge = ctx.get("code_challenge")
    logged_in: dict[str, Any] = {"connector_id": ctx.connector_id}
    if session is not None:
        logged_in = {
            "logged_in": True,
            "claims": session.claims,
            "connector_id": session.connector_id,
            "connector_data": session.connector_data,
            "auth_time": session.auth_time,
            "session_id": session.id,
        }
    req = AuthRequest(
        id=secrets.token_urlsafe(24),
        client_id=ctx.client.id,
        response_types=ctx.response_types,
        scopes=ctx.scopes,
        redirect_uri=ctx.redirect_uri,
        state=ctx.get("state"),
        nonce=ctx.get("nonce"),
        expiry=now + svc.config.expiry.auth_requests,
        force_approval_prompt=ctx.force_approval,
        pkce=PKCE(challenge, ctx.notes.get("code_challenge_method", "")) if challenge else PKCE(),
        browser_binding=browser.binding_of(browser_secret),
        response_mode=ctx.response_mode,
        prompt=" ".join(ctx.prompt),
        max_age=ctx.max_age,
        login_hint=ctx.get("login_hint"),
        acr_values=ctx.get("acr_values"),
        **logged_in,
    )
    svc.storage.create_auth_request(req)
    return req


def start(params: MultiDict[str, str]) -> tuple[AuthRequest, str]:
    """Validate and store a new auth request (no SSO: the caller chose a connector). Returns it,
    plus the browser secret to set when the browser had none."""
    ctx = validate(params)
    secret, is_new = browser.ensure_browser_secret()
    req = create_auth_request(ctx, secret)
    return req, secret if is_new else ""


def connector_url(connector_id: str, req_id: str) -> str:
    return services().url(f"/auth/{connector_id}?" + urlencode({"req": req_id}))


def usable_connectors(client: Client) -> list:
    entries = services().connectors.all()
    if client.allowed_connectors:
        entries = [e for e in entries if e.id in client.allowed_connectors]
    return entries


def authorize_view() -> Response:
    """``GET|POST /auth``: validate and store the request; answer it from the SSO session when
    allowed, else route to a connector or the chooser."""
    return continue_authorization(validate(request_params()))


def continue_authorization(ctx: AuthorizeContext) -> Response:
    """Store a validated request bound to this browser and move it on: answered from the SSO
    session when allowed, to the approval page when the session authenticates it, else to a
    connector or the chooser. Also the way in for the device flow's verification page."""
    secret, is_new = browser.ensure_browser_secret()
    try:
        session = reusable_session(ctx)
    except OAuth2Error as err:
        raise RedirectError(err, ctx.redirect_uri, ctx.get("state"), ctx.response_mode) from None
    if session is not None and already_approved(ctx, session):
        resp = issue_authorization_response(create_auth_request(ctx, secret, session))
    elif session is not None:
        # authenticated by the session: bind to a fresh secret only this browser gets
        secret, is_new = browser.renew()[0], True
        req = create_auth_request(ctx, secret, session)
        resp = redirect(ctx.svc.url("/approval?" + urlencode({"req": req.id})), code=303)
    else:
        resp = _route_to_connector(create_auth_request(ctx, secret))
    if is_new:
        browser.set_browser_cookie(resp, secret)
    return resp


def _route_to_connector(req: AuthRequest) -> Response:
    svc = services()
    client = svc.clients.get(req.client_id)
    assert client is not None
    entries = usable_connectors(client)
    available = [e for e in entries if svc.connectors.healthy(e)]
    target = req.connector_id or (available[0].id if len(entries) == 1 and available else "")
    if (target and not svc.config.oauth2.always_show_login_screen) or req.connector_id:
        return redirect_to(connector_url(target, req.id))
    return render_page(
        "login.html",
        connectors=[
            {"id": e.id, "name": e.name, "type": e.type, "url": connector_url(e.id, req.id)}
            for e in available
        ],
        unavailable=[e.name for e in entries if e not in available],
    )
