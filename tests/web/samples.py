"""Sample page contexts and a tiny Flask app that renders every page (tests and screenshots)."""

from __future__ import annotations

from typing import Any

from flask import Flask, request

from dex_py.config import FrontendConfig
from dex_py.web.pages import init_web, render_page

CSP = (
    "default-src 'self'; img-src 'self' data: https:; style-src 'self'; script-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
FORM_POST_NONCE = "bm9uY2UtZm9yLXRlc3Rz"

_PASSKEY_OPTIONS = '{"challenge": "Y2hhbGxlbmdl", "allowCredentials": []}'


def _sample_qr() -> str:
    from dex_py.mfa import totp

    return totp.qr_svg("otpauth://totp/dex-py:jane@example.com?secret=JBSWY3DPEHPK3PXP")


PAGES: dict[str, tuple[str, int, dict[str, Any]]] = {
    "login": (
        "login.html",
        200,
        {
            "connectors": [
                {"name": "Corporate LDAP", "type": "ldap", "url": "/dex/auth/ldap"},
                {"name": "GitHub", "type": "github", "url": "/dex/auth/github"},
                {"name": "Google", "type": "oidc", "url": "/dex/auth/google"},
            ],
            "unavailable": ["Google"],
            "error": None,
        },
    ),
    "password": (
        "password.html",
        200,
        {
            "post_url": "/dex/auth/ldap/login?state=abc",
            "username_prompt": "Email Address",
            "login": "",
            "invalid": False,
            "back_url": "/dex/auth",
            "csrf_token": "csrf-123",
            "connector_name": "Corporate LDAP",
        },
    ),
    "password_invalid": (
        "password.html",
        401,
        {
            "post_url": "/dex/auth/ldap/login?state=abc",
            "username_prompt": "Email Address",
            "login": "jane@example.com",
            "invalid": True,
            "back_url": "/dex/auth",
            "csrf_token": "csrf-123",
            "connector_name": "Corporate LDAP",
        },
    ),
    "approval": (
        "approval.html",
        200,
        {
            "client_name": "Kubernetes Dashboard",
            "client_logo_url": "",
            "scopes": [
                "View basic profile information",
                "View your email address",
                "View your groups",
                "Have offline access",
            ],
            "post_url": "/dex/approval",
            "req": "req-42",
            "csrf_token": "csrf-123",
            "user_name": "Jane Doe",
            "user_email": "jane@example.com",
        },
    ),
    "oob": ("oob.html", 200, {"code": "x7k2-pq9d-4mzv"}),
    "device": (
        "device.html",
        200,
        {
            "post_url": "/dex/device/auth/verify_code",
            "user_code": "BCDF-GHJK",
            "error": "",
            "csrf_token": "csrf-123",
        },
    ),
    "device_wrong": (
        "device.html",
        400,
        {
            "post_url": "/dex/device/auth/verify_code",
            "user_code": "BCDF-GHJX",
            "error": "The code is wrong or has expired. Check the code shown on your device.",
            "csrf_token": "csrf-123",
        },
    ),
    "device_approved": (
        "device_done.html",
        200,
        {"approved": True, "client_name": "Kubernetes (kubectl)"},
    ),
    "device_denied": (
        "device_done.html",
        403,
        {"approved": False, "client_name": "Kubernetes (kubectl)"},
    ),
    "error": (
        "error.html",
        400,
        {
            "title": "Bad Request",
            "message": "The login request has expired. Go back to the application and try again.",
        },
    ),
    "logout": (
        "logout.html",
        200,
        {
            "post_url": "/dex/logout",
            "csrf_token": "csrf-123",
            "client_name": "Kubernetes Dashboard",
            "hidden": [("state", "s-1")],
        },
    ),
    "landing": (
        "landing.html",
        200,
        {
            "issuer": "https://dex.example.com/dex",
            "discovery_url": "https://dex.example.com/dex/.well-known/openid-configuration",
            "keys_url": "https://dex.example.com/dex/keys",
            "device_url": "https://dex.example.com/dex/device",
        },
    ),
    "logged_out": (
        "logged_out.html",
        200,
        {"client_name": "Kubernetes Dashboard", "return_url": "https://app.example.com/"},
    ),
    "form_post": (
        "form_post.html",
        200,
        {
            "redirect_uri": "/received",
            "params": [("code", "c-123"), ("state", "st<&>\"'")],
            "csp_nonce": FORM_POST_NONCE,
        },
    ),
    "mfa_verify": (
        "mfa_verify.html",
        401,
        {
            "post_url": "/dex/mfa?req=abc",
            "csrf_token": "csrf-123",
            "user_name": "Jane Doe",
            "recovery": True,
            "codes": True,
            "webauthn_options": _PASSKEY_OPTIONS,
            "invalid": True,
            "locked": False,
        },
    ),
    "mfa_enroll": (
        "mfa_enroll.html",
        200,
        {
            "post_url": "/dex/mfa/enroll?req=abc",
            "csrf_token": "csrf-123",
            "account": "jane@example.com",
            "qr_svg": _sample_qr(),
            "secret": "JBSW Y3DP EHPK 3PXP JBSW Y3DP EHPK 3PXP",
            "webauthn_options": _PASSKEY_OPTIONS,
            "invalid": False,
            "locked": False,
        },
    ),
    "mfa_recovery_codes": (
        "mfa_recovery_codes.html",
        200,
        {"codes": ["abcde-fghjk"] * 10, "continue_url": "/dex/approval?req=abc"},
    ),
    "mfa_manage": (
        "mfa_manage.html",
        200,
        {
            "post_url": "/dex/mfa/manage",
            "csrf_token": "csrf-123",
            "user_name": "Jane Doe",
            "totp_enrolled": True,
            "recovery_left": 9,
            "passkeys": [{"id": "Y3JlZA", "name": "laptop"}],
            "can_enroll": False,
            "qr_svg": "",
            "secret": "",
            "notice": "The passkey was removed.",
            "codes": [],
            "invalid": False,
            "webauthn_options": _PASSKEY_OPTIONS,
        },
    ),
}


def make_page_app(
    frontend: FrontendConfig | None = None, issuer_path: str = "/dex", csp: bool = True
) -> Flask:
    """A Flask app with ``init_web`` that serves ``<issuer_path>/page/<name>`` for each sample.

    With ``csp`` every response carries the production CSP (form_post.html: a nonce'd one), and
    ``/received`` records the form_post submission as a small page.
    """
    app = Flask(__name__, static_folder=None)
    init_web(app, frontend or FrontendConfig(), issuer_path)
    app.config["received"] = []

    @app.get(f"{issuer_path}/page/<name>")
    def page(name: str) -> Any:
        template, status, context = PAGES[name]
        return render_page(template, status, **context)

    @app.post("/received")
    def received() -> Any:
        app.config["received"].append(dict(request.form))
        return render_page("logged_out.html")

    @app.get("/inline-style")
    def inline_style() -> Any:  # a CSP violation on purpose: proves the browser test notices
        return '<!doctype html><html lang="en"><p style="color: red">x</p></html>'

    if csp:

        @app.after_request
        def add_csp(response: Any) -> Any:
            policy = CSP
            if request.path.endswith("/page/form_post"):
                policy = CSP.replace("script-src 'self'", f"script-src 'nonce-{FORM_POST_NONCE}'")
            response.headers["Content-Security-Policy"] = policy
            return response

    return app
