"""The second-factor step of a login: ``/mfa`` asks for a code (TOTP or recovery) or a passkey,
``/mfa/enroll`` sets up TOTP or a passkey for a user who must have a second factor and has none
yet (then shows the recovery codes once).

Both continue an auth request that the connector login marked logged in (``dex_py.oauth.login``
sends the browser here when ``SecondFactors.needed``), bound to this browser; every form carries
the request's CSRF token. A passed factor is recorded in the request's claims and in its SSO
session (``second_factor.passed``: ``amr`` gains the method and ``mfa``), and the browser goes
on to ``/approval``, which answers the client at once when no approval is needed. Wrong codes
count per user (``SecondFactorGuard``, ``bruteForce.secondFactor``).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from dataclasses import replace
from typing import Any, TypeVar
from urllib.parse import urlencode

from flask import redirect, request
from werkzeug import Response

from dex_py import second_factor
from dex_py.errors import PageError
from dex_py.mfa import factors, passkeys, totp
from dex_py.ops.audit import FAILURE, audit
from dex_py.ops.metrics import count_event
from dex_py.services import Services, services
from dex_py.storage.base import AuthRequest, Claims, MFAState, NotFoundError, Session
from dex_py.web import browser
from dex_py.web.browser import load_auth_request
from dex_py.web.pages import render_page

log = logging.getLogger(__name__)
MAX_CODE_LENGTH = 64
T = TypeVar("T")


def _logged_in_request() -> tuple[AuthRequest, Claims]:
    req = load_auth_request(request.values.get("req", ""))
    if not req.logged_in or req.claims is None:
        raise PageError(400, "Not logged in", "Please log in first.")
    return req, req.claims


def relying_party(svc: Services) -> passkeys.RelyingParty:
    return passkeys.RelyingParty.of_issuer(svc.issuer, svc.second_factors.policy.issuer)


def _url(svc: Services, path: str, req: AuthRequest) -> str:
    return svc.url(path + "?" + urlencode({"req": req.id}))


def _continue(svc: Services, req: AuthRequest) -> Response:
    return redirect(_url(svc, "/approval", req), code=303)


def _code() -> str:
    code = request.form.get("code", "")
    return code if len(code) <= MAX_CODE_LENGTH else ""


def verify_view() -> Response:
    """``/mfa``: ask an enrolled user for a code (TOTP or recovery)."""
    req, claims = _logged_in_request()
    svc = services()
    if second_factor.AMR_MFA in claims.amr:
        return _continue(svc, req)
    key = second_factor.user_key(claims, req.connector_id)
    state = svc.second_factors.state(key)
    if state is None or not svc.second_factors.usable(state):
        policy = svc.second_factors.policy
        if not (policy.allows("totp") or policy.allows("webauthn")):
            raise PageError(
                403,
                "Second factor required",
                "This login needs a second factor, and none you could set up here is allowed. "
                "Please ask your administrator.",
            )
        return redirect(_url(svc, "/mfa/enroll", req), code=303)
    policy = svc.second_factors.policy
    rp = relying_party(svc)
    ceremony = passkeys.challenge(browser.browser_secret(), "login:" + req.id)
    use_passkeys = policy.allows("webauthn") and bool(state.webauthn_credentials)
    context: dict[str, Any] = {
        "post_url": _url(svc, "/mfa", req),
        "csrf_token": browser.csrf_token(req.id),
        "user_name": claims.username or claims.email,
        "recovery": policy.allows("recovery"),
        "codes": state.totp_confirmed or bool(state.recovery_code_hashes),
        "webauthn_options": (
            passkeys.authentication_options(rp, state, ceremony) if use_passkeys else ""
        ),
        "invalid": False,
        "locked": False,
    }
    now = svc.clock.now()

    def check() -> str | None:
        answer = request.form.get("webauthn", "")
        if not answer:
            return factors.check_code(svc.storage, policy, state, _code(), now)
        assertion = passkeys.verify_assertion(rp, state, answer, ceremony) if use_passkeys else None
        if assertion is None or not factors.use_assertion(svc.storage, key, assertion, now):
            return None
        return assertion.method

    outcome = _guarded(svc, req, key, "mfa_verify.html", context, check)
    if isinstance(outcome, Response):
        return outcome
    _record(svc, req, outcome)
    return _continue(svc, req)


def _guarded(
    svc: Services,
    req: AuthRequest,
    key: str,
    template: str,
    context: dict[str, Any],
    check: Callable[[], T | None],
) -> T | Response:
    """GET: the page. POST: the CSRF token, the lock, then ``check()``; a wrong code is counted
    and the page shown again. Returns what ``check`` returned, or the page to answer with."""
    if request.method == "GET":
        return render_page(template, **context)
    browser.check_csrf(req.id, request.form.get("csrf_token", ""))
    if not svc.mfa_guard.admit(key):
        _failed(req, "limited (secondFactor)")
        return render_page(template, status=429, **{**context, "locked": True})
    result = check()
    if result is None:
        _failed(req, "invalid code")
        if svc.mfa_guard.failed(key):
            count_event("dexpy_login_locks_total", limit="secondFactor")
        return render_page(template, status=401, **{**context, "invalid": True})
    svc.mfa_guard.succeeded(key)
    return result


def enroll_view() -> Response:
    """``/mfa/enroll``: set up TOTP or a passkey during a login that requires a second
    factor."""
    req, claims = _logged_in_request()
    svc = services()
    if second_factor.AMR_MFA in claims.amr:
        return _continue(svc, req)
    policy = svc.second_factors.policy
    if not (policy.allows("totp") or policy.allows("webauthn")):
        raise PageError(400, "Not available", "No second factor can be set up on this server.")
    key = second_factor.user_key(claims, req.connector_id)
    state = svc.second_factors.state(key)
    if svc.second_factors.usable(state):
        # a user who has a factor proves it; nobody replaces it with only a password
        return redirect(_url(svc, "/mfa", req), code=303)
    now = svc.clock.now()
    if policy.allows("totp"):
        state = factors.pending_totp(svc.storage, key, now)
    ceremony = passkeys.challenge(browser.browser_secret(), "enroll:" + req.id)
    context = _enroll_context(svc, req, claims, key, state, ceremony)

    def check() -> tuple[list[str], str] | None:
        answer = request.form.get("webauthn", "")
        if not answer:
            codes = factors.confirm_totp(svc.storage, key, _code(), now)
            return None if codes is None else (codes, second_factor.AMR_OTP)
        if not policy.allows("webauthn"):
            return None
        name = request.form.get("passkey_name", "")
        registered = passkeys.verify_registration(relying_party(svc), answer, ceremony, name, now)
        if registered is None:
            return None
        added = factors.add_passkey(svc.storage, key, registered[0], now)
        return None if added is None else (added, registered[1])

    outcome = _guarded(svc, req, key, "mfa_enroll.html", context, check)
    if isinstance(outcome, Response):
        return outcome
    codes, method = outcome
    audit("mfa_enrolled", user=claims.user_id, connector=req.connector_id, method=method)
    _record(svc, req, method)
    return render_page(
        "mfa_recovery_codes.html", codes=codes, continue_url=_url(svc, "/approval", req)
    )


def _enroll_context(
    svc: Services,
    req: AuthRequest,
    claims: Claims,
    key: str,
    state: MFAState | None,
    ceremony: bytes,
) -> dict[str, Any]:
    policy = svc.second_factors.policy
    account = claims.email or claims.username or claims.user_id
    context: dict[str, Any] = {
        "post_url": _url(svc, "/mfa/enroll", req),
        "csrf_token": browser.csrf_token(req.id),
        "qr_svg": "",
        "secret": "",
        "account": account,
        "webauthn_options": "",
        "invalid": False,
        "locked": False,
    }
    if policy.allows("totp") and state is not None:
        uri = totp.key_uri(state.totp_secret, account, policy.issuer)
        context["qr_svg"] = totp.qr_svg(uri)
        context["secret"] = totp.grouped(state.totp_secret)
    if policy.allows("webauthn"):
        context["webauthn_options"] = passkeys.registration_options(
            relying_party(svc), key, account, state, ceremony
        )
    return context


def _failed(req: AuthRequest, reason: str) -> None:
    user = req.claims.user_id if req.claims else ""
    audit(
        "mfa", FAILURE, user=user, connector=req.connector_id, client=req.client_id, reason=reason
    )
    count_event("dexpy_logins_total", connector=req.connector_id, result="mfa_failure")


def _record(svc: Services, req: AuthRequest, method: str) -> None:
    """The second factor passed: on the auth request (for the tokens) and its SSO session (so
    the session may answer later requests that need one)."""

    def on_request(r: AuthRequest) -> AuthRequest:
        assert r.claims is not None
        return replace(r, claims=second_factor.passed(r.claims, method))

    svc.storage.update_auth_request(req.id, on_request)
    if req.session_id:

        def on_session(s: Session) -> Session:
            return replace(s, claims=second_factor.passed(s.claims, method))

        with contextlib.suppress(NotFoundError):
            svc.storage.update_session(req.session_id, on_session)
    audit("mfa", user=req.claims.user_id if req.claims else "", method=method)
    log.info("second factor passed: connector %s, client %s", req.connector_id, req.client_id)
