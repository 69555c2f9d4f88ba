"""JOSE key primitives: generate, parse and identify JWKs; sign and verify JWS signatures.

RFC 7517 (JWK), RFC 7518 §3.3/§3.4 (RS256, ES256) and RFC 7638 (JWK thumbprint, used as ``kid``).
``dex_py.jose.keys.KeyManager`` stores, caches and rotates these keys; this module knows nothing of
storage.

joserfc (the JOSE library for everything from outside) generates keys and (de)serialises JWKs;
per-token signing and verification of OUR tokens call ``cryptography`` directly on the parsed key
objects (``Signer``, ``PublicKey``), producing the same compact JWS bytes joserfc accepts
(cross-checked both ways in tests/keys/test_jose_crosscheck.py). Parse a key once and keep the
result: parsing is the expensive part. Measured with ``bench/jose_ops.py`` (2-core dev machine
under load average ~6.5, best of 5 runs; µs per operation, keys parsed once on both sides):

    operation       dex-py   plain joserfc JWT
    RS256 sign        ~560     ~610   (the RSA private-key operation itself dominates)
    RS256 verify       ~70     ~135
    ES256 sign         ~60     ~100
    ES256 verify      ~175     ~275
    JWKS document     ~0.3       ~5   (KeyManager's cached bytes vs KeySet.as_dict per request)
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
from joserfc.jwk import ECKey, JWKRegistry, RSAKey

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


@dataclass(frozen=True)
class NewKey:
    """A freshly generated signing key: its ``kid`` and its private and public JWKs as JSON."""

    kid: str
    private_jwk: str
    public_jwk: str


def generate_jwk(algorithm: str) -> NewKey:
    """A fresh private JWK for ``algorithm`` with ``kid`` = RFC 7638 thumbprint, use and alg."""
    key: RSAKey | ECKey
    if algorithm == "RS256":
        key = RSAKey.generate_key(_RSA_BITS)
    elif algorithm == "ES256":
        key = ECKey.generate_key("P-256")
    else:
        raise ValueError(f"unsupported signing algorithm {algorithm!r}")
    extra = {"kid": key.thumbprint(), "use": "sig", "alg": algorithm}
    private = {**key.as_dict(private=True), **extra}
    public = {**key.as_dict(private=False), **extra}
    return NewKey(extra["kid"], json.dumps(private), json.dumps(public))


def public_jwk(text: str) -> str:
    """The public half (JSON) of a stored private JWK; raises ``KeyStoreError``."""
    try:
        return json.dumps(_import(text).as_dict(private=False))
    except KeyStoreError:
        raise
    except Exception as exc:
        raise KeyStoreError(f"unreadable signing JWK: {type(exc).__name__}") from None


def _import(text: str) -> RSAKey | ECKey:
    key = JWKRegistry.import_key(json.loads(text))
    if not isinstance(key, RSAKey | ECKey):
        raise KeyStoreError("unsupported key type")
    return key


def _alg_of(members: dict[str, Any]) -> str:
    alg = members.get("alg")
    if alg is None:
        kty, crv = members.get("kty"), members.get("crv")
        alg = "RS256" if kty == "RSA" else "ES256" if (kty, crv) == ("EC", "P-256") else None
    if alg not in SUPPORTED_ALGORITHMS:
        raise KeyStoreError(f"unsupported key algorithm {alg!r}")
    return str(alg)


def parse_public(text: str) -> PublicKey:
    """Parse a stored public JWK (``kid`` defaults to its thumbprint); raises ``KeyStoreError``."""
    try:
        jwk = _import(text)
        members = jwk.as_dict(private=False)
        alg = _alg_of(members)
        members.setdefault("kid", jwk.thumbprint())
        members["use"], members["alg"] = "sig", alg
        key = jwk.public_key
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
        jwk = _import(text)
        if not jwk.is_private:
            raise KeyStoreError("signing key has no private part")
        alg = _alg_of(jwk.as_dict(private=False))
        priv = jwk.private_key
        pub = parse_public(json.dumps(jwk.as_dict(private=False)))
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
