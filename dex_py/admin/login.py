"""How an admin logs in to the console: through dex-py itself, with any connector.

The console is a relying party of its own issuer. ``console_client`` is a built-in public
client (``dex-py-admin``, PKCE S256, redirect ``{issuer}/admin/callback``, no approval page:
it is part of the server), added read-only by ``create_app`` when the ``admin`` section names
anyone. ``/admin/login`` sends the browser to ``{issuer}/auth`` with a fresh ``state``,
``nonce`` and PKCE challenge, kept in a short-lived HttpOnly cookie of that browser;
``/admin/callback`` checks ``state``, redeems the code in-process with the same checks as the
token endpoint (``dex_py.auth_codes``: single use, client, redirect URI, PKCE, expiry; the code
is marked used in the same transaction) and the ``nonce``, and requires that the code was
issued in this browser's single sign-on session. Then the console session cookie is set
(``console_session``). Whether the user is an admin is checked on every request after that
(``access``), not here.

``/admin/logout`` ends the console session; the page after it offers the issuer's end-session
endpoint too, which ends the SSO session (and with it every console session on it).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import secrets
from dataclasses import replace
from urllib.parse import urlencode

from flask import request
from werkzeug import Response

from dex_py.admin import console_session
from dex_py.auth_codes import MAX_CODE_LENGTH, Replayed, check_redemption
from dex_py.config.admin import CONSOLE_CLIENT_ID
from dex_py.errors import InvalidGrant, PageError
from dex_py.jose.tokens import encode_sub
from dex_py.management.actor import Actor, record
from dex_py.ops.audit import FAILURE, audit
from dex_py.services import Services, services
from dex_py.storage.base import AuthCode, Client, NotFoundError, Session
from dex_py.web.pages import render_page
from dex_py.web.session_cookie import current_with_secret

CLIENT_ID = CONSOLE_CLIENT_ID
SCOPES = "openid email profile groups"
LOGIN_COOKIE = "dexpy_admin_login"
LOGIN_COOKIE_SECONDS = 600
_ERROR_CODE = re.compile(r"[a-z_]{1,64}")


def callback_url(issuer: str) -> str:
    return f"{issuer}/admin/callback"


def console_client(issuer: str) -> Client:
    """The console's own client: public (PKCE), its one redirect URI under the issuer."""
    return Client(
        id=CLIENT_ID,
        secret_hash="",
        redirect_uris=(callback_url(issuer),),
        public=True,
        name="dex-py admin console",
        grant_types=("authorization_code",),
        token_endpoint_auth_method="none",
        skip_approval=True,
    )


def actor_of(session: Session) -> Actor:
    """The admin of a console session, as the audit log names them."""
    claims = session.claims
    return Actor(
        kind="console", id=encode_sub(claims.user_id, session.connector_id), email=claims.email
    )


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def safe_next(svc: Services, target: str) -> str:
    """``target`` if it is a console page of this server, else the overview."""
    home = f"{svc.issuer_path}/admin"
    if target == home or (
        target.startswith(home + "/")
        and "//" not in target
        and "/." not in target
        and "\\" not in target
        and not target.startswith(home + "/callback")
        and len(target) <= 512
    ):
        return target
    return home


