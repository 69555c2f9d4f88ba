"""An independent relying-party verifier for the conformance tests (shares no code with dex_py).

It checks what the OpenID Foundation's OP test modules check on the relying party's side:

- ID tokens (OIDC Core §3.1.3.7, §3.2.2.11, §3.3.2.12): the algorithm comes from the JWK in
  ``jwks_uri`` (never from the token alone), the signature verifies with jwcrypto, ``iss`` is the
  discovered issuer, ``aud`` contains the client (and ``azp`` names it when there are several
  audiences), ``exp``/``iat`` are sane integers, ``nonce`` matches, ``at_hash``/``c_hash`` are the
  left half of the hash of the access token / code (and present when the response type demands
  them), ``auth_time`` is an integer not in the future (and present when requested), ``sid`` is
  a string when present;
- OAuth error responses (RFC 6749 §4.1.2.1, §5.2): ``error`` from the registered list and
  ``error_description`` limited to the allowed characters;
- UserInfo responses (OIDC Core §5.3.2): JSON with a ``sub`` equal to the ID token's.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import time
from dataclasses import dataclass, field
from typing import Any

import requests
from jwcrypto.jwk import JWK, JWKSet
from jwcrypto.jws import JWS

HASHES = {"256": "sha256", "384": "sha384", "512": "sha512"}
# RFC 6749 §5.2 / §4.1.2.1 error_description and error: %x20-21 / %x23-5B / %x5D-7E.
_ERROR_TEXT = re.compile(r"^[\x20\x21\x23-\x5b\x5d-\x7e]*$")
AUTHORIZATION_ERRORS = {
    "invalid_request",
    "unauthorized_client",
    "access_denied",
    "unsupported_response_type",
    "invalid_scope",
    "server_error",
    "temporarily_unavailable",
    # OIDC Core §3.1.2.6
    "interaction_required",
    "login_required",
    "account_selection_required",
    "consent_required",
    "invalid_request_uri",
    "invalid_request_object",
    "request_not_supported",
    "request_uri_not_supported",
    "registration_not_supported",
}
TOKEN_ERRORS = {
    "invalid_request",
    "invalid_client",
    "invalid_grant",
    "unauthorized_client",
    "unsupported_grant_type",
    "invalid_scope",
}
USER_INTERFACE_ERRORS = {
    "login_required",
    "interaction_required",
    "consent_required",
    "account_selection_required",
}


def half_hash(value: str, alg: str) -> str:
    """``at_hash``/``c_hash``: base64url of the left half of the hash named by ``alg``."""
    digest = hashlib.new(HASHES[alg[-3:]], value.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest[: len(digest) // 2]).rstrip(b"=").decode("ascii")


def b64url_json(segment: str) -> dict[str, Any]:
    padded = segment + "=" * (-len(segment) % 4)
    value = json.loads(base64.urlsafe_b64decode(padded))
    assert isinstance(value, dict)
    return value


def unverified_parts(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Header and claims of a compact JWS, not verified (to build forgeries from)."""
    header, payload, _ = token.split(".")
    return b64url_json(header), b64url_json(payload)


def check_error_text(params: dict[str, Any], allowed: set[str]) -> str:
    """Assert an OAuth error response is well formed; return its ``error``."""
    error = params.get("error")
    assert isinstance(error, str) and error in allowed, f"unexpected error {error!r}"
    description = params.get("error_description", "")
    assert isinstance(description, str) and _ERROR_TEXT.match(description), (
        f"error_description has characters RFC 6749 §5.2 forbids: {description!r}"
    )
    return error


