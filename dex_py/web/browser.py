"""Binding a login to the browser that started it, and CSRF tokens for our forms.

``/auth`` gives the browser a random secret in an HttpOnly, SameSite=Lax cookie and stores only
its SHA-256 in the auth request. Every later step of that login (connector choice, password form,
upstream callback, approval) must come from a browser presenting the same secret, so an attacker
cannot finish or hijack a login started elsewhere by sending its link to a victim (the class of
Dex advisory GHSA-vh7g-p26c-j2cw; RFC 9700 §4.2.4 / §4.7).

The secret present at ``/auth`` is adopted if well formed (so several tabs can log in at once),
which means it may have been planted: a sibling subdomain can set a cookie for us, and an
attacker who planted its own secret in the victim's browser could otherwise approve, from its
own browser, the login the victim finished for the attacker's request (and redeem the code with
its PKCE verifier). So when the user authenticates (a finished login, or an SSO session that
answers a request needing approval), the auth request is re-bound to a fresh secret sent only
in the response to that browser (``renew``); the approval page and the code's issuance then
need that one, which no other browser has.

CSRF tokens on the login forms are an HMAC of the auth request id under that browser secret
(``dex_py.web.csrf``): stateless, and useless to anyone who cannot read the victim's cookie.

``load_auth_request`` is how every step after ``/auth`` gets its request: known, not expired,
and bound to this browser.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from flask import request
from werkzeug import Response

from dex_py.errors import PageError
from dex_py.services import services
from dex_py.storage.base import AuthRequest, NotFoundError
from dex_py.web import csrf

COOKIE = "dexpy_browser"


def _cookie_path() -> str:
    return services().issuer_path or "/"


def browser_secret() -> str:
    return request.cookies.get(COOKIE, "")


def ensure_browser_secret() -> tuple[str, bool]:
    """The browser's secret, and whether it is new (must be set on the response)."""
    current = browser_secret()
    if 32 <= len(current) <= 64:
        return current, False
    return secrets.token_urlsafe(32), True


def renew() -> tuple[str, str]:
    """A fresh browser secret and its binding, for the browser that just authenticated."""
    secret = secrets.token_urlsafe(32)
    return secret, binding_of(secret)


def set_browser_cookie(resp: Response, secret: str) -> None:
    resp.set_cookie(
        COOKIE,
        secret,
        httponly=True,
        samesite="Lax",
        secure=services().secure_cookies,
        path=_cookie_path(),
    )


def binding_of(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def check_browser(auth_req: AuthRequest) -> None:
    """Refuse to continue a login from a browser other than the one that started it."""
    secret = browser_secret()
    if not secret or not hmac.compare_digest(binding_of(secret), auth_req.browser_binding):
        raise PageError(
            400,
            "Login session mismatch",
            "This login was started in another browser or your session cookie is missing. "
            "Please go back to the application and start again.",
        )


def csrf_token(auth_req_id: str) -> str:
    """The CSRF token of the login forms of one auth request (``web.csrf``)."""
    return csrf.csrf_token(browser_secret(), b"csrf:" + auth_req_id.encode())


def check_csrf(auth_req_id: str, presented: str) -> None:
    if not csrf.csrf_valid(browser_secret(), b"csrf:" + auth_req_id.encode(), presented):
        raise PageError(400, "Invalid form", "The form has expired. Please start again.")


_EXPIRED = PageError(
    400,
    "Login expired",
    "This login request is unknown or has expired. Please return to the application and "
    "start again.",
)


def load_auth_request(req_id: str) -> AuthRequest:
    """The stored auth request, checked for expiry and browser binding."""
    svc = services()
    if not req_id or len(req_id) > 128:
        raise _EXPIRED
    try:
        req = svc.storage.get_auth_request(req_id)
    except NotFoundError:
        raise _EXPIRED from None
    if req.expiry <= svc.clock.now():
        raise _EXPIRED
    check_browser(req)
    return req
