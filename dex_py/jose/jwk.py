"""JOSE key primitives: generate, parse and identify JWKs; sign and verify JWS signatures.

RFC 7517 (JWK), RFC 7518 §3.3/§3.4 (RS256, ES256) and RFC 7638 (JWK thumbprint, used as ``kid``).
``dex_py.jose.keys.KeyManager`` stores, caches and rotates these keys; this module knows nothing of
storage.

jwcrypto generates keys and (de)serialises JWKs; per-token signing and verification call
``cryptography`` directly on the parsed key objects (``Signer``, ``PublicKey``), producing the
same compact JWS bytes jwcrypto would accept. Parse a key once and keep the result: parsing is
the expensive part. Measured with ``bench/jose_ops.py`` (2-core dev machine under load average
~5, best of 5 runs; µs per operation, keys parsed once on both sides):

    operation       dex-py   plain jwcrypto JWT
    RS256 sign        ~255     ~340   (the RSA private-key operation itself is ~250)
    RS256 verify       ~37     ~125
    ES256 sign         ~30     ~110
    ES256 verify       ~79     ~175
    JWKS document     ~0.3       ~8   (KeyManager's cached bytes vs JWKSet.export per request)
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from jwcrypto.jwk import JWK

SUPPORTED_ALGORITHMS = ("RS256", "ES256")
_RSA_BITS = 2048
_SHA256 = hashes.SHA256()
_PKCS1 = padding.PKCS1v15()
_ECDSA = ec.ECDSA(_SHA256)


class KeyStoreError(Exception):
    """The stored key set cannot be used (corrupt JWK, unsupported algorithm)."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


@dataclass(frozen=True)
class PublicKey:
    """A published verification key, parsed once."""

    kid: str
    alg: str
    key: rsa.RSAPublicKey | ec.EllipticCurvePublicKey
    jwk: dict[str, Any]  # public JWK members, with kid, use and alg

    def verify(self, signing_input: bytes, signature: bytes) -> bool:
        """Check a JWS signature (raw JOSE form: PKCS#1 v1.5 bytes, or R||S for ECDSA)."""
        try:
            if self.alg == "RS256":
                assert isinstance(self.key, rsa.RSAPublicKey)
                if len(signature) != (self.key.key_size + 7) // 8:
                    return False
                self.key.verify(signature, signing_input, _PKCS1, _SHA256)
            else:
                assert isinstance(self.key, ec.EllipticCurvePublicKey)
                if len(signature) != 64:
                    return False
                r = int.from_bytes(signature[:32], "big")
                s = int.from_bytes(signature[32:], "big")
                self.key.verify(encode_dss_signature(r, s), signing_input, _ECDSA)
        except InvalidSignature:
            return False
        return True


class Signer:
    """The current private key, parsed once; signs JWS signing inputs."""

    __slots__ = ("_headers", "_key", "alg", "kid")

    def __init__(
        self, kid: str, alg: str, key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
    ) -> None:
        self.kid = kid
        self.alg = alg
        self._key = key
        self._headers: dict[str | None, str] = {}

    def header_segment(self, typ: str | None = None) -> str:
        """The base64url protected header ``{alg, kid[, typ]}``, built once per ``typ``."""
        seg = self._headers.get(typ)
        if seg is None:
            header = {"alg": self.alg, "kid": self.kid}
            if typ is not None:
                header["typ"] = typ
            seg = _b64(json.dumps(header, separators=(",", ":")).encode())
            self._headers[typ] = seg
        return seg

    def sign_bytes(self, signing_input: bytes) -> bytes:
        """The raw JWS signature over ``signing_input`` (RFC 7518 §3.3 / §3.4)."""
        if isinstance(self._key, rsa.RSAPrivateKey):
            return self._key.sign(signing_input, _PKCS1, _SHA256)
        r, s = decode_dss_signature(self._key.sign(signing_input, _ECDSA))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def generate_jwk(algorithm: str) -> JWK:
    """A fresh private JWK for ``algorithm`` with ``kid`` = RFC 7638 thumbprint, use and alg."""
    if algorithm == "RS256":
        key = JWK.generate(kty="RSA", size=_RSA_BITS)
    elif algorithm == "ES256":
        key = JWK.generate(kty="EC", crv="P-256")
    else:
        raise ValueError(f"unsupported signing algorithm {algorithm!r}")
    members = json.loads(key.export_private())
    members.update(kid=key.thumbprint(), use="sig", alg=algorithm)
    return JWK(**members)


def _alg_of(jwk: JWK) -> str:
    alg = jwk.get("alg")
    if alg is None:
        kty, crv = jwk.get("kty"), jwk.get("crv")
        alg = "RS256" if kty == "RSA" else "ES256" if (kty, crv) == ("EC", "P-256") else None
    if alg not in SUPPORTED_ALGORITHMS:
        raise KeyStoreError(f"unsupported key algorithm {alg!r}")
    return str(alg)


def parse_public(text: str) -> PublicKey:
    """Parse a stored public JWK (``kid`` defaults to its thumbprint); raises ``KeyStoreError``."""
    try:
        jwk = JWK.from_json(text)
        alg = _alg_of(jwk)
        members = jwk.export_public(as_dict=True)
        members.setdefault("kid", jwk.thumbprint())
        members["use"], members["alg"] = "sig", alg
        key = jwk.get_op_key("verify")
    except KeyStoreError:
        raise
    except Exception as exc:
        raise KeyStoreError(f"unreadable public JWK: {type(exc).__name__}") from None
    if not isinstance(key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey):
        raise KeyStoreError("unsupported public key type")
    return PublicKey(kid=str(members["kid"]), alg=alg, key=key, jwk=members)


def parse_private(text: str) -> tuple[Signer, PublicKey]:
    """Parse a stored private JWK into its ``Signer`` and public half; raises ``KeyStoreError``."""
    try:
        jwk = JWK.from_json(text)
        if not jwk.has_private:
            raise KeyStoreError("signing key has no private part")
        alg = _alg_of(jwk)
        priv = jwk.get_op_key("sign")
        pub = parse_public(jwk.export_public())
    except KeyStoreError:
        raise
    except Exception as exc:
        raise KeyStoreError(f"unreadable signing JWK: {type(exc).__name__}") from None
    if not isinstance(priv, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise KeyStoreError("unsupported private key type")
    return Signer(pub.kid, alg, priv), pub


def kid_of(jwk_text: str) -> str:
    """The ``kid`` member of a stored JWK ("" if absent or unreadable)."""
    try:
        kid = json.loads(jwk_text).get("kid", "") if jwk_text else ""
    except (ValueError, AttributeError):
        return ""
    return kid if isinstance(kid, str) else ""