@dataclass
class Verifier:
    """Verifies what an OP returns, from its discovery document and JWKS only."""

    issuer: str
    session: requests.Session = field(default_factory=requests.Session)
    _meta: dict[str, Any] | None = None
    _jwks: JWKSet | None = None

    @property
    def meta(self) -> dict[str, Any]:
        if self._meta is None:
            resp = self.session.get(self.issuer + "/.well-known/openid-configuration", timeout=10)
            assert resp.status_code == 200, resp.text
            assert resp.headers["Content-Type"].startswith("application/json")
            self._meta = resp.json()
            assert self._meta["issuer"] == self.issuer
        return self._meta

    def jwks(self, *, refresh: bool = False) -> JWKSet:
        if self._jwks is None or refresh:
            resp = self.session.get(self.meta["jwks_uri"], timeout=10)
            assert resp.status_code == 200, resp.text
            self._jwks = JWKSet.from_json(resp.text)
        return self._jwks

    def key_for(self, kid: str) -> JWK:
        key = self.jwks().get_key(kid)
        if key is None:  # a rotation since we last looked (OIDC Core §10.1.1)
            key = self.jwks(refresh=True).get_key(kid)
        assert key is not None, f"kid {kid!r} is not published at jwks_uri"
        return key

    def verify_jws(self, token: str) -> tuple[dict[str, Any], dict[str, Any]]:
        """Verify a compact JWS with the OP's published key; return (header, claims)."""
        assert token.count(".") == 2, "not a compact JWS"
        jws = JWS()
        jws.deserialize(token)
        header = jws.jose_header
        assert isinstance(header, dict), "exactly one signature expected"
        kid = header.get("kid")
        assert isinstance(kid, str) and kid, "the OP must name its key (kid)"
        key = self.key_for(kid)
        alg = key.get("alg")
        assert alg, "published JWK has no alg"
        assert alg in self.meta["id_token_signing_alg_values_supported"]
        assert header.get("alg") == alg, f"header alg {header.get('alg')} != JWK alg {alg}"
        jws.verify(key, alg=alg)  # raises on a bad signature
        claims = json.loads(jws.payload)
        assert isinstance(claims, dict)
        return header, claims

    def id_token(
        self,
        token: str,
        *,
        client_id: str,
        nonce: str | None = None,
        access_token: str | None = None,
        code: str | None = None,
        require_at_hash: bool = False,
        require_c_hash: bool = False,
        require_auth_time: bool = False,
        max_age: int | None = None,
    ) -> dict[str, Any]:
        """Verify an ID token as OIDC Core §3.1.3.7 / §3.2.2.11 / §3.3.2.12 demand."""
        header, claims = self.verify_jws(token)
        alg = header["alg"]
        now = time.time()
        assert claims.get("iss") == self.issuer, claims.get("iss")
        assert isinstance(claims.get("sub"), str) and claims["sub"], "sub missing"
        assert len(claims["sub"]) <= 255, "sub longer than 255 ASCII characters"
        aud = claims.get("aud")
        audiences = aud if isinstance(aud, list) else [aud]
        assert client_id in audiences, f"aud {aud!r} lacks {client_id!r}"
        if len(audiences) > 1 or "azp" in claims:
            assert claims.get("azp") == client_id, f"azp {claims.get('azp')!r}"
        for name in ("exp", "iat"):
            assert type(claims.get(name)) is int, f"{name} must be an integer"
        assert claims["exp"] > now, "expired"
        assert claims["iat"] <= now + 5, "iat in the future"
        assert claims["exp"] > claims["iat"]
        if nonce is not None:
            assert claims.get("nonce") == nonce, f"nonce {claims.get('nonce')!r} != {nonce!r}"
        else:
            assert "nonce" not in claims, "nonce returned though none was sent"
        if access_token is not None and ("at_hash" in claims or require_at_hash):
            assert claims.get("at_hash") == half_hash(access_token, alg), "at_hash mismatch"
        if code is not None and ("c_hash" in claims or require_c_hash):
            assert claims.get("c_hash") == half_hash(code, alg), "c_hash mismatch"
        if require_auth_time or max_age is not None:
            assert "auth_time" in claims, "auth_time required (max_age or requested)"
        if "auth_time" in claims:
            assert type(claims["auth_time"]) is int, "auth_time must be an integer"
            assert claims["auth_time"] <= now + 5, "auth_time in the future"
            if max_age is not None:
                # OIDC Core §3.1.2.1: re-authenticate when the last one is older than max_age.
                assert claims["auth_time"] >= claims["iat"] - max_age - 5
        if "sid" in claims:
            assert isinstance(claims["sid"], str) and claims["sid"], "sid must be a string"
        return claims

    def userinfo(self, resp: requests.Response, *, sub: str) -> dict[str, Any]:
        """A successful UserInfo response for ``sub`` (OIDC Core §5.3.2)."""
        assert resp.status_code == 200, resp.text
        assert resp.headers["Content-Type"].startswith("application/json")
        info = resp.json()
        assert info.get("sub") == sub, "UserInfo sub differs from the ID token's"
        for claim in ("email_verified", "phone_number_verified"):
            if claim in info:
                assert isinstance(info[claim], bool)
        return info

    def token_error(self, resp: requests.Response, expected: str | set[str]) -> str:
        """A token-endpoint error response (RFC 6749 §5.2)."""
        wanted = {expected} if isinstance(expected, str) else expected
        assert resp.status_code in (400, 401), f"{resp.status_code}: {resp.text}"
        assert resp.headers["Content-Type"].startswith("application/json")
        assert "no-store" in resp.headers.get("Cache-Control", "")
        error = check_error_text(resp.json(), TOKEN_ERRORS)
        assert error in wanted, f"error {error!r}, expected one of {sorted(wanted)}"
        return error
