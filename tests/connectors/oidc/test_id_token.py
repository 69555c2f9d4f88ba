"""ID token validation against a fake upstream: every bad token is a ConnectorError, and the JWKS
is re-fetched (once, rate-limited) when the upstream rotates its keys."""

from __future__ import annotations

import time
from typing import Any

import pytest
from jwcrypto.jwk import JWK

from connectors.base import ConnectorError
from connectors.oidc import ID_TOKEN_TYPE
from connectors.oidc_provider import JWKS_REFETCH_INTERVAL
from tests.connectors.oidc.conftest import fake_login
from tests.connectors.oidc.fake_upstream import CLIENT_ID, new_key, sign, unsigned


def _hs256_token(fake: Any) -> str:
    now = int(time.time())
    claims = {**fake.user_claims("alice"), "iss": fake.issuer, "aud": CLIENT_ID}
    claims.update(iat=now, exp=now + 300)
    secret = JWK.generate(kty="oct", size=256, kid="k1")
    return sign(claims, secret, alg="HS256")


def _alg_none_token(fake: Any) -> str:
    now = int(time.time())
    claims = {**fake.user_claims("alice"), "iss": fake.issuer, "aud": CLIENT_ID}
    return unsigned({**claims, "iat": now, "exp": now + 300})


CASES: dict[str, tuple[dict[str, Any], str]] = {
    "wrong audience": ({"aud": "someone-else"}, "wrong audience"),
    "wrong issuer": ({"iss": "https://evil.example"}, "wrong issuer"),
    "expired": ({"exp": int(time.time()) - 3600, "iat": int(time.time()) - 7200}, "expired"),
    "no exp": ({"exp": None}, "expired"),
    "iat in the future": ({"iat": int(time.time()) + 3600}, "future"),
    "nbf in the future": ({"nbf": int(time.time()) + 3600}, "not yet valid"),
    "nonce mismatch": ({"nonce": "not-the-nonce"}, "nonce mismatch"),
    "no nonce": ({"nonce": None}, "nonce mismatch"),
    "no subject": ({"sub": None}, "no subject"),
    "several audiences without azp": ({"aud": [CLIENT_ID, "other"]}, "authorized party"),
    "azp of another client": ({"azp": "other"}, "authorized party"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_claims_are_refused(fake, make_connector, case: str) -> None:
    overrides, message = CASES[case]
    fake.claim_overrides.update(overrides)
    with pytest.raises(ConnectorError, match=message):
        fake_login(make_connector())


def test_several_audiences_with_our_azp_are_accepted(fake, make_connector) -> None:
    fake.claim_overrides.update(aud=[CLIENT_ID, "other"], azp=CLIENT_ID)
    assert fake_login(make_connector()).user_id == "alice"


def test_bad_signature(fake, make_connector) -> None:
    fake.sign_key = new_key("k1")  # same kid as the published key, other key material
    with pytest.raises(ConnectorError, match="invalid signature"):
        fake_login(make_connector())


def test_tampered_payload(fake, make_connector) -> None:
    good = fake.id_token("alice", nonce="n")
    header, _, sig = good.split(".")
    other = fake.id_token("mallory", nonce="n").split(".")[1]
    conn = make_connector()
    with pytest.raises(ConnectorError, match="invalid signature"):
        conn.token_identity(ID_TOKEN_TYPE, f"{header}.{other}.{sig}")


@pytest.mark.parametrize("maker", [_alg_none_token, _hs256_token], ids=["none", "HS256"])
def test_refused_algorithms(fake, make_connector, maker) -> None:
    fake.raw_id_token = maker(fake)
    with pytest.raises(ConnectorError, match="refused algorithm"):
        fake_login(make_connector())
    assert fake.jwks_requests == 0  # refused before any key is looked at


def test_header_alg_must_fit_the_key(fake, make_connector) -> None:
    """The key decides the algorithm: an EC key never verifies an RS256 header."""
    fake.header_overrides["alg"] = "RS256"
    fake.sign_key = JWK.generate(kty="RSA", size=2048, kid="k1")
    with pytest.raises(ConnectorError, match="invalid signature"):
        fake_login(make_connector())


def test_key_alg_is_enforced(fake, make_connector) -> None:
    fake.keys = [new_key("k1")]
    fake.keys[0]["alg"] = "ES384"  # published for another algorithm than the token's ES256
    with pytest.raises(ConnectorError, match="invalid signature"):
        fake_login(make_connector())


def test_unsigned_or_garbage_tokens(make_connector) -> None:
    conn = make_connector()
    for token in ("", "abc", "a.b.c", "a.b.c.d.e", "x" * 70000):
        with pytest.raises(ConnectorError):
            conn.token_identity(ID_TOKEN_TYPE, token)


# --- key rotation ------------------------------------------------------------------------------


def test_unknown_kid_refetches_the_jwks_once(fake, make_connector, clock) -> None:
    conn = make_connector()
    assert fake_login(conn).user_id == "alice"
    assert fake.jwks_requests == 1
    assert fake_login(conn).user_id == "alice"
    assert fake.jwks_requests == 1  # cached

    fake.rotate("k2")
    clock.advance(JWKS_REFETCH_INTERVAL)
    assert fake_login(conn).user_id == "alice"
    assert fake.jwks_requests == 2  # re-fetched for the new kid
    assert fake_login(conn).user_id == "alice"
    assert fake.jwks_requests == 2


def test_rotation_that_keeps_the_kid(fake, make_connector, clock) -> None:
    conn = make_connector()
    fake_login(conn)
    fake.rotate("k1")  # new key material under the old kid (e.g. an upstream restart)
    clock.advance(JWKS_REFETCH_INTERVAL)
    assert fake_login(conn).user_id == "alice"
    assert fake.jwks_requests == 2


def test_refetches_are_rate_limited(fake, make_connector, clock) -> None:
    conn = make_connector()
    fake_login(conn)
    fake.rotate("k2")
    # Within the interval after a fetch, an unknown kid does not make us fetch again...
    with pytest.raises(ConnectorError, match="invalid signature"):
        fake_login(conn)
    assert fake.jwks_requests == 1
    # ...and a token signed with a key nobody publishes costs at most one fetch per interval.
    clock.advance(JWKS_REFETCH_INTERVAL)
    fake.sign_key = new_key("k3")
    for _ in range(3):
        with pytest.raises(ConnectorError, match="invalid signature"):
            fake_login(conn)
    assert fake.jwks_requests == 2
