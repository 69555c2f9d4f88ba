"""Token revocation (RFC 7009) and introspection (RFC 7662).

Both endpoints authenticate their caller the way ``/token`` does. Revocation answers 200 for any
token that is not (or no longer) valid, so it reveals nothing (RFC 7009 §2.2); a token belonging
to another client is left alone. Introspection only describes tokens the caller may see: those
issued to it, or whose audience names it; anything else is reported ``{"active": false}``.

Access tokens are JWTs: revoking one records its ``jti`` until it would have expired, and
``/userinfo`` and introspection refuse it from then on. Revoking a refresh token deletes the
whole chain and revokes every access token issued under it (their ``grant_id``; RFC 7009 §2.1).
"""

from __future__ import annotations

import hmac
from datetime import UTC, datetime
from typing import Any

from flask import request
from werkzeug import Response

from dex_py import revocation
from dex_py.clients import authenticate_client
from dex_py.errors import InvalidRequest, UnsupportedTokenType
from dex_py.jose import tokens
from dex_py.oauth import issuance
from dex_py.oauth.token_endpoint import json_response, strict_form
from dex_py.ops.audit import audit
from dex_py.services import Services, services
from dex_py.storage.base import NotFoundError, RefreshToken

HINTS = ("", "access_token", "refresh_token")


def _token_param(form: dict[str, str]) -> tuple[str, str]:
    token = form.get("token", "")
    if not token:
        raise InvalidRequest("token is required")
    hint = form.get("token_type_hint", "")
    if hint not in HINTS:
        raise UnsupportedTokenType("unsupported token_type_hint")
    return token, hint


def _refresh_token(svc: Services, value: str) -> RefreshToken | None:
    """The stored chain whose *current* secret is ``value``, if any."""
    parts = issuance.split_refresh_token(value)
    if parts is None:
        return None
    token_id, secret = parts
    try:
        token = svc.storage.get_refresh_token(token_id)
    except NotFoundError:
        return None
    if not hmac.compare_digest(issuance.hash_secret(secret), token.token_hash):
        return None
    return token


def _access_claims(svc: Services, value: str, *, allow_expired: bool) -> dict[str, Any] | None:
    try:
        claims = tokens.verify(
            svc.keys,
            value,
            issuer=svc.issuer,
            audience=None,
            clock=svc.clock,
            typ="at+jwt",
            allow_expired=allow_expired,
        )
    except tokens.InvalidTokenError:
        return None
    return claims if isinstance(claims.get("jti"), str) else None


def _grant_id(claims: dict[str, Any]) -> str:
    value = claims.get("grant_id")
    return value if isinstance(value, str) else ""


def _audiences(claims: dict[str, Any]) -> list[str]:
    aud = claims.get("aud")
    return [aud] if isinstance(aud, str) else [a for a in aud or [] if isinstance(a, str)]


def _resolve(
    svc: Services, token: str, hint: str, *, allow_expired: bool
) -> tuple[str, Any] | None:
    """``("refresh_token", RefreshToken)`` or ``("access_token", claims)``; the hint only
    decides which kind is tried first (RFC 7009 §2.1, RFC 7662 §2.1)."""
    kinds = ("refresh_token", "access_token")
    if hint != "refresh_token":
        kinds = ("access_token", "refresh_token")
    for kind in kinds:
        found: Any = (
            _refresh_token(svc, token)
            if kind == "refresh_token"
            else _access_claims(svc, token, allow_expired=allow_expired)
        )
        if found is not None:
            return kind, found
    return None


def revoke_view() -> Response:
    svc = services()
    form = strict_form()
    client, _ = authenticate_client(svc.clients, request.headers.get("Authorization", ""), form)
    token, hint = _token_param(form)
    found = _resolve(svc, token, hint, allow_expired=True)
    if found is not None:
        kind, value = found
        if kind == "refresh_token" and value.client_id == client.id:
            revocation.revoke_grant(svc, value.id)
            audit("revocation", client=client.id, user=value.claims.user_id, kind=kind)
        elif kind == "access_token" and value.get("client_id") == client.id:
            exp = datetime.fromtimestamp(float(value.get("exp", 0)), UTC)
            if exp > svc.clock.now():
                svc.storage.revoke_access_token(str(value["jti"]), exp)
                audit("revocation", client=client.id, user=str(value.get("sub", "")), kind=kind)
    return json_response({})


ACCESS_CLAIMS = (
    "scope",
    "sub",
    "aud",
    "iss",
    "exp",
    "iat",
    "jti",
    "email",
    "email_verified",
    "groups",
    "name",
    "preferred_username",
)


def introspect_view() -> Response:
    svc = services()
    form = strict_form()
    client, _ = authenticate_client(svc.clients, request.headers.get("Authorization", ""), form)
    token, hint = _token_param(form)
    found = _resolve(svc, token, hint, allow_expired=False)
    body: dict[str, Any] = {"active": False}
    if found is not None and found[0] == "access_token":
        claims = found[1]
        owner = str(claims.get("client_id", ""))
        if not svc.storage.is_access_token_revoked(str(claims["jti"]), _grant_id(claims)) and (
            client.id == owner or client.id in _audiences(claims)
        ):
            body = {"active": True, "token_type": "access_token", "client_id": owner}
            body.update({k: claims[k] for k in ACCESS_CLAIMS if k in claims})
            if "name" in claims:
                body["username"] = claims["name"]
    elif found is not None:
        rt: RefreshToken = found[1]
        expired = rt.expiry is not None and rt.expiry <= svc.clock.now()
        if not expired and client.id == rt.client_id:
            body = {
                "active": True,
                "token_type": "refresh_token",
                "client_id": rt.client_id,
                "scope": " ".join(rt.scopes),
                "sub": tokens.encode_sub(rt.claims.user_id, rt.connector_id),
                "username": rt.claims.username,
                "iss": svc.issuer,
                "iat": int(rt.created_at.timestamp()),
            }
            if rt.expiry is not None:
                body["exp"] = int(rt.expiry.timestamp())
    return json_response(body)
