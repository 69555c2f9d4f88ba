"""Discovery (OpenID Connect Discovery 1.0 §3, RFC 8414 §2) and the JWKS document (RFC 7517).

Both are built once per process and served from memory with ``Cache-Control`` so clients and
caches do not ask on every token verification.
"""

from __future__ import annotations

import json

from werkzeug import Response

from dex_py import scopes as sc
from dex_py.config.model import DEVICE_CODE_GRANT
from dex_py.jose.client_assertions import ALGORITHMS as _ASSERTION_ALGORITHMS
from dex_py.oauth.token_endpoint import GRANTS
from dex_py.second_factor import ACR_VALUES_SUPPORTED
from dex_py.services import Services, services
from dex_py.web.pages import render_page
from dex_py.web.server_cache import allow_server_cache

CLAIMS_SUPPORTED = [
    "iss",
    "sub",
    "aud",
    "iat",
    "exp",
    "azp",
    "nonce",
    "at_hash",
    "c_hash",
    "auth_time",
    "email",
    "email_verified",
    "name",
    "preferred_username",
    "groups",
    "federated_claims",
    "sid",
    "amr",
    "acr",
]
AUTH_METHODS = ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"]
AUTH_SIGNING_ALGS = list(_ASSERTION_ALGORITHMS)  # for private_key_jwt (RFC 8414 §2)


def discovery_document(svc: Services) -> dict:
    cfg = svc.config
    response_types = sorted({" ".join(sorted(t.split())) for t in cfg.oauth2.response_types})
    grant_types = [g for g in cfg.oauth2.grant_types if g in _implemented_grants()]
    return {
        "issuer": svc.issuer,
        "authorization_endpoint": svc.url("/auth"),
        "token_endpoint": svc.url("/token"),
        "jwks_uri": svc.url("/keys"),
        "userinfo_endpoint": svc.url("/userinfo"),
        "response_types_supported": response_types,
        "response_modes_supported": ["query", "fragment", "form_post"],
        "grant_types_supported": grant_types,
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": [svc.keys.algorithm],
        "code_challenge_methods_supported": ["S256", "plain"],
        "scopes_supported": [*sc.KNOWN],
        "token_endpoint_auth_methods_supported": AUTH_METHODS,
        "token_endpoint_auth_signing_alg_values_supported": AUTH_SIGNING_ALGS,
        "revocation_endpoint": svc.url("/token/revoke"),
        "revocation_endpoint_auth_methods_supported": AUTH_METHODS,
        "revocation_endpoint_auth_signing_alg_values_supported": AUTH_SIGNING_ALGS,
        "introspection_endpoint": svc.url("/token/introspect"),
        "introspection_endpoint_auth_methods_supported": AUTH_METHODS,
        "introspection_endpoint_auth_signing_alg_values_supported": AUTH_SIGNING_ALGS,
        "claims_supported": CLAIMS_SUPPORTED,
        "acr_values_supported": list(ACR_VALUES_SUPPORTED),
        "request_parameter_supported": False,
        "request_uri_parameter_supported": False,
        "claims_parameter_supported": False,
        "end_session_endpoint": svc.url("/logout"),
        "frontchannel_logout_supported": False,
        "backchannel_logout_supported": True,
        "backchannel_logout_session_supported": True,
    } | _device_metadata(svc, grant_types)


def _device_metadata(svc: Services, grant_types: list[str]) -> dict[str, str]:
    """RFC 8628 §4: the device authorization endpoint, while the device code grant is on."""
    if DEVICE_CODE_GRANT not in grant_types:
        return {}
    return {"device_authorization_endpoint": svc.url("/device/code")}


def _implemented_grants() -> set[str]:
    return set(GRANTS)


_CACHE_CONTROL = "public, max-age=3600"


def discovery_view() -> Response:
    svc = services()
    body = svc.memo.get("discovery")
    if body is None:
        body = json.dumps(discovery_document(svc), separators=(",", ":")).encode()
        svc.memo["discovery"] = body
    resp = Response(body, mimetype="application/json")
    resp.headers["Cache-Control"] = _CACHE_CONTROL
    allow_server_cache()
    return resp


def keys_view() -> Response:
    svc = services()
    resp = Response(svc.keys.jwks_json(), mimetype="application/json")
    # Cacheable until the next rotation, when a new key starts signing.
    max_age = max(0, min(svc.keys.jwks_max_age(), 3600))
    resp.headers["Cache-Control"] = f"public, max-age={max_age}, must-revalidate"
    allow_server_cache()
    return resp


def landing_view() -> Response:
    """``GET {issuer}``: a small page saying what this server is, with links, instead of a 404
    for someone who opens the issuer URL in a browser."""
    svc = services()
    device_on = DEVICE_CODE_GRANT in svc.config.oauth2.grant_types
    return render_page(
        "landing.html",
        issuer=svc.issuer,
        discovery_url=svc.url("/.well-known/openid-configuration"),
        keys_url=svc.url("/keys"),
        device_url=svc.url("/device") if device_on else "",
    )
