"""A software WebAuthn authenticator for in-process tests: an ES256 key, ``none`` attestation,
and a signature counter the test controls, answering in the JSON the mfa pages post."""

from __future__ import annotations

import hashlib
import json
import secrets
import struct
from dataclasses import dataclass, field

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from webauthn.helpers.encode_cbor import encode_cbor

from dex_py.mfa.passkeys import b64url

UP, UV, AT = 0x01, 0x04, 0x40


@dataclass
class SoftAuthenticator:
    rp_id: str
    origin: str
    counter: int = 0
    key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    credential_id: bytes = field(default_factory=lambda: secrets.token_bytes(16))

    def _cose_key(self) -> bytes:
        numbers = self.key.public_key().public_numbers()
        return encode_cbor(
            {
                1: 2,
                3: -7,
                -1: 1,
                -2: numbers.x.to_bytes(32, "big"),
                -3: numbers.y.to_bytes(32, "big"),
            }
        )

    def _auth_data(self, flags: int, attested: bytes = b"") -> bytes:
        rp_hash = hashlib.sha256(self.rp_id.encode()).digest()
        return rp_hash + bytes([flags]) + struct.pack(">I", self.counter) + attested

    def _client_data(self, kind: str, challenge: bytes, origin: str | None) -> bytes:
        data = {"type": kind, "challenge": b64url(challenge), "origin": origin or self.origin}
        return json.dumps(data).encode()

    def register(self, challenge: bytes) -> str:
        attested = (
            bytes(16)
            + struct.pack(">H", len(self.credential_id))
            + self.credential_id
            + self._cose_key()
        )
        attestation = encode_cbor(
            {"fmt": "none", "attStmt": {}, "authData": self._auth_data(UP | UV | AT, attested)}
        )
        client_data = self._client_data("webauthn.create", challenge, None)
        return self._answer(client_data, attestationObject=b64url(attestation))

    def assert_(self, challenge: bytes, *, origin: str | None = None, step: int = 1) -> str:
        """An assertion; the counter moves by ``step`` first (0: a cloned authenticator)."""
        self.counter += step
        auth_data = self._auth_data(UP | UV)
        client_data = self._client_data("webauthn.get", challenge, origin)
        signed = auth_data + hashlib.sha256(client_data).digest()
        signature = self.key.sign(signed, ec.ECDSA(hashes.SHA256()))
        return self._answer(
            client_data, authenticatorData=b64url(auth_data), signature=b64url(signature)
        )

    def _answer(self, client_data: bytes, **response: str) -> str:
        """The credential as the page's script posts it (binary fields base64url)."""
        return json.dumps(
            {
                "id": b64url(self.credential_id),
                "rawId": b64url(self.credential_id),
                "type": "public-key",
                "response": {"clientDataJSON": b64url(client_data), **response},
                "clientExtensionResults": {},
            }
        )
