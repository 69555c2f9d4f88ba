"""Micro-benchmark: µs per JWT sign/verify, dex-py's cached-key path vs plain joserfc.

Run from the repo root: ``PYTHONPATH=. .venv/bin/python bench/jose_ops.py [--number N]``.
Not a test; the README quotes it.
Both sides use keys parsed once; joserfc (the JOSE library dex-py uses for tokens from outside)
verifies against a KeySet like a relying party does.
"""

from __future__ import annotations

import argparse
import json
import time
import timeit
from datetime import timedelta

from joserfc import jwt
from joserfc.jwk import JWKRegistry, KeySet

from dex_py.clock import Clock
from dex_py.jose.keys import KeyManager
from dex_py.jose.tokens import sign, verify
from dex_py.storage.memory import MemoryStorage

ISSUER = "https://dex.example.com/dex"


def _claims() -> dict:
    now = int(time.time())
    return {
        "iss": ISSUER,
        "sub": "Cg0wLTM4NS0yODA4OS0wEgVsb2NhbA",
        "aud": "example-app",
        "exp": now + 3600,
        "iat": now,
        "nonce": "n-0S6_WzA2Mj",
        "at_hash": "77QmUPtjPfzWtF2AnpK9RQ",
        "email": "kilgore@kilgore.trout",
        "email_verified": True,
        "name": "Kilgore Trout",
        "groups": ["authors", "admins"],
    }


def _per_op(fn, number: int) -> float:
    best = min(timeit.repeat(fn, number=number, repeat=5))
    return best / number * 1e6


def bench(alg: str, number: int) -> None:
    clock = Clock()
    storage = MemoryStorage()
    km = KeyManager(
        storage,
        clock,
        algorithm=alg,
        rotation_period=timedelta(hours=6),
        id_token_lifetime=timedelta(hours=24),
    )
    km.ensure()
    claims = _claims()
    token = sign(km, claims)

    private = JWKRegistry.import_key(json.loads(storage.get_keys().signing_key))
    keyset = KeySet.import_key_set(json.loads(km.jwks_json()))
    header = {"alg": alg, "kid": km.signer().kid}
    registry = jwt.JWTClaimsRegistry(iss={"essential": True, "value": ISSUER})

    def joserfc_sign() -> str:
        return jwt.encode(header, claims, private, algorithms=[alg])

    def joserfc_verify() -> dict:
        claims = jwt.decode(token, keyset, algorithms=[alg]).claims
        registry.validate(claims)
        return claims

    assert joserfc_verify()["sub"] == claims["sub"]
    assert verify(km, joserfc_sign(), issuer=ISSUER, audience="example-app", clock=clock)

    rows = [
        ("sign", _per_op(lambda: sign(km, claims), number), _per_op(joserfc_sign, number)),
        (
            "verify",
            _per_op(
                lambda: verify(km, token, issuer=ISSUER, audience="example-app", clock=clock),
                number,
            ),
            _per_op(joserfc_verify, number),
        ),
        (
            "jwks_json",
            _per_op(km.jwks_json, number * 10),
            _per_op(lambda: json.dumps(keyset.as_dict(private=False)).encode(), number),
        ),
    ]
    for op, ours, theirs in rows:
        print(f"{alg:<6} {op:<10} dex-py {ours:8.1f} µs   joserfc {theirs:8.1f} µs")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--number", type=int, default=300, help="operations per timing run")
    args = parser.parse_args()
    for alg in ("RS256", "ES256"):
        bench(alg, args.number)


if __name__ == "__main__":
    main()
