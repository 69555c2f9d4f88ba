"""Who is calling the admin API: a bearer access token (RFC 6750 §2.1) from the
client_credentials grant with the scope ``dex-py:admin``, checked on every request.

The token is the JWT our token endpoint issues (``oauth.machine_grants``; RFC 9068 profile,
``typ: at+jwt``) and is verified here with our own keys, without asking the token endpoint:

- the signature with ``svc.keys``, the issuer, ``exp``/``nbf``/``iat`` (``jose.tokens.verify``);
- it is a client credentials token (``gty``), about the client itself (``sub`` equals
  ``client_id``), and addressed to it alone (``aud`` is that client id and nothing else, no
  ``azp`` of another party): a token minted for a peer service (a cross-client audience) would
  let that peer act as admin, so it is refused;
- its ``scope`` holds ``dex-py:admin`` (otherwise 403 ``insufficient_scope``, RFC 6750 §3.1);
- its ``jti`` has not been revoked (``/token/revoke``);
- the client still exists and is still listed in ``admin.clients``: removing it from either
  locks its tokens out at once, without waiting for them to expire.

Every refusal is an audit line (event ``admin_api``, the reason; a log line, not kept in
storage, so that anonymous requests cannot fill the audit log). The token is only read from
the ``Authorization`` header: never from the query string (URLs
end up in logs) nor a form body (the API speaks JSON).
"""

from __future__ import annotations

from typing import Any

from flask import g, request

from dex_py.admin_api.problems import (
    Problem,
    bad_request,
    insufficient_scope,
    invalid_token,
    no_token,
)
from dex_py.config.admin import ADMIN_SCOPE
from dex_py.jose import tokens
from dex_py.management.actor import Actor
from dex_py.ops.audit import FAILURE, audit
from dex_py.services import Services

CLIENT_CREDENTIALS = "client_credentials"


def bearer_token() -> str:
    """The token of ``Authorization: Bearer <token>``; ``Problem`` 401 when there is none."""
    if "access_token" in request.args:
        raise bad_request("access tokens must not be sent in the query string")
    header = request.headers.get("Authorization", "")
    if not header:
        raise no_token()
    scheme, _, value = header.partition(" ")
    value = value.strip()
    if scheme.lower() != "bearer" or not value or " " in value:
        raise invalid_token("expected Authorization: Bearer <access token>")
    return value


def _audience(claims: dict[str, Any]) -> list[str]:
    aud = claims.get("aud")
    if isinstance(aud, str):
        return [aud]
    if isinstance(aud, list) and all(isinstance(a, str) for a in aud):
        return list(aud)
    return []


def verify_admin_token(svc: Services, token: str) -> Actor:
    """The actor a valid admin token stands for, else a ``Problem`` (401 or 403)."""
    try:
        claims = tokens.verify(
            svc.keys, token, issuer=svc.issuer, audience=None, clock=svc.clock, typ="at+jwt"
        )
    except tokens.InvalidTokenError as exc:
        raise invalid_token(f"invalid access token: {exc}") from None
    client_id = claims.get("client_id")
    jti = claims.get("jti")
    if not isinstance(client_id, str) or not client_id or not isinstance(jti, str) or not jti:
        raise invalid_token("not an access token of this server")
    if claims.get("gty") != CLIENT_CREDENTIALS or claims.get("sub") != client_id:
        raise insufficient_scope("the admin API takes client credentials tokens only", ADMIN_SCOPE)
    if _audience(claims) != [client_id] or claims.get("azp", client_id) != client_id:
        raise invalid_token("the access token is addressed to another party")
    scope = claims.get("scope")
    if not isinstance(scope, str) or ADMIN_SCOPE not in scope.split(" "):
        raise insufficient_scope(f"the access token lacks the scope {ADMIN_SCOPE}", ADMIN_SCOPE)
    if svc.storage.is_access_token_revoked(jti):
        raise invalid_token("the access token has been revoked")
    if svc.clients.get(client_id) is None:
        raise invalid_token("the token's client no longer exists")
    if not svc.admin_policy.api_client(client_id):
        raise insufficient_scope(
            "the token's client is no longer an admin API client (admin.clients)", ADMIN_SCOPE
        )
    return Actor(kind="api", id=client_id)


def authenticate_request(svc: Services) -> None:
    """Run before every view but the OpenAPI document: ``Problem`` when the caller may not
    use the API (and an audit line saying why, never the token), else its actor for
    ``current_actor``."""
    try:
        g.admin_api_actor = verify_admin_token(svc, bearer_token())
    except Problem as refused:
        audit(
            "admin_api",
            FAILURE,
            status=refused.status,
            reason=refused.detail,
            method=request.method,
            path=request.path,
        )
        raise


def current_actor() -> Actor:
    """The admin client making the current request."""
    actor: Actor = g.admin_api_actor
    return actor
