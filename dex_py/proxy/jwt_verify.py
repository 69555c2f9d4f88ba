"""Checking the JWTs the auth proxy receives: ID tokens at the callback and after a refresh
(OpenID Connect Core §3.1.3.7), bearer tokens of API clients, and logout tokens (OpenID Connect
Back-Channel Logout 1.0 §2.6).

The signing key is found by ``kid`` in the issuer's JWKS (``jwks.JwksCache``) and the algorithm
is the key's own (its ``alg``, or the one its type and curve allow): a token never chooses
``none``, an HMAC algorithm or another key type (RFC 8725 §3.1, §3.2). Time claims get a small
leeway for clock skew. Every failure is ``TokenInvalid`` with a short reason for the log.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from collections.abc import Collection
from typing import Any

from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, OKPKey, RSAKey

from dex_py.proxy.jwks import JwksCache

LEEWAY = 30.0
LOGOUT_MAX_AGE = 600.0  # a logout token older than this is refused (§2.6: check iat)
LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout"
_RSA_ALGS = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"})
_EC_ALGS = {"P-256": "ES256", "P-384": "ES384", "P-521": "ES512", "secp256k1": "ES256K"}

PublicKey = RSAKey | ECKey | OKPKey


class TokenInvalid(ValueError):
    """A token the proxy does not accept; the message says why (never the token)."""


def _b64json(segment: str) -> dict[str, Any]:
    try:
        raw = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
        value = json.loads(raw)
    except (binascii.Error, ValueError) as exc:
        raise TokenInvalid("not a JWT") from exc
    if not isinstance(value, dict):
        raise TokenInvalid("not a JWT")
    return value


def algorithm_for(key: PublicKey, header_alg: str) -> str:
    """The one algorithm ``key`` verifies with; TokenInvalid when the header names another."""
    fixed = key.get("alg")
    if fixed:
        allowed: Collection[str] = {str(fixed)}
    elif isinstance(key, RSAKey):
        allowed = _RSA_ALGS
    elif isinstance(key, ECKey):
        allowed = {_EC_ALGS.get(str(key.get("crv")), "")}
    else:
        allowed = {"EdDSA"}
    if header_alg not in allowed:
        raise TokenInvalid(f"alg {header_alg!r} does not fit the signing key")
    return header_alg


async def verify_signature(token: str, jwks: JwksCache) -> tuple[dict[str, Any], dict[str, Any]]:
    """(header, claims) of a compact JWS signed by one of the issuer's keys."""
    if token.count(".") != 2:
        raise TokenInvalid("not a compact JWT")
    header = _b64json(token.split(".", 1)[0])
    alg = str(header.get("alg", ""))
    if alg.lower() == "none" or alg.startswith("HS") or not alg:
        raise TokenInvalid(f"alg {alg or 'missing'} refused")
    key = await jwks.key_for(str(header.get("kid") or ""))
    if key is None:
        raise TokenInvalid("no issuer key with this kid")
    fixed_alg = algorithm_for(key, alg)
    try:
        verified = jws.deserialize_compact(token, key, algorithms=[fixed_alg])
    except (JoseError, ValueError) as exc:
        raise TokenInvalid("bad signature") from exc
    try:
        claims = json.loads(verified.payload)
    except ValueError as exc:
        raise TokenInvalid("claims are not JSON") from exc
    if not isinstance(claims, dict):
        raise TokenInvalid("claims are not an object")
    return header, claims


def check_claims(
    claims: dict[str, Any],
    *,
    issuer: str,
    audiences: Collection[str],
    now: float | None = None,
    require_exp: bool = True,
) -> None:
    current = time.time() if now is None else now
    if claims.get("iss") != issuer:
        raise TokenInvalid("wrong issuer")
    aud = claims.get("aud")
    token_audiences = aud if isinstance(aud, list) else [aud]
    if not any(a in audiences for a in token_audiences if isinstance(a, str)):
        raise TokenInvalid("wrong audience")
    exp = claims.get("exp")
    if exp is None and require_exp:
        raise TokenInvalid("no exp")
    if exp is not None and (not isinstance(exp, int | float) or exp + LEEWAY < current):
        raise TokenInvalid("expired")
    nbf = claims.get("nbf")
    if nbf is not None and (not isinstance(nbf, int | float) or nbf - LEEWAY > current):
        raise TokenInvalid("not yet valid")
    if not isinstance(claims.get("sub"), str) and "sid" not in claims:
        raise TokenInvalid("no sub")


async def verify_id_token(
    token: str, jwks: JwksCache, *, issuer: str, client_id: str, nonce: str | None
) -> dict[str, Any]:
    """An ID token's claims (Core §3.1.3.7); ``nonce`` is checked when given (the login)."""
    _, claims = await verify_signature(token, jwks)
    check_claims(claims, issuer=issuer, audiences=(client_id,))
    aud = claims.get("aud")
    if isinstance(aud, list) and len(aud) > 1 and claims.get("azp") != client_id:
        raise TokenInvalid("azp is not this client")
    if not isinstance(claims.get("sub"), str) or not claims["sub"]:
        raise TokenInvalid("no sub")
    if nonce is not None and claims.get("nonce") != nonce:
        raise TokenInvalid("nonce mismatch")
    return claims


async def verify_bearer(
    token: str, jwks: JwksCache, *, issuer: str, audiences: Collection[str]
) -> dict[str, Any]:
    _, claims = await verify_signature(token, jwks)
    check_claims(claims, issuer=issuer, audiences=audiences)
    if not isinstance(claims.get("sub"), str) or not claims["sub"]:
        raise TokenInvalid("no sub")
    return claims


async def verify_logout_token(
    token: str, jwks: JwksCache, *, issuer: str, client_id: str
) -> dict[str, Any]:
    """A logout token's claims (Back-Channel Logout 1.0 §2.6)."""
    header, claims = await verify_signature(token, jwks)
    typ = str(header.get("typ", "")).lower()
    if typ and typ not in ("logout+jwt", "application/logout+jwt", "jwt"):
        raise TokenInvalid("wrong typ")
    check_claims(claims, issuer=issuer, audiences=(client_id,), require_exp=False)
    iat = claims.get("iat")
    if not isinstance(iat, int | float):
        raise TokenInvalid("no iat")
    if not time.time() - LOGOUT_MAX_AGE <= iat <= time.time() + LEEWAY:
        raise TokenInvalid("iat too old or in the future")
    events = claims.get("events")
    if not isinstance(events, dict) or not isinstance(events.get(LOGOUT_EVENT), dict):
        raise TokenInvalid("no back-channel logout event")
    if "nonce" in claims:
        raise TokenInvalid("a logout token carries no nonce")
    if not claims.get("sub") and not claims.get("sid"):
        raise TokenInvalid("neither sub nor sid")
    if not isinstance(claims.get("jti"), str):
        raise TokenInvalid("no jti")
    return claims
