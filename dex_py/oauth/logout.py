"""The end-session endpoint ``/logout`` (OpenID Connect RP-Initiated Logout 1.0).

Parameters (GET query or POST form, §2): ``id_token_hint``, ``post_logout_redirect_uri``,
``state``, ``client_id``, ``logout_hint`` and ``ui_locales`` (the last two are accepted and
ignored). The request is validated by the named checks in ``CHECKS``; every failure is an HTML
error page, never a redirect:

- an ``id_token_hint`` must be an ID token we issued (it may have expired, §2); its ``azp`` (or
  its only ``aud``) names the client, and a ``client_id`` sent as well must match it (§2);
- ``post_logout_redirect_uri`` must equal one of that client's ``postLogoutRedirectURIs``
  exactly (§3); without a way to identify the client it is refused.

When the hint is valid and its ``sid`` is this browser's SSO session, the user is logged out at
once. A browser without any session is logged out at once too (nothing to end) unless a valid
hint names a live session by ``sid`` and the same ``sub``: the hint alone never ends a session
(an old ID token, even expired, is no proof that its holder is the user), so that browser is
asked to confirm; an RP's cross-site POST carries no SameSite=Lax cookie, but the confirmation
form is same-site, so a user's own browser sends its session cookie with the answer and only that
session ends. Otherwise (no hint, or a hint for another session or user) the user confirms as
well, on a page whose POST form carries a CSRF token bound to the browser's cookie (§2, §6).
Answering "no" leaves the session alone and says so on ``logged_out.html``
(``still_logged_in``); the client is not told, as nothing happened.

Logging out ends the SSO session, records its end (``revocation.revoke_session``: the
TokenReview webhook then refuses ID tokens carrying its ``sid``), clears its cookie, starts
back-channel logout for the session's clients (``dex_py.backchannel``) and redirects to
``post_logout_redirect_uri`` with ``state`` when one was given, else shows ``logged_out.html``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from flask import request
from werkzeug import Response
from werkzeug.datastructures import MultiDict

from dex_py import backchannel, revocation
from dex_py.errors import PageError
from dex_py.jose import tokens
from dex_py.oauth import sessions
from dex_py.oauth.responses import redirect_to
from dex_py.ops.audit import audit
from dex_py.services import Services, services
from dex_py.storage.base import Client, NotFoundError, Session
from dex_py.web import browser
from dex_py.web.csrf import csrf_token, csrf_valid
from dex_py.web.pages import render_page

log = logging.getLogger(__name__)

PARAMS = (
    "id_token_hint",
    "post_logout_redirect_uri",
    "state",
    "client_id",
    "logout_hint",
    "ui_locales",
)
MAX_PARAM_LENGTH = 2048
MAX_HINT_LENGTH = tokens.MAX_TOKEN_LENGTH
_CSRF_PURPOSE = b"dexpy-logout-csrf"
_TITLE = "Logout failed"


@dataclass
class LogoutRequest:
    """A logout request as the checks understand it."""

    svc: Services
    params: Mapping[str, str]
    hint: dict[str, Any] | None = None  # claims of a valid id_token_hint
    client: Client | None = None
    redirect_uri: str = ""  # a registered post_logout_redirect_uri, or ""

    def get(self, name: str) -> str:
        return self.params.get(name, "")


def _refuse(message: str) -> PageError:
    return PageError(400, _TITLE, message)


def check_parameters(req: LogoutRequest, values: MultiDict[str, str]) -> None:
    """Each parameter at most once and of sane length."""
    params: dict[str, str] = {}
    for name in PARAMS:
        given = values.getlist(name)
        if len(given) > 1:
            raise _refuse(f"The parameter {name} was given more than once.")
        limit = MAX_HINT_LENGTH if name == "id_token_hint" else MAX_PARAM_LENGTH
        if given and len(given[0]) > limit:
            raise _refuse(f"The parameter {name} is too long.")
        if given and given[0]:
            params[name] = given[0]
    req.params = params


def check_id_token_hint(req: LogoutRequest) -> None:
    """The hint must be an ID token we issued; expired is fine (§2)."""
    hint = req.get("id_token_hint")
    if not hint:
        return
    svc = req.svc
    try:
        claims = tokens.verify(
            svc.keys, hint, issuer=svc.issuer, audience=None, clock=svc.clock, allow_expired=True
        )
    except tokens.InvalidTokenError:
        raise _refuse("The id_token_hint is not a valid ID token from this issuer.") from None
    # Access tokens and logout tokens carry a jti; logout tokens an events claim.
    if not isinstance(claims.get("sub"), str) or "jti" in claims or "events" in claims:
        raise _refuse("The id_token_hint is not an ID token.")
    req.hint = claims


def _hint_clients(claims: dict[str, Any]) -> tuple[str, ...]:
    """The clients an ID token was issued to: its ``azp``, else its audiences."""
    azp = claims.get("azp")
    if isinstance(azp, str) and azp:
        return (azp,)
    aud = claims.get("aud")
    if isinstance(aud, str):
        return (aud,)
    if isinstance(aud, list):
        return tuple(a for a in aud if isinstance(a, str))
    return ()


def check_client(req: LogoutRequest) -> None:
    """Identify the client from ``client_id`` and/or the hint; they must agree (§2)."""
    client_id = req.get("client_id")
    if req.hint is not None:
        issued_to = _hint_clients(req.hint)
        if client_id and client_id not in issued_to:
            raise _refuse("The client_id does not match the id_token_hint.")
        if not client_id and len(issued_to) == 1:
            client_id = issued_to[0]
    if not client_id:
        return
    req.client = req.svc.clients.get(client_id)
    if req.client is None and req.get("client_id"):
        raise _refuse("Unknown client.")


def check_post_logout_redirect_uri(req: LogoutRequest) -> None:
    """Only an exactly registered URI of the identified client (§3)."""
    uri = req.get("post_logout_redirect_uri")
    if not uri:
        return
    if req.client is None:
        raise _refuse(
            "The post_logout_redirect_uri cannot be used without id_token_hint or client_id."
        )
    if uri not in req.client.post_logout_redirect_uris:
        raise _refuse("The post_logout_redirect_uri is not registered for this client.")
    req.redirect_uri = uri


CHECKS: tuple[Callable[[LogoutRequest], None], ...] = (
    check_id_token_hint,
    check_client,
    check_post_logout_redirect_uri,
)


def _parse(svc: Services, values: MultiDict[str, str]) -> LogoutRequest:
    req = LogoutRequest(svc, {})
    check_parameters(req, values)
    for check in CHECKS:
        check(req)
    return req


# -- CSRF for the confirmation form ------------------------------------------------------------


def check_csrf(presented: str) -> None:
    """The logout form's token: a fixed purpose under the browser's secret (``web.csrf``)."""
    if not csrf_valid(browser.browser_secret(), _CSRF_PURPOSE, presented):
        raise PageError(400, "Invalid form", "The form has expired. Please try again.")


# -- the view ----------------------------------------------------------------------------------


def logout_view() -> Response:
    svc = services()
    if request.method == "POST" and ("logout" in request.form or "csrf_token" in request.form):
        return _confirmed(svc)
    req = _parse(svc, request.values)
    session = sessions.current(svc)
    sid = req.hint.get("sid") if req.hint is not None else None
    if session is None:
        if _hinted_session(req) is None:
            return _log_out(req, None)
        return _confirmation_page(req)
    if req.hint is not None and sid == session.id:
        return _log_out(req, session)
    return _confirmation_page(req)


def _hinted_session(req: LogoutRequest) -> Session | None:
    """The live session a valid hint names by ``sid``, if it belongs to the hint's ``sub``."""
    sid = req.hint.get("sid") if req.hint is not None else None
    if not isinstance(sid, str) or not sid or req.hint is None:
        return None
    try:
        session = req.svc.storage.get_session(sid)
    except NotFoundError:
        return None
    if session.expiry <= req.svc.clock.now():
        return None
    if tokens.encode_sub(session.claims.user_id, session.connector_id) != req.hint["sub"]:
        return None
    return session


