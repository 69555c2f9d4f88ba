"""Reading an ID token's claims on the client (the JWS payload, RFC 7515 §7.1), without
verifying it: the token came from the issuer's token endpoint over the connection the plugin
checked, and the API server verifies it. Used for ``exp`` (the cache's expiry) and ``nonce``."""

from __future__ import annotations

import base64
import binascii
import json


def id_token_claims(id_token: str) -> dict[str, object]:
    try:
        payload = id_token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError, binascii.Error):
        raise ValueError("the issuer's ID token is not a JWT") from None
    if not isinstance(claims, dict):
        raise ValueError("the issuer's ID token payload is not a JSON object")
    return claims


def id_token_expiry(id_token: str) -> int:
    """The ``exp`` claim (epoch seconds) of an ID token."""
    exp = id_token_claims(id_token).get("exp")
    if not isinstance(exp, int) or isinstance(exp, bool):
        raise ValueError("the issuer's ID token has no integer exp claim")
    return exp
