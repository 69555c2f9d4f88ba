"""The UserInfo endpoint (OIDC Core §5.3), protected by a bearer access token (RFC 6750 §2).

The token comes from the ``Authorization: Bearer`` header or, for POST, the form body
(RFC 6750 §2.2) — never both, and never the query string (secrets in URLs end up in logs).
The JWT is verified against our own keys, and refused when its ``jti`` has been revoked.
"""

from __future__ import annotations

from flask import request
from werkzeug import Response

from dex_py.errors import InvalidRequest, InvalidToken
from dex_py.jose import tokens
from dex_py.oauth.token_endpoint import json_response
from dex_py.services import services

USERINFO_CLAIMS = (
    "sub",
    "email",
    "email_verified",
    "name",
    "preferred_username",
    "groups",
    "federated_claims",
)


def bearer_token() -> str:
    header = request.headers.get("Authorization", "")
    from_body = request.form.get("access_token", "") if request.method == "POST" else ""
    if "access_token" in request.args:
        raise InvalidRequest("access tokens must not be sent in the query string")
    if header:
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise InvalidToken("expected a Bearer token")
        if from_body:
            raise InvalidRequest("send the access token only once")
        return value.strip()
    if from_body:
        if request.mimetype != "application/x-www-form-urlencoded":
            raise InvalidRequest("the body must be form-encoded")
        return from_body
    raise InvalidToken("an access token is required")


def userinfo_view() -> Response:
    svc = services()
    token = bearer_token()
    try:
        claims = tokens.verify(
            svc.keys, token, issuer=svc.issuer, audience=None, clock=svc.clock, typ="at+jwt"
        )
    except tokens.InvalidTokenError as exc:
        raise InvalidToken(f"invalid access token: {exc}") from None
    jti = claims.get("jti")
    if not isinstance(jti, str) or not jti:
        raise InvalidToken("not an access token")
    if claims.get("gty") == "client_credentials":
        raise InvalidToken("the access token has no end user (client credentials)")
    grant_id = claims.get("grant_id")
    if svc.storage.is_access_token_revoked(jti, grant_id if isinstance(grant_id, str) else ""):
        raise InvalidToken("the access token has been revoked")
    return json_response({k: claims[k] for k in USERINFO_CLAIMS if k in claims})
