"""Micro-benchmark: µs to verify a JWT signed by someone else, jwcrypto vs joserfc.

This is the work dex-py does on tokens from outside (upstream ID tokens, ``private_key_jwt``
client assertions, the example app's ID tokens): parse the compact JWS, pick the key from a
JWK Set already parsed, check the signature, decode the claims. Both libraries get the same
token and key set; the best of ``--repeat`` runs of ``--number`` verifications is printed.

    .venv/bin/python bench/jose_libs.py [--number 2000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import time
import timeit
from collections.abc import Callable

from joserfc import jwt as rfc_jwt
from joserfc.jwk import KeySet
from jwcrypto import jwk as jc_jwk
from jwcrypto import jws as jc_jws

CLAIMS = {"iss": "https://idp.example", "sub": "jane", "aud": "client", "exp": 0, "nonce": "n"}


def _per_op(fn: Callable[[], object], number: int, repeat: int) -> float:
    return min(timeit.repeat(fn, number=number, repeat=repeat)) / number * 1e6


def bench(alg: str, number: int, repeat: int) -> tuple[float, float]:
    private = (
        jc_jwk.JWK.generate(kty="RSA", size=2048, kid="k1")
        if alg == "RS256"
        else jc_jwk.JWK.generate(kty="EC", crv="P-256", kid="k1")
    )
    claims = {**CLAIMS, "exp": int(time.time()) + 3600}
    signer = jc_jws.JWS(json.dumps(claims).encode())
    signer.add_signature(private, alg, protected=json.dumps({"alg": alg, "kid": "k1"}))
    token = signer.serialize(compact=True)
    public_doc = {"keys": [private.export_public(as_dict=True)]}

    jc_set = jc_jwk.JWKSet.from_json(json.dumps(public_doc))
    rfc_set = KeySet.import_key_set(public_doc)

    def with_jwcrypto() -> dict:
        obj = jc_jws.JWS()
        obj.deserialize(token)
        header = obj.jose_header
        key = jc_set.get_key(header["kid"])
        obj.verify(key, alg=alg)
        return json.loads(obj.payload)

    def with_joserfc() -> dict:
        return rfc_jwt.decode(token, rfc_set, algorithms=[alg]).claims

    assert with_jwcrypto() == with_joserfc() == claims
    return _per_op(with_jwcrypto, number, repeat), _per_op(with_joserfc, number, repeat)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--number", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    for alg in ("RS256", "ES256"):
        jc, rfc = bench(alg, args.number, args.repeat)
        print(f"{alg} verify   jwcrypto {jc:7.1f} µs   joserfc {rfc:7.1f} µs")


if __name__ == "__main__":
    main()
