"""Signing and verification: round trips, interop with jwcrypto, and every forgery refused."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import timedelta

import pytest
from cryptography.hazmat.primitives import serialization
from hypothesis import given, settings
from hypothesis import strategies as st
from jwcrypto import jwk, jws, jwt

from dex_py.jose.jwk import generate_jwk
from dex_py.jose.tokens import (
    MAX_TOKEN_LENGTH,
    InvalidTokenError,
    b64url_encode,
    sign,
    verify,
)

from .conftest import ISSUER


def _claims(clock, **extra):
    now = int(clock.now().timestamp())
    claims = {
        "iss": ISSUER,
        "sub": "Cg1hbGljZRIFbG9jYWw",
        "aud": "app",
        "iat": now,
        "exp": now + 600,
    }
    claims.update(extra)
    return {k: v for k, v in claims.items() if v is not None}


def _check(km, token, clock, **kwargs):
    kwargs.setdefault("issuer", ISSUER)
    kwargs.setdefault("audience", "app")
    return verify(km, token, clock=clock, **kwargs)


def _reason(km, token, clock, **kwargs) -> str:
    with pytest.raises(InvalidTokenError) as info:
        _check(km, token, clock, **kwargs)
    return info.value.reason


def _compact(header: dict, payload: dict, signature: bytes = b"sig") -> str:
    h = b64url_encode(json.dumps(header).encode())
    p = b64url_encode(json.dumps(payload).encode())
    return f"{h}.{p}.{b64url_encode(signature)}"


@pytest.fixture(params=["RS256", "ES256"])
def km(request, make_keys, seed_keys):
    seed_keys(request.param)
    manager = make_keys(algorithm=request.param)
    manager.ensure()
    return manager


def test_round_trip(km, clock) -> None:
    claims = _claims(clock, groups=["admins", "ünïcode"], nonce="n-1")
    token = sign(km, claims)
    header = json.loads(jws.base64url_decode(token.split(".")[0]))
    assert header == {"alg": km.algorithm, "kid": km.signer().kid}
    assert _check(km, token, clock) == claims


def test_typ_header_is_signed_and_checked(km, clock) -> None:
    token = sign(km, _claims(clock), typ="at+jwt")
    header = json.loads(jws.base64url_decode(token.split(".")[0]))
    assert header["typ"] == "at+jwt"
    assert _check(km, token, clock, typ="at+jwt")["aud"] == "app"
    assert _reason(km, sign(km, _claims(clock)), clock, typ="at+jwt") == "wrong typ"


def test_jwcrypto_verifies_our_tokens(km, clock) -> None:
    token = sign(km, _claims(clock))
    keyset = jwk.JWKSet.from_json(km.jwks_json())
    parsed = jwt.JWT(jwt=token, key=keyset, algs=[km.algorithm], check_claims=False)
    assert json.loads(parsed.claims)["iss"] == ISSUER


def test_we_verify_jwcrypto_tokens(km, clock, storage) -> None:
    private = jwk.JWK.from_json(storage.get_keys().signing_key)
    made = jwt.JWT(header={"alg": km.algorithm, "kid": private["kid"]}, claims=_claims(clock))
    made.make_signed_token(private)
    assert _check(km, made.serialize(), clock)["sub"] == "Cg1hbGljZRIFbG9jYWw"


def test_audience_list_and_skipped_audience(km, clock) -> None:
    token = sign(km, _claims(clock, aud=["other", "app"]))
    assert _check(km, token, clock)["aud"] == ["other", "app"]
    assert _reason(km, token, clock, audience="third") == "wrong audience"
    assert _check(km, token, clock, audience=None)["iss"] == ISSUER


def test_leeway_and_optional_exp(km, clock) -> None:
    now = int(clock.now().timestamp())
    token = sign(km, _claims(clock, exp=now - 5))
    assert _reason(km, token, clock) == "expired"
    assert _check(km, token, clock, leeway=10)["exp"] == now - 5
    no_exp = sign(km, _claims(clock, exp=None))
    assert _reason(km, no_exp, clock) == "missing exp"
    assert "exp" not in _check(km, no_exp, clock, require_exp=False)


def test_expiry_boundary(km, clock) -> None:
    token = sign(km, _claims(clock))
    clock.advance(seconds=599)
    assert _check(km, token, clock)
    clock.advance(seconds=1)
    assert _reason(km, token, clock) == "expired"


@pytest.mark.parametrize(
    ("extra", "reason"),
    [
        ({"iss": "https://evil.example.com/dex"}, "wrong issuer"),
        ({"iss": None}, "wrong issuer"),
        ({"aud": "other-app"}, "wrong audience"),
        ({"aud": ["other-app"]}, "wrong audience"),
        ({"aud": None}, "wrong audience"),
        ({"aud": ["app", 7]}, "wrong audience"),
        ({"exp": "never"}, "malformed exp"),
        ({"exp": True}, "malformed exp"),
        ({"nbf": 10**12}, "not yet valid"),
        ({"nbf": "now"}, "malformed nbf"),
        ({"iat": 10**12}, "issued in the future"),
        ({"iat": [1]}, "malformed iat"),
        ({"exp": float("inf")}, "malformed"),
    ],
)
def test_bad_claims_refused(km, clock, extra, reason) -> None:
    assert _reason(km, sign(km, _claims(clock, **extra)), clock) == reason


def test_alg_none_refused(km, clock) -> None:
    kid = km.signer().kid
    unsigned = _compact({"alg": "none", "kid": kid}, _claims(clock))[: -len("c2ln")]
    assert unsigned.endswith(".")
    assert _reason(km, unsigned, clock) == "malformed"
    assert _reason(km, _compact({"alg": "none", "kid": kid}, _claims(clock)), clock) == (
        "unsupported alg"
    )
    assert _reason(km, _compact({"alg": "None", "kid": kid}, _claims(clock)), clock) == (
        "unsupported alg"
    )


def test_hs256_with_public_key_as_secret_refused(km, clock) -> None:
    pub = km.public_key(km.signer().kid)
    assert pub is not None
    for secret in (
        pub.key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
        km.jwks_json(),
    ):
        header = {"alg": "HS256", "kid": km.signer().kid}
        h = b64url_encode(json.dumps(header).encode())
        p = b64url_encode(json.dumps(_claims(clock)).encode())
        mac = hmac.new(secret, f"{h}.{p}".encode(), hashlib.sha256).digest()
        assert _reason(km, f"{h}.{p}.{b64url_encode(mac)}", clock) == "unsupported alg"


def test_alg_mismatch_with_key_refused(km, clock) -> None:
    other = "ES256" if km.algorithm == "RS256" else "RS256"
    forged = jwk.JWK.from_json(generate_jwk(other).private_jwk)
    made = jws.JWS(json.dumps(_claims(clock)).encode())
    made.add_signature(forged, alg=other, protected={"alg": other, "kid": km.signer().kid})
    assert _reason(km, made.serialize(compact=True), clock) == "alg mismatch"


def test_attacker_key_with_our_kid_refused(km, clock) -> None:
    forged = jwk.JWK.from_json(generate_jwk(km.algorithm).private_jwk)
    made = jws.JWS(json.dumps(_claims(clock)).encode())
    made.add_signature(
        forged, alg=km.algorithm, protected={"alg": km.algorithm, "kid": km.signer().kid}
    )
    assert _reason(km, made.serialize(compact=True), clock) == "bad signature"


def test_embedded_jwk_header_is_not_trusted(km, clock) -> None:
    forged = jwk.JWK.from_json(generate_jwk(km.algorithm).private_jwk)
    made = jws.JWS(json.dumps(_claims(clock)).encode())
    protected = {
        "alg": km.algorithm,
        "kid": forged["kid"],
        "jwk": forged.export_public(as_dict=True),
    }
    made.add_signature(forged, alg=km.algorithm, protected=protected)
    assert _reason(km, made.serialize(compact=True), clock) == "unknown kid"


@pytest.mark.parametrize(
    "kid",
    ["../../etc/passwd", "' OR '1'='1' --", "x" * 5000, "", "\u0000", None, 7, ["a"], {"a": 1}],
)
def test_unknown_or_injected_kid_refused(km, clock, kid) -> None:
    header = {"alg": km.algorithm} if kid is None else {"alg": km.algorithm, "kid": kid}
    reason = _reason(km, _compact(header, _claims(clock)), clock)
    assert reason == ("unknown kid" if isinstance(kid, str) else "missing kid")


def test_crit_header_refused(km, clock) -> None:
    header = {"alg": km.algorithm, "kid": km.signer().kid, "crit": ["exp"], "exp": 1}
    assert _reason(km, _compact(header, _claims(clock)), clock) == "unsupported critical header"


def test_tampered_payload_and_signature_refused(km, clock) -> None:
    token = sign(km, _claims(clock))
    h, p, s = token.split(".")
    evil = b64url_encode(json.dumps(_claims(clock, sub="admin")).encode())
    assert _reason(km, f"{h}.{evil}.{s}", clock) == "bad signature"
    flipped = s[:10] + ("A" if s[10] != "A" else "B") + s[11:]
    assert _reason(km, f"{h}.{p}.{flipped}", clock) == "bad signature"
    assert _reason(km, f"{h}.{p}.{s[:-4]}", clock) in ("bad signature", "malformed")


def test_non_canonical_signature_encoding_refused(km, clock) -> None:
    token = sign(km, _claims(clock))
    h, p, s = token.split(".")
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    # RSA-2048 (256 bytes) and P-256 (64 bytes) signatures leave 2 or 4 unused low bits.
    idx = alphabet.index(s[-1])
    twin = s[:-1] + alphabet[idx | 1]
    assert twin != s
    assert _reason(km, f"{h}.{p}.{twin}", clock) == "malformed"


def test_oversize_refused_early(km, clock) -> None:
    token = sign(km, _claims(clock, pad="x" * MAX_TOKEN_LENGTH))
    assert _reason(km, token, clock) == "too large"
    assert _reason(km, "a" * (10 * MAX_TOKEN_LENGTH), clock) == "too large"


@pytest.mark.parametrize(
    "garbage",
    [
        "",
        "garbage",
        "a.b",
        "a.b.c.d",
        "..",
        "...",
        "a..c",
        "eyJhbGciOiJSUzI1NiJ9.e30",
        "ééé.ééé.ééé",
        "YQ==.YQ==.YQ==",
        "a+b.c/d.efg",
        "a.b.c\n",
        " a.b.c",
        "A.A.A",
        "e30.e30.e30",
        "W10.e30.e30",
        "bnVsbA.e30.e30",
        b64url_encode(b'{"alg":"RS256","kid":') + ".e30.e30",
        b64url_encode(b'{"alg":NaN}') + ".e30.e30",
        b64url_encode(b"[" * 100000)[:15000] + ".e30.e30",
        b64url_encode(b"\xff\xfe") + ".e30.e30",
    ],
)
def test_malformed_tokens_refused(km, clock, garbage) -> None:
    assert _reason(km, garbage, clock)


def test_four_part_and_two_part_variants_of_a_real_token_refused(km, clock) -> None:
    token = sign(km, _claims(clock))
    h, p, s = token.split(".")
    for variant in (
        f"{h}.{p}",
        f"{h}.{p}.{s}.{s}",
        f"{h}.{p}.{s}.",
        f"{h}..{p}.{s}",
        f"{h}.{p}.{s}==",
    ):
        assert _reason(km, variant, clock) == "malformed"


@pytest.mark.parametrize("value", [None, b"a.b.c", 12, ["a.b.c"]])
def test_non_string_input_refused(km, clock, value) -> None:
    assert _reason(km, value, clock) == "malformed"


def test_fuzz_only_invalid_token_error(make_keys, clock) -> None:
    km = make_keys(algorithm="ES256")
    km.ensure()
    real = sign(km, _claims(clock))
    segments = st.lists(st.text(alphabet="AaZz09-_.=", max_size=40), max_size=5).map(".".join)
    mutated = st.tuples(st.integers(0, len(real) - 1), st.characters()).map(
        lambda m: real[: m[0]] + m[1] + real[m[0] + 1 :]
    )

    @settings(max_examples=300, deadline=None)
    @given(st.text(max_size=300) | segments | mutated)
    def check(text: str) -> None:
        if text == real:
            return
        with pytest.raises(InvalidTokenError):
            verify(km, text, issuer=ISSUER, audience="app", clock=clock)

    check()


def test_retired_key_tokens_still_verify(make_keys, clock) -> None:
    km = make_keys(algorithm="ES256")
    km.ensure()
    old_token = sign(km, _claims(clock, exp=int(clock.now().timestamp()) + 3 * 86400))
    clock.advance(timedelta(hours=6))
    assert km.rotate_if_due()
    assert _check(km, old_token, clock)["iss"] == ISSUER
    clock.advance(timedelta(hours=24, seconds=1))
    assert _reason(km, old_token, clock) == "unknown kid"
