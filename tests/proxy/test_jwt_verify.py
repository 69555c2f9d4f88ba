"""Token checks (dex_py.proxy.jwt_verify) with keys made here: the key fixes the algorithm
(``none`` and HMAC-with-the-public-key refused), issuer, audience, expiry, nonce, unknown kid
refetch, and the logout token's rules (Back-Channel Logout 1.0 §2.6)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from joserfc import jws
from joserfc.jwk import ECKey, RSAKey

from dex_py.proxy.jwks import JwksCache
from dex_py.proxy.jwt_verify import (
    LOGOUT_EVENT,
    TokenInvalid,
    verify_bearer,
    verify_id_token,
    verify_logout_token,
)

ISSUER = "http://127.0.0.1:5556/dex"
RSA = RSAKey.generate_key(2048, parameters={"kid": "k1", "alg": "RS256", "use": "sig"})
EC = ECKey.generate_key("P-256", parameters={"kid": "k2"})


class Keys:
    def __init__(self, *keys: Any) -> None:
        self.keys = list(keys)
        self.fetches = 0

    async def fetch(self) -> dict[str, Any]:
        self.fetches += 1
        return {"keys": [k.as_dict(private=False) for k in self.keys]}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def sign(claims: dict[str, Any], key: Any = RSA, alg: str = "RS256", **header: Any) -> str:
    return jws.serialize_compact({"alg": alg, "kid": key.kid, **header}, json.dumps(claims), key)


def claims(**kw: Any) -> dict[str, Any]:
    now = int(time.time())
    base = {"iss": ISSUER, "aud": "dex-py-proxy", "sub": "alice", "iat": now, "exp": now + 300}
    base.update(kw)
    return {k: v for k, v in base.items() if v is not None}


def run(coro: Any) -> Any:
    return asyncio.run(coro)


async def _cache(*keys: Any) -> JwksCache:
    cache = JwksCache(Keys(*keys).fetch)
    await cache.refresh()
    return cache


def bearer(token: str, *keys: Any) -> dict[str, Any]:
    async def go() -> dict[str, Any]:
        cache = await _cache(*(keys or (RSA, EC)))
        return await verify_bearer(token, cache, issuer=ISSUER, audiences=("dex-py-proxy",))

    return run(go())


def test_a_good_token_passes_with_rsa_and_ec() -> None:
    assert bearer(sign(claims()))["sub"] == "alice"
    assert bearer(sign(claims(), key=EC, alg="ES256"))["sub"] == "alice"


# Claims are made when the test runs, not when it is collected: a suite that takes longer
# than a token's lifetime must not turn "not yet valid" into "expired".
@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        (lambda now: {"aud": "someone-else"}, "wrong audience"),
        (lambda now: {"iss": "http://evil/dex"}, "wrong issuer"),
        (lambda now: {"exp": now - 600}, "expired"),
        (lambda now: {"exp": None}, "no exp"),
        (lambda now: {"nbf": now + 600}, "not yet valid"),
    ],
    ids=["audience", "issuer", "expired", "no-exp", "nbf"],
)
def test_claims_are_checked(changes: Any, reason: str) -> None:
    with pytest.raises(TokenInvalid, match=reason):
        bearer(sign(claims(**changes(int(time.time())))))


def test_alg_none_and_hmac_with_the_public_key_are_refused() -> None:
    payload = _b64(json.dumps(claims()).encode())
    unsigned = _b64(json.dumps({"alg": "none", "kid": "k1"}).encode()) + "." + payload + "."
    with pytest.raises(TokenInvalid, match="refused"):
        bearer(unsigned)
    header = _b64(json.dumps({"alg": "HS256", "kid": "k1"}).encode())
    public_pem = RSA.as_pem(private=False)
    mac = hmac.new(public_pem, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    with pytest.raises(TokenInvalid, match="refused"):
        bearer(f"{header}.{payload}.{_b64(mac)}")
    # A token may not pick another algorithm than the key's own.
    header = _b64(json.dumps({"alg": "RS384", "kid": "k1"}).encode())
    signature = RSA.private_key.sign(
        f"{header}.{payload}".encode(), padding.PKCS1v15(), hashes.SHA384()
    )
    with pytest.raises(TokenInvalid, match="does not fit"):
        bearer(f"{header}.{payload}.{_b64(signature)}")


def test_tampered_and_foreign_tokens_are_refused() -> None:
    token = sign(claims())
    head, _payload, signature = token.split(".")
    forged = _b64(json.dumps(claims(sub="root")).encode())
    with pytest.raises(TokenInvalid, match="bad signature"):
        bearer(f"{head}.{forged}.{signature}")
    stranger = RSAKey.generate_key(2048, parameters={"kid": "k1", "alg": "RS256"})
    with pytest.raises(TokenInvalid, match="bad signature"):
        bearer(sign(claims(), key=stranger))
    with pytest.raises(TokenInvalid):
        bearer("not.a.jwt")


def test_an_unknown_kid_refetches_the_keys_once() -> None:
    async def go() -> None:
        keys = Keys(RSA)
        cache = JwksCache(keys.fetch)
        await cache.refresh()
        keys.keys.append(EC)
        cache._fetched_at -= 3600  # the last fetch was long ago
        token = sign(claims(), key=EC, alg="ES256")
        got = await verify_bearer(token, cache, issuer=ISSUER, audiences=("dex-py-proxy",))
        assert got["sub"] == "alice" and keys.fetches == 2
        with pytest.raises(TokenInvalid, match="no issuer key"):
            await verify_bearer(
                sign(claims(), key=RSAKey.generate_key(2048, parameters={"kid": "k9"})),
                cache,
                issuer=ISSUER,
                audiences=("dex-py-proxy",),
            )
        assert keys.fetches == 2  # rate-limited

    run(go())


def test_id_token_nonce_and_azp() -> None:
    async def go() -> None:
        cache = await _cache(RSA)
        token = sign(claims(nonce="n1"))
        ok = await verify_id_token(
            token, cache, issuer=ISSUER, client_id="dex-py-proxy", nonce="n1"
        )
        assert ok["nonce"] == "n1"
        with pytest.raises(TokenInvalid, match="nonce"):
            await verify_id_token(token, cache, issuer=ISSUER, client_id="dex-py-proxy", nonce="n2")
        multi = sign(claims(aud=["dex-py-proxy", "other"], azp="other"))
        with pytest.raises(TokenInvalid, match="azp"):
            await verify_id_token(multi, cache, issuer=ISSUER, client_id="dex-py-proxy", nonce=None)

    run(go())


def logout_claims(**kw: Any) -> dict[str, Any]:
    base = claims(exp=None, jti="j1", sid="s1", events={LOGOUT_EVENT: {}})
    base.update(kw)
    return {k: v for k, v in base.items() if v is not None}


def test_logout_tokens() -> None:
    async def go() -> None:
        cache = await _cache(RSA)

        async def check(token_claims: dict[str, Any]) -> dict[str, Any]:
            return await verify_logout_token(
                sign(token_claims, typ="logout+jwt"),
                cache,
                issuer=ISSUER,
                client_id="dex-py-proxy",
            )

        assert (await check(logout_claims()))["sid"] == "s1"
        for bad, reason in (
            (logout_claims(events={}), "event"),
            (logout_claims(nonce="n"), "nonce"),
            (logout_claims(sid=None, sub=None), "sub"),
            (logout_claims(aud="other"), "audience"),
            (logout_claims(jti=None), "jti"),
            (logout_claims(iat=int(time.time()) - 3600), "iat"),
        ):
            with pytest.raises(TokenInvalid, match=reason):
                await check(bad)

    run(go())
