"""The approval page ``/approval`` and the authorization response it leads to (RFC 6749 §4.1.2,
OIDC Core §3.3.2.5 for tokens returned from the authorization endpoint).

The auth request is consumed by deleting it: the delete is the atomic claim, so two concurrent
approvals cannot both mint a code.
"""

from __future__ import annotations

import secrets
from urllib.parse import urlencode

from flask import redirect, request
from werkzeug import Response

from dex_py import scopes as sc
from dex_py.errors import AccessDenied, PageError, RedirectError
from dex_py.oauth import consent, issuance, sessions
from dex_py.oauth.responses import deliver
from dex_py.services import services
from dex_py.storage.base import AuthCode, AuthRequest, NotFoundError
from dex_py.web import browser
from dex_py.web.browser import load_auth_request
from dex_py.web.pages import render_page


def approval_view() -> Response:
    """``/approval``: the consent page (GET) and its answer (POST). After a second factor,
    the mfa pages send the browser here: when this client needs no approval, the GET answers
    the client at once."""
    req = load_auth_request(request.values.get("req", ""))
    if not req.logged_in or req.claims is None:
        raise PageError(400, "Not logged in", "Please log in first.")
    svc = services()
    if request.method == "GET" and not _second_factor_passed(req):
        return redirect(svc.url("/mfa?" + urlencode({"req": req.id})), code=303)
    if request.method == "GET":
        client = svc.clients.get(req.client_id)
        if client is not None and not consent.needs_approval(
            svc, client, req.scopes, forced=req.force_approval_prompt, session=None
        ):
            return issue_authorization_response(req)
        names = {p: (c.name if (c := svc.clients.get(p)) else p) for p in sc.peers(req.scopes)}
        return render_page(
            "approval.html",
            client_name=(client.name if client and client.name else req.client_id),
            client_logo_url=client.logo_url if client else "",
            scopes=sc.describe(req.scopes, names),
            post_url=svc.url("/approval"),
            req=req.id,
            csrf_token=browser.csrf_token(req.id),
            user_name=req.claims.username,
            user_email=req.claims.email,
        )
    browser.check_csrf(req.id, request.form.get("csrf_token", ""))
    if request.form.get("approval") != "approve":
        _consume(req)
        raise RedirectError(
            AccessDenied("the user denied the request"),
            req.redirect_uri,
            req.state,
            req.response_mode,
        )
    sessions.record(svc, req.session_id, approved=req.client_id, scopes=req.scopes)
    return issue_authorization_response(req)


def _consume(req: AuthRequest) -> None:
    try:
        services().storage.delete_auth_request(req.id)
    except NotFoundError:
        raise PageError(
            400, "Already used", "This login request has already been completed."
        ) from None


def _second_factor_passed(req: AuthRequest) -> bool:
    assert req.claims is not None
    return services().second_factors.satisfied(
        req.client_id, req.claims, req.connector_id, req.acr_values
    )


def issue_authorization_response(req: AuthRequest) -> Response:
    """Turn a logged-in auth request into a code and/or tokens sent to the client."""
    assert req.claims is not None
    svc = services()
    if not _second_factor_passed(req):
        raise PageError(
            403, "Second factor required", "Please confirm your login with a second factor."
        )
    _consume(req)
    sessions.record(svc, req.session_id, client=req.client_id)
    now = svc.clock.now()
    grant = issuance.grant_of(req)
    params: list[tuple[str, str]] = []
    code_value = ""
    if "code" in req.response_types:
        code_value = secrets.token_urlsafe(32)
        svc.storage.create_auth_code(
            AuthCode(
                id=code_value,
                client_id=req.client_id,
                redirect_uri=req.redirect_uri,
                nonce=req.nonce,
                scopes=req.scopes,
                claims=req.claims,
                connector_id=req.connector_id,
                expiry=now + svc.config.expiry.auth_codes,
                connector_data=req.connector_data,
                pkce=req.pkce,
                auth_time=req.auth_time,
                session_id=req.session_id,
            )
        )
        params.append(("code", code_value))
    access_value = ""
    if "token" in req.response_types:
        access = issuance.access_token(svc, grant, now)
        access_value = access.value
        params += [
            ("access_token", access.value),
            ("token_type", "bearer"),
            ("expires_in", str(int(svc.config.expiry.access_token_lifetime.total_seconds()))),
        ]
    if "id_token" in req.response_types:
        params.append(
            (
                "id_token",
                issuance.id_token(
                    svc,
                    grant,
                    now,
                    access_token=access_value,
                    code=code_value,
                    include_auth_time=req.max_age is not None,
                ),
            )
        )
    if req.state:
        params.append(("state", req.state))
    return deliver(req.redirect_uri, params, req.response_mode or "query")