def login_view() -> Response:
    """Start a login at the issuer's ``/auth`` for the console client."""
    svc = services()
    if not (svc.admin_policy.teams or svc.admin_policy.emails):
        raise PageError(
            403,
            "Console turned off",
            "Nobody may use the admin console: the configuration names no admins "
            "(admin.teams, admin.emails).",
        )
    if not svc.session_policy.enabled:
        raise PageError(
            503,
            "Console unavailable",
            "The admin console rides on single sign-on sessions, which are turned off "
            "(session.enabled: false).",
        )
    state = secrets.token_urlsafe(24)
    nonce = secrets.token_urlsafe(24)
    verifier = secrets.token_urlsafe(48)
    challenge = _b64(hashlib.sha256(verifier.encode()).digest())
    params = {
        "client_id": CLIENT_ID,
        "redirect_uri": callback_url(svc.issuer),
        "response_type": "code",
        "scope": SCOPES,
        "state": state,
        "nonce": nonce,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    if request.args.get("prompt") == "login":
        params["prompt"] = "login"
    pending = {
        "state": state,
        "nonce": nonce,
        "verifier": verifier,
        "next": safe_next(svc, request.args.get("next", "")),
    }
    resp = Response(status=302)
    resp.headers["Location"] = f"{svc.issuer}/auth?{urlencode(params)}"
    resp.set_cookie(
        LOGIN_COOKIE,
        _b64(json.dumps(pending).encode()),
        max_age=LOGIN_COOKIE_SECONDS,
        httponly=True,
        samesite="Lax",
        secure=svc.secure_cookies,
        path=console_session.cookie_path(svc),
    )
    return resp


def _pending() -> dict[str, str]:
    raw = request.cookies.get(LOGIN_COOKIE, "")
    try:
        pending = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
    except (binascii.Error, ValueError):
        pending = None
    keys = ("state", "nonce", "verifier", "next")
    if not isinstance(pending, dict) or not all(isinstance(pending.get(k), str) for k in keys):
        raise _failed("This login was not started here, or took too long. Please try again.")
    return pending


def _failed(message: str) -> PageError:
    return PageError(400, "Console login failed", message)


def callback_view() -> Response:
    """The end of the console's login: check it, redeem the code, open the console session."""
    svc = services()
    error = request.args.get("error", "")
    if error:
        # only a well-formed error code is shown: nothing else of the URL reaches the page
        shown = error if _ERROR_CODE.fullmatch(error) else "error"
        raise _failed(f"The login did not finish ({shown}). Please try again.")
    pending = _pending()
    if not hmac.compare_digest(pending["state"], request.args.get("state", "")):
        raise _failed("This login was not started in this browser. Please try again.")
    code = _redeem(svc, request.args.get("code", ""), pending["verifier"])
    if not hmac.compare_digest(code.nonce, pending["nonce"]):
        raise _failed("The login does not belong to this request. Please try again.")
    found = current_with_secret(svc)
    if found is None or not code.session_id or found[0].id != code.session_id:
        raise _failed("Your single sign-on session is missing. Please log in again.")
    session, sso_secret = found
    actor = actor_of(session)
    record(svc, actor, "console.login", "user", actor.email or actor.id)
    resp = Response(status=303 if request.method == "POST" else 302)
    resp.headers["Location"] = safe_next(svc, pending["next"])
    console_session.set_cookie(
        svc, resp, console_session.seal(session.id, sso_secret, svc.clock.now())
    )
    resp.delete_cookie(LOGIN_COOKIE, path=console_session.cookie_path(svc))
    return resp


def _redeem(svc: Services, code_value: str, verifier: str) -> AuthCode:
    """Redeem the console's code from storage, as ``/token`` would (nothing is issued)."""
    if not code_value or len(code_value) > MAX_CODE_LENGTH:
        raise _failed("The login answer has no valid code. Please try again.")
    now = svc.clock.now()
    redirect_uri = callback_url(svc.issuer)

    def redeem(code: AuthCode) -> AuthCode:
        check_redemption(
            code, client_id=CLIENT_ID, redirect_uri=redirect_uri, verifier=verifier, now=now
        )
        return replace(code, used_at=now)

    try:
        return svc.storage.redeem_auth_code(code_value, redeem, lambda _code: None)
    except (NotFoundError, InvalidGrant, Replayed) as exc:
        reason = "code already used" if isinstance(exc, Replayed) else str(exc) or "unknown code"
        audit("admin", FAILURE, client=CLIENT_ID, action="console.login", reason=reason)
        raise _failed("The login could not be completed. Please try again.") from None


def logout_view() -> Response:
    """End the console session (POST, CSRF-checked by ``access``)."""
    svc = services()
    resp = render_page(
        "admin/logged_out.html",
        login_url=f"{svc.issuer}/admin/login?prompt=login",
        end_session_url=f"{svc.issuer}/logout",
    )
    console_session.clear_cookie(svc, resp)
    return resp