def _confirmation_page(req: LogoutRequest) -> Response:
    secret, is_new = browser.ensure_browser_secret()
    hidden: list[tuple[str, str]] = []
    if req.client is not None:
        hidden.append(("client_id", req.client.id))
    if req.redirect_uri:
        hidden.append(("post_logout_redirect_uri", req.redirect_uri))
        if req.get("state"):
            hidden.append(("state", req.get("state")))
    resp = render_page(
        "logout.html",
        post_url=req.svc.url("/logout"),
        csrf_token=csrf_token(secret, _CSRF_PURPOSE),
        client_name=_client_name(req.client),
        hidden=hidden,
    )
    if is_new:
        browser.set_browser_cookie(resp, secret)
    return resp


def _confirmed(svc: Services) -> Response:
    check_csrf(request.form.get("csrf_token", ""))
    req = _parse(svc, request.form)
    if request.form.get("logout") == "yes":
        return _log_out(req, sessions.current(svc))
    return render_page("logged_out.html", still_logged_in=True)


def _log_out(req: LogoutRequest, session: Session | None) -> Response:
    svc = req.svc
    ended = sessions.end(svc, session.id) if session is not None else None
    if ended is not None:
        revocation.revoke_session(svc, ended.id)
        events = backchannel.start_logout(svc, ended)
        client_id = req.client.id if req.client else ""
        audit("logout", user=ended.claims.user_id, connector=ended.connector_id, client=client_id)
        log.info(
            "session ended by logout",
            extra={
                "sid": ended.id,
                "client_id": req.client.id if req.client else "",
                "backchannel_deliveries": len(events),
            },
        )
    if req.redirect_uri:
        params = [("state", req.get("state"))] if req.get("state") else []
        resp: Response = redirect_to(_append_query(req.redirect_uri, params))
        resp.headers["Cache-Control"] = "no-store"
    else:
        resp = render_page("logged_out.html", client_name=_client_name(req.client))
    sessions.clear_cookie(svc, resp)
    return resp


def _append_query(uri: str, params: list[tuple[str, str]]) -> str:
    if not params:
        return uri
    parts = urlsplit(uri)
    encoded = urlencode(params)
    query = f"{parts.query}&{encoded}" if parts.query else encoded
    return urlunsplit(parts._replace(query=query))


def _client_name(client: Client | None) -> str:
    if client is None:
        return ""
    return client.name or client.id
