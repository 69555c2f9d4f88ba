"""Our fast signing path (``dex_py.jose.tokens`` on ``cryptography``) against joserfc, the JOSE
library the product uses for everything from outside: each side verifies what the other signed,
for RS256 and ES256, with keys made by ``KeyManager.ensure`` (and so by
``dex_py.jose.jwk.generate_jwk``)."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest
from joserfc import jwt
from joserfc.errors import BadSignatureError
from joserfc.jwk import JWKRegistry, KeySet

from dex_py.jose.jwk import parse_private, parse_public
from dex_py.jose.tokens import InvalidTokenError, b64url_decode, b64url_encode, sign, verify

from .conftest import ISSUER


@pytest.fixture(params=["RS256", "ES256"])
def km(request, make_keys):
    manager = make_keys(algorithm=request.param)
    manager.ensure()  # a key generated now, not a premade one
    return manager


def _claims(clock) -> dict:
    now = int(clock.now().timestamp())
    return {"iss": ISSUER, "sub": "jane", "aud": "app", "iat": now, "exp": now + 600}


def _tampered(token: str) -> str:
    head, payload, signature = token.split(".")
    raw = bytearray(b64url_decode(signature))
    raw[-1] ^= 1
    return f"{head}.{payload}.{b64url_encode(bytes(raw))}"


def test_joserfc_verifies_what_we_sign(km, clock) -> None:
    claims = _claims(clock)
    token = sign(km, claims)
    keys = KeySet.import_key_set(json.loads(km.jwks_json()))
    decoded = jwt.decode(token, keys, algorithms=[km.algorithm])
    assert decoded.header == {"alg": km.algorithm, "kid": km.signer().kid}
    assert decoded.claims == claims
    with pytest.raises(BadSignatureError):
        jwt.decode(_tampered(token), keys, algorithms=[km.algorithm])


def test_we_verify_what_joserfc_signs(km, clock, storage) -> None:
    claims = _claims(clock)
    private = JWKRegistry.import_key(json.loads(storage.get_keys().signing_key))
    header = {"alg": km.algorithm, "kid": km.signer().kid}
    token = jwt.encode(header, claims, private, algorithms=[km.algorithm])
    assert verify(km, token, issuer=ISSUER, audience="app", clock=clock) == claims
    with pytest.raises(InvalidTokenError):
        verify(km, _tampered(token), issuer=ISSUER, audience="app", clock=clock)


def test_product_code_uses_one_jose_library() -> None:
    """joserfc for what comes from outside; jwcrypto is a test-only independent verifier."""
    root = Path(__file__).resolve().parents[2]
    offenders = []
    for package in ("dex_py", "connectors"):
        for path in sorted((root / package).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                names = []
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom):
                    names = [node.module or ""]
                banned = [n for n in names if n.partition(".")[0] == "jwcrypto"]
                banned += [n for n in names if n.startswith("authlib.jose")]
                if banned:
                    offenders.append(f"{path.relative_to(root)}:{node.lineno}")
    assert offenders == []


@pytest.mark.parametrize("alg", ["RS256", "ES256"])
def test_keys_stored_by_jwcrypto_still_sign_and_verify(alg) -> None:
    """Databases made before joserfc hold keys that jwcrypto exported; they keep working."""
    from jwcrypto.jwk import JWK  # how earlier versions generated and stored signing keys

    made = JWK.generate(kty="RSA", size=2048) if alg == "RS256" else JWK.generate(kty="EC")
    members = {**json.loads(made.export_private()), "kid": made.thumbprint()}
    stored = JWK(**members, use="sig", alg=alg)
    signer, public = parse_private(stored.export_private())
    assert (signer.kid, public.alg) == (made.thumbprint(), alg)
    assert parse_public(stored.export_public()).kid == signer.kid
    signature = signer.sign_bytes(b"header.payload")
    assert public.verify(b"header.payload", signature)
    assert not public.verify(b"header.payload2", signature)
