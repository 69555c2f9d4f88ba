"""``/mfa/manage``: the self-service page where a logged-in user sees their second factors,
sets up TOTP, removes it, and makes new recovery codes.

Who is logged in comes from the SSO session cookie (``web.session_cookie``). A user who has a
factor must have passed it in that session (``amr`` has ``mfa``): a password alone never
changes or removes a second factor. Without a session the page says to log in to an application
first. Every form carries a CSRF token under the browser's secret cookie, for this session.
"""

from __future__ import annotations

from typing import Any

from flask import request
from werkzeug import Response

from dex_py import second_factor
from dex_py.errors import PageError
from dex_py.mfa import factors, passkeys, totp
from dex_py.mfa.views import relying_party
from dex_py.ops.audit import audit
from dex_py.services import Services, services
from dex_py.storage.base import MFAState, Session
from dex_py.web import browser, csrf
from dex_py.web.pages import render_page
from dex_py.web.session_cookie import current

ACTIONS = ("enroll", "remove_totp", "new_recovery_codes", "add_passkey", "remove_passkey")


def _logged_in(svc: Services) -> tuple[Session, str, MFAState | None]:
    session = current(svc)
    if session is None:
        raise PageError(
            401,
            "Not logged in",
            "Log in to an application that uses this server first, then come back to this page.",
        )
    key = second_factor.user_key(session.claims, session.connector_id)
    state = svc.second_factors.state(key)
    if state is not None and state.enrolled and second_factor.AMR_MFA not in session.claims.amr:
        raise PageError(
            403,
            "Second factor needed",
            "This session was opened without your second factor. Log in again with it first.",
        )
    return session, key, state


def _registration_challenge(session: Session) -> bytes:
    return passkeys.challenge(browser.browser_secret(), "register:" + session.id)


def _csrf_purpose(session: Session) -> bytes:
    return b"mfa-manage:" + session.id.encode()


def manage_view() -> Response:
    svc = services()
    session, key, state = _logged_in(svc)
    now = svc.clock.now()
    notice = ""
    codes: list[str] = []
    invalid = False
    if request.method == "POST":
        presented = request.form.get("csrf_token", "")
        if not csrf.csrf_valid(browser.browser_secret(), _csrf_purpose(session), presented):
            raise PageError(400, "Invalid form", "The form has expired. Please try again.")
        action = request.form.get("action", "")
        enrolled = state is not None and state.enrolled
        if action == "enroll" and not enrolled and svc.second_factors.policy.allows("totp"):
            if not svc.mfa_guard.admit(key):
                invalid, notice = True, "Too many wrong codes. Please wait a few minutes."
            else:
                confirmed = factors.confirm_totp(
                    svc.storage, key, request.form.get("code", "")[:64], now
                )
                if confirmed is None:
                    svc.mfa_guard.failed(key)
                    invalid = True
                else:
                    codes, notice = confirmed, "Your authenticator app is set up."
                    audit("mfa_enrolled", user=session.claims.user_id, method="totp")
        elif action == "add_passkey" and svc.second_factors.policy.allows("webauthn"):
            registered = passkeys.verify_registration(
                relying_party(svc),
                request.form.get("webauthn", ""),
                _registration_challenge(session),
                request.form.get("passkey_name", ""),
                now,
            )
            added = None
            if registered is not None:
                added = factors.add_passkey(svc.storage, key, registered[0], now)
            if added is None or registered is None:
                invalid, notice = True, "The passkey could not be added."
            else:
                codes, notice = added, f"Passkey {registered[0].name} added."
                audit("mfa_enrolled", user=session.claims.user_id, method="webauthn")
        elif action == "remove_passkey" and state is not None:
            factors.remove_passkey(svc.storage, key, request.form.get("credential", ""), now)
            notice = "The passkey was removed."
            audit("mfa_removed", user=session.claims.user_id, method="webauthn")
        elif action == "remove_totp" and state is not None and state.totp_confirmed:
            factors.remove_totp(svc.storage, key, now)
            notice = "The authenticator app was removed."
            audit("mfa_removed", user=session.claims.user_id, method="totp")
        elif action == "new_recovery_codes" and enrolled:
            codes = factors.new_recovery_codes(svc.storage, key, now)
            notice = "New recovery codes made; the old ones no longer work."
            audit("mfa_recovery_codes", user=session.claims.user_id)
        elif action not in ACTIONS:
            raise PageError(400, "Bad Request", "Unknown action.")
        state = svc.second_factors.state(key)
    return render_page(
        "mfa_manage.html",
        status=401 if invalid else 200,
        **_context(svc, session, state, notice=notice, codes=codes, invalid=invalid),
    )


def _context(
    svc: Services, session: Session, state: MFAState | None, **extra: Any
) -> dict[str, Any]:
    policy = svc.second_factors.policy
    enrolled = state is not None and state.totp_confirmed
    context: dict[str, Any] = {
        "post_url": svc.url("/mfa/manage"),
        "csrf_token": csrf.csrf_token(browser.browser_secret(), _csrf_purpose(session)),
        "user_name": session.claims.username or session.claims.email,
        "totp_enrolled": enrolled,
        "recovery_left": len(state.recovery_code_hashes) if state is not None else 0,
        "passkeys": [
            {"id": c.id, "name": c.name}
            for c in (state.webauthn_credentials if state is not None else ())
        ],
        "webauthn_options": "",
        "can_enroll": not enrolled and policy.allows("totp"),
        "qr_svg": "",
        "secret": "",
        **extra,
    }
    key = second_factor.user_key(session.claims, session.connector_id)
    if policy.allows("webauthn"):
        context["webauthn_options"] = passkeys.registration_options(
            relying_party(svc),
            key,
            session.claims.email or session.claims.username or session.claims.user_id,
            state,
            _registration_challenge(session),
        )
    if context["can_enroll"]:
        pending = factors.pending_totp(svc.storage, key, svc.clock.now())
        account = session.claims.email or session.claims.username or session.claims.user_id
        context["qr_svg"] = totp.qr_svg(totp.key_uri(pending.totp_secret, account, policy.issuer))
        context["secret"] = totp.grouped(pending.totp_secret)
    return context
