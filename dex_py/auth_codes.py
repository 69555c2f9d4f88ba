"""The checks an authorization code must pass when it is redeemed (RFC 6749 §4.1.3, RFC 7636
§4.6, RFC 9700 §2.1.1): used once, by the client it was issued to, with the same redirect URI,
before it expires, and with the PKCE verifier of its challenge.

One implementation for every place that redeems a code: the token endpoint
(``dex_py.oauth.grants``) and the admin console, a relying party of its own issuer that redeems
its code in-process (``dex_py.admin.login``). Both run ``check_redemption`` inside
``Storage.redeem_auth_code``, so the code is marked used in the same transaction.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from datetime import datetime

from dex_py.errors import InvalidGrant
from dex_py.storage.base import AuthCode

VERIFIER_RE = re.compile(r"^[A-Za-z0-9\-._~]{43,128}$")
MAX_CODE_LENGTH = 256


class Replayed(Exception):
    """The code was already redeemed: the caller revokes what its first use issued."""

    def __init__(self, code: AuthCode) -> None:
        self.code = code


def pkce_matches(method: str, challenge: str, verifier: str) -> bool:
    """Whether ``verifier`` answers ``challenge`` (S256 or plain), in constant time."""
    if method == "S256":
        digest = hashlib.sha256(verifier.encode("ascii")).digest()
        computed = base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
        return hmac.compare_digest(computed, challenge)
    return hmac.compare_digest(verifier, challenge)


def check_verifier_format(verifier: str) -> None:
    """RFC 7636 §4.1: 43 to 128 unreserved characters (an empty verifier passes here)."""
    if verifier and not VERIFIER_RE.match(verifier):
        raise InvalidGrant("malformed code_verifier")


def check_redemption(
    code: AuthCode, *, client_id: str, redirect_uri: str, verifier: str, now: datetime
) -> None:
    """Raise ``Replayed`` or ``InvalidGrant`` unless ``code`` may be redeemed now."""
    if code.used_at is not None:
        raise Replayed(code)
    if code.client_id != client_id:
        raise InvalidGrant("code was issued to another client")
    if code.expiry <= now:
        raise InvalidGrant("code expired")
    if code.redirect_uri != redirect_uri:
        raise InvalidGrant("redirect_uri does not match the authorization request")
    if code.pkce.code_challenge:
        if not verifier:
            raise InvalidGrant("code_verifier required")
        if not pkce_matches(code.pkce.code_challenge_method, code.pkce.code_challenge, verifier):
            raise InvalidGrant("code_verifier does not match the code_challenge")
    elif verifier:
        # RFC 9700 §2.1.1: a verifier for a code issued without a challenge is a downgrade
        # attempt.
        raise InvalidGrant("code was issued without a code_challenge")
