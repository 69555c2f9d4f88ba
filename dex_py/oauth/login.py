"""The interactive login: ``/auth/<connector>``, ``/auth/<connector>/login`` and ``/callback``.

Each step loads the stored auth request, checks it is bound to this browser, and moves it on.
A password connector shows our form; a callback connector sends the browser upstream and
finishes at ``/callback``. ``finish_login`` records the identity on the auth request and goes on
to the approval page (or straight to the client when approval is skipped).
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any
from urllib.parse import urlencode

from flask import redirect, request
from werkzeug import Response

from connectors.base import CallbackRequest, ConnectorError, Identity
from dex_py import scopes as sc
from dex_py import second_factor
from dex_py.connector_manager import ConnectorEntry
from dex_py.errors import AccessDenied, PageError, RedirectError, UnauthorizedClient
from dex_py.oauth import authorize, consent, issuance, sessions
from dex_py.oauth.approval import issue_authorization_response
from dex_py.oauth.responses import redirect_to
from dex_py.ops.audit import FAILURE, audit, request_ip
from dex_py.ops.metrics import count_event
from dex_py.services import services
from dex_py.storage.base import AuthRequest
from dex_py.web import browser
from dex_py.web.browser import load_auth_request
from dex_py.web.pages import render_page

log = logging.getLogger(__name__)


def _connector_for(req: AuthRequest, connector_id: str) -> ConnectorEntry:
    svc = services()
    entry = svc.connectors.get(connector_id)
    if entry is None:
        raise PageError(404, "Unknown connector", "That login method does not exist.")
    client = svc.clients.get(req.client_id)
    if (
        client is not None
        and client.allowed_connectors
        and entry.id not in client.allowed_connectors
    ):
        raise RedirectError(
            UnauthorizedClient("connector not allowed for this client"),
            req.redirect_uri,
            req.state,
            req.response_mode,
        )
    if not entry.available:
        raise PageError(
            503,
            "Login method unavailable",
            f"{entry.name} cannot be reached right now. Please try again later or choose "
            "another login method.",
        )
    return entry


def connector_view(connector_id: str) -> Response:
    """``/auth/<connector>``: start logging in with a connector."""
    req_id = request.args.get("req", "")
    new_secret = ""
    if not req_id:
        # Dex links here with the full authorization request: accept that too.
        req, new_secret = authorize.start(authorize.request_params())
        if req.connector_id and req.connector_id != connector_id:
            raise PageError(400, "Bad Request", "connector_id does not match the URL.")
    else:
        req = load_auth_request(req_id)
    if req.logged_in:
        raise PageError(400, "Already logged in", "This login request has already been used.")
    entry = _connector_for(req, connector_id)
    svc = services()
    if req.connector_id != connector_id:
        req = svc.storage.update_auth_request(
            req.id, lambda r: replace(r, connector_id=connector_id)
        )
    if entry.kind == "password":
        resp = redirect_to(svc.url(f"/auth/{connector_id}/login?" + urlencode({"state": req.id})))
    else:
        cb = entry.callback()
        assert cb is not None
        try:
            url, login_state = cb.login_url(
                sc.for_connector(req.scopes), svc.url("/callback"), req.id
            )
        except ConnectorError as exc:
            raise PageError(502, "Login method unavailable", str(exc)) from None
        svc.storage.update_auth_request(req.id, lambda r: replace(r, connector_data=login_state))
        resp = redirect_to(url)
    if new_secret:
        browser.set_browser_cookie(resp, new_secret)
    return resp


def password_view(connector_id: str) -> Response:
    """``/auth/<connector>/login``: the password form (GET) and its submission (POST)."""
    req_id = request.values.get("state", "")
    req = load_auth_request(req_id)
    if req.logged_in:
        raise PageError(400, "Already logged in", "This login request has already been used.")
    if req.connector_id != connector_id:
        raise PageError(400, "Bad Request", "This login was started with another connector.")
    entry = _connector_for(req, connector_id)
    pw = entry.password()
    if pw is None:
        raise PageError(400, "Bad Request", "That login method does not take a password.")
    svc = services()
    context: dict[str, Any] = {
        "post_url": svc.url(f"/auth/{connector_id}/login?" + urlencode({"state": req.id})),
        "username_prompt": pw.prompt(),
        "login": req.login_hint,
        "invalid": False,
        "back_url": "",
        "csrf_token": browser.csrf_token(req.id),
        "connector_name": entry.name,
    }
    client = svc.clients.get(req.client_id)
    if client is not None and len(authorize.usable_connectors(client)) > 1:
        context["back_url"] = svc.url("/auth?") + urlencode(_original_params(req))
    if request.method == "GET":
        return render_page("password.html", **context)

    browser.check_csrf(req.id, request.form.get("csrf_token", ""))
    username = request.form.get("login", "")
    password = request.form.get("password", "")
    if len(username) > 512 or len(password) > 1024:
        return render_page("password.html", status=400, **{**context, "invalid": True})
    address = request_ip()

    def failed_login(reason: str) -> None:
        audit(
            "login",
            FAILURE,
            user=username,
            connector=connector_id,
            client=req.client_id,
            reason=reason,
        )

    admission = svc.login_guard.admit(connector_id, username, address)
    if not admission.allowed:
        failed_login(reason=f"limited ({admission.limit})")
        locked = {**context, "invalid": True, "locked": True, "login": username}
        return render_page("password.html", status=429, **locked)
    try:
        identity = pw.login(sc.for_connector(req.scopes), username, password)
    except ConnectorError as exc:
        log.warning("connector %s login error: %s", connector_id, exc)
        failed_login(reason="connector error")
        raise PageError(502, "Login method unavailable", str(exc)) from None
    if identity is None:
        log.info("failed password login on connector %s", connector_id)
        failed_login(reason="invalid credentials")
        count_event("dexpy_logins_total", connector=connector_id, result="failure")
        for limit in svc.login_guard.failed(connector_id, username, address):
            count_event("dexpy_login_locks_total", limit=limit)
        return render_page(
            "password.html", status=401, **{**context, "invalid": True, "login": username}
        )
    svc.login_guard.succeeded(connector_id, username, address)
    return finish_login(req, identity)


def _original_params(req: AuthRequest) -> dict[str, str]:
    params = {
        "client_id": req.client_id,
        "redirect_uri": req.redirect_uri,
        "response_type": " ".join(req.response_types),
        "scope": " ".join(req.scopes),
    }
    for name, value in (
        ("state", req.state),
        ("nonce", req.nonce),
        ("code_challenge", req.pkce.code_challenge),
        ("code_challenge_method", req.pkce.code_challenge_method),
    ):
        if value:
            params[name] = value
    return params


def callback_view(connector_id: str = "") -> Response:
    """``/callback`` (or ``/callback/<connector>``, for connectors such as ``authproxy`` whose
    fronting proxy protects one path): the upstream sends the browser back here; ``state`` is
    our auth request id."""
    params = request.values
    req = load_auth_request(params.get("state", ""))
    if req.logged_in:
        raise PageError(400, "Already logged in", "This login request has already been used.")
    if connector_id and connector_id != req.connector_id:
        raise PageError(400, "Bad Request", "This login was started with another connector.")
    entry = _connector_for(req, req.connector_id)
    cb = entry.callback()
    if cb is None:
        raise PageError(400, "Bad Request", "That login method does not use callbacks.")
    cb_request = CallbackRequest(
        url=request.url,
        args=request.args.to_dict(),
        form=request.form.to_dict(),
        headers=dict(request.headers),
    )
    try:
        identity = cb.handle_callback(sc.for_connector(req.scopes), cb_request, req.connector_data)
    except ConnectorError as exc:
        log.warning("connector %s callback failed: %s", entry.id, exc)
        audit("login", FAILURE, connector=entry.id, client=req.client_id, reason="connector error")
        raise PageError(502, "Login failed", str(exc)) from None
    return finish_login(req, identity)


def finish_login(req: AuthRequest, identity: Identity) -> Response:
    """Record who logged in, enforce the client's group policy, and move on to approval."""
    svc = services()
    client = svc.clients.get(req.client_id)
    entry = svc.connectors.get(req.connector_id)
    claims = second_factor.first_factor(
        issuance.claims_of(svc, req.connector_id, identity),
        password=entry is not None and entry.kind == "password",
    )
    if (
        client is not None
        and client.allowed_groups
        and not set(claims.groups) & set(client.allowed_groups)
    ):
        raise RedirectError(
            AccessDenied("user is not in a group allowed to use this client"),
            req.redirect_uri,
            req.state,
            req.response_mode,
        )
    now = svc.clock.now()
    started = sessions.start(
        svc,
        claims=claims,
        connector_id=req.connector_id,
        connector_data=identity.connector_data,
        auth_time=now,
        previous=sessions.current(svc),
        connector_scopes=sc.connector_scopes(req.scopes),
    )
    session_id = started[0].id if started else ""
    secret, binding = browser.renew()  # only this browser finishes what it logged in to

    def mark(r: AuthRequest) -> AuthRequest:
        if r.logged_in:
            raise PageError(400, "Already logged in", "This login request has already been used.")
        return replace(
            r,
            logged_in=True,
            claims=claims,
            connector_data=identity.connector_data,
            auth_time=now,
            session_id=session_id,
            browser_binding=binding,
        )

    req = svc.storage.update_auth_request(req.id, mark)
    log.info("login succeeded: connector %s, client %s", req.connector_id, req.client_id)
    audit(
        "login",
        user=req.claims.user_id if req.claims else "",
        email=req.claims.email if req.claims else "",
        connector=req.connector_id,
        client=req.client_id,
    )
    count_event("dexpy_logins_total", connector=req.connector_id, result="success")
    if svc.second_factors.needed(req.client_id, claims, req.connector_id, req.acr_values):
        # the mfa blueprint asks for (or enrols) the second factor, then sends the browser to
        # /approval, which answers at once when no approval is needed
        resp = redirect(svc.url("/mfa?" + urlencode({"req": req.id})), code=303)
    elif client is not None and not consent.needs_approval(
        svc, client, req.scopes, forced=req.force_approval_prompt, session=None
    ):
        resp = issue_authorization_response(req)
    else:
        resp = redirect(svc.url("/approval?" + urlencode({"req": req.id})), code=303)
    if started:
        sessions.set_cookie(svc, resp, started[1])
    browser.set_browser_cookie(resp, secret)
    return resp
