"""The OpenID Connect / OAuth 2.0 endpoints, as one blueprint under the issuer's path.

The URL map below is the whole public contract (DESIGN §3); the views live in one module per
concern.
"""

from __future__ import annotations

from flask import Blueprint, Flask

from dex_py.oauth import (
    approval,
    authorize,
    device_authorization,
    device_verify,
    discovery,
    login,
    logout,
    token_endpoint,
    token_lifecycle,
    userinfo,
)
from dex_py.ops import health

CORS_ENDPOINTS = (
    "discovery",
    "oauth_metadata",
    "keys",
    "token",
    "userinfo",
    "revoke",
    "introspect",
    "device_code",
)


def init_oauth(app: Flask, issuer_path: str) -> Blueprint:
    bp = Blueprint("oauth", __name__, url_prefix=issuer_path or None)
    route = bp.add_url_rule
    # {issuer} and {issuer}/ both answer: no redirect built from the request's scheme and
    # host, which behind a TLS-terminating proxy would send the browser to http://.
    route("/", "landing", discovery.landing_view, strict_slashes=False)
    route("/.well-known/openid-configuration", "discovery", discovery.discovery_view)
    route("/.well-known/oauth-authorization-server", "oauth_metadata", discovery.discovery_view)
    route("/keys", "keys", discovery.keys_view)
    route("/auth", "auth", authorize.authorize_view, methods=["GET", "POST"])
    route("/auth/<connector_id>", "auth_connector", login.connector_view, methods=["GET", "POST"])
    route(
        "/auth/<connector_id>/login", "auth_password", login.password_view, methods=["GET", "POST"]
    )
    route("/callback", "callback", login.callback_view, methods=["GET", "POST"])
    route(
        "/callback/<connector_id>",
        "callback_connector",
        login.callback_view,
        methods=["GET", "POST"],
    )
    route("/approval", "approval", approval.approval_view, methods=["GET", "POST"])
    route("/token", "token", token_endpoint.token_view, methods=["POST"])
    route("/token/revoke", "revoke", token_lifecycle.revoke_view, methods=["POST"])
    route("/token/introspect", "introspect", token_lifecycle.introspect_view, methods=["POST"])
    route("/device/code", "device_code", device_authorization.device_code_view, methods=["POST"])
    route("/device", "device", device_verify.device_view)
    route(
        "/device/auth/verify_code",
        "device_verify_code",
        device_verify.verify_code_view,
        methods=["POST"],
    )
    route("/device/callback", "device_callback", device_verify.callback_view)
    route("/userinfo", "userinfo", userinfo.userinfo_view, methods=["GET", "POST"])
    route("/logout", "logout", logout.logout_view, methods=["GET", "POST"])
    route("/healthz", "healthz", health.healthz_view)
    route("/healthz/live", "healthz_live", health.live_view)
    route("/healthz/ready", "healthz_ready", health.ready_view)
    app.register_blueprint(bp)
    if issuer_path:
        # RFC 8414 §3.1: for an issuer with a path, the metadata lives at the host's root with
        # the issuer's path appended.
        app.add_url_rule(
            f"/.well-known/oauth-authorization-server{issuer_path}",
            "oauth_metadata_root",
            discovery.discovery_view,
        )
    return bp
