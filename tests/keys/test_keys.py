"""KeyManager: creation, rotation, JWKS publication and the per-process cache."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta

import pytest
from jwcrypto import jwk

from dex_py.jose.jwk import KeyStoreError, generate_jwk
from dex_py.jose.keys import KeyManager, key_infos
from dex_py.storage.base import Keys, VerificationKey

from .conftest import LIFETIME, PERIOD


class CountingStorage:
    """Wraps a storage and counts get_keys/update_keys calls."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.reads = 0
        self.updates = 0
        self.fail = False

    def get_keys(self) -> Keys:
        self.reads += 1
        if self.fail:
            raise ConnectionError("database down")
        return self.inner.get_keys()

    def update_keys(self, fn):
        self.updates += 1
        return self.inner.update_keys(fn)


def _kids(km: KeyManager) -> list[str]:
    return [k["kid"] for k in json.loads(km.jwks_json())["keys"]]


@pytest.mark.parametrize(("alg", "kty"), [("RS256", "RSA"), ("ES256", "EC")])
def test_ensure_creates_one_key_with_thumbprint_kid(make_keys, storage, clock, alg, kty) -> None:
    km = make_keys(algorithm=alg)
    km.ensure()
    row = storage.get_keys()
    private = jwk.JWK.from_json(row.signing_key)
    assert private.has_private and private["kty"] == kty
    assert private["kid"] == private.thumbprint()  # RFC 7638
    assert json.loads(row.signing_key_pub)["kid"] == private["kid"]
    assert "d" not in json.loads(row.signing_key_pub)
    assert row.next_rotation == clock.now() + PERIOD
    assert row.verification_keys == ()
    signer = km.signer()
    assert (signer.kid, signer.alg) == (private["kid"], alg)
    if kty == "RSA":
        assert len(private["n"]) == 342  # 2048-bit modulus


def test_ensure_is_idempotent(make_keys, storage) -> None:
    km = make_keys()
    km.ensure()
    first = storage.get_keys()
    km.ensure()
    make_keys().ensure()
    assert storage.get_keys() == first


def test_signer_creates_keys_lazily(make_keys, storage) -> None:
    km = make_keys(algorithm="ES256")
    assert km.signer().alg == "ES256"
    assert json.loads(storage.get_keys().signing_key)["kid"] == km.signer().kid


def test_jwks_document(make_keys, clock) -> None:
    km = make_keys(algorithm="ES256")
    km.ensure()
    doc = json.loads(km.jwks_json())
    assert len(doc["keys"]) == 1
    key = doc["keys"][0]
    assert key["kid"] == km.signer().kid
    assert (key["use"], key["alg"], key["kty"], key["crv"]) == ("sig", "ES256", "EC", "P-256")
    assert "d" not in key
    assert km.jwks_max_age() == int(PERIOD.total_seconds())
    assert jwk.JWKSet.from_json(km.jwks_json()).get_key(key["kid"]) is not None


def test_rotate_only_after_period(make_keys, storage, clock) -> None:
    km = make_keys()
    km.ensure()
    first = km.signer().kid
    clock.advance(PERIOD - timedelta(seconds=1))
    assert km.rotate_if_due() is False
    assert storage.get_keys().signing_key_pub
    assert km.signer().kid == first
    clock.advance(seconds=1)
    assert km.rotate_if_due() is True
    assert km.rotate_if_due() is False
    row = storage.get_keys()
    assert km.signer().kid != first
    assert json.loads(row.signing_key)["kid"] == km.signer().kid
    assert [json.loads(vk.jwk)["kid"] for vk in row.verification_keys] == [first]
    assert row.verification_keys[0].expiry == clock.now() + LIFETIME
    assert row.next_rotation == clock.now() + PERIOD
    assert _kids(km) == [km.signer().kid, first]


def test_retired_key_published_until_its_expiry(make_keys, storage, clock) -> None:
    km = make_keys(algorithm="ES256", rotation_period=timedelta(hours=1))
    km.ensure()
    first = km.signer().kid
    clock.advance(hours=1)
    assert km.rotate_if_due()
    retired_at = clock.now()
    second = km.signer().kid
    clock.advance(hours=1)
    assert km.rotate_if_due()
    third = km.signer().kid
    assert _kids(km) == [third, first, second]
    # The first key's expiry is retired_at + LIFETIME: published up to and including it.
    clock.set(retired_at + LIFETIME)
    assert first in _kids(km) and km.public_key(first) is not None
    clock.advance(seconds=1)
    assert _kids(km) == [third, second]
    assert km.public_key(first) is None
    # Expired keys are dropped from storage at the next rotation (long overdue by now).
    assert km.rotate_if_due()
    stored = [json.loads(vk.jwk)["kid"] for vk in storage.get_keys().verification_keys]
    assert first not in stored and second in stored and third in stored


def test_cache_does_not_hit_storage_per_request(storage, clock) -> None:
    counting = CountingStorage(storage)
    km = KeyManager(
        counting, clock, rotation_period=PERIOD, id_token_lifetime=LIFETIME, refresh_interval=5.0
    )
    km.ensure()
    reads = counting.reads
    for _ in range(100):
        km.signer()
        km.jwks_json()
        km.public_key("nope")
    assert counting.reads == reads
    clock.advance(seconds=5)
    km.signer()
    km.signer()
    assert counting.reads == reads + 1


def test_cache_reuses_parsed_keys_across_refreshes(make_keys, clock) -> None:
    km = make_keys(refresh_interval=1.0)
    km.ensure()
    signer, jwks = km.signer(), km.jwks_json()
    clock.advance(seconds=2)
    assert km.signer() is signer
    assert km.jwks_json() is jwks


def test_other_replica_rotation_seen_after_refresh_or_rotation_time(make_keys, storage, clock):
    a = make_keys(refresh_interval=60.0)
    b = make_keys(refresh_interval=60.0)
    a.ensure()
    first = b.signer().kid
    clock.advance(PERIOD)
    # Rotation due: b re-reads storage once when next_rotation passes...
    assert b.signer().kid == first
    assert a.rotate_if_due()
    # ...and afterwards within its refresh interval, not per call.
    assert b.signer().kid == first
    clock.advance(seconds=60)
    assert b.signer().kid == a.signer().kid != first
    assert b.public_key(first) is not None


def test_overdue_rotation_does_not_reread_per_request(storage, clock) -> None:
    counting = CountingStorage(storage)
    km = KeyManager(counting, clock, rotation_period=PERIOD, id_token_lifetime=LIFETIME)
    km.ensure()
    clock.advance(PERIOD + timedelta(seconds=1))
    km.signer()
    reads = counting.reads
    for _ in range(50):
        km.signer()
    assert counting.reads == reads


def test_storage_outage_keeps_cached_keys(storage, clock) -> None:
    counting = CountingStorage(storage)
    km = KeyManager(counting, clock, rotation_period=PERIOD, id_token_lifetime=LIFETIME)
    km.ensure()
    kid = km.signer().kid
    counting.fail = True
    clock.advance(seconds=10)
    assert km.signer().kid == kid
    reads = counting.reads
    km.signer()
    assert counting.reads == reads  # retried only after another refresh interval
    counting.fail = False
    clock.advance(seconds=10)
    assert km.signer().kid == kid


def test_no_cache_and_storage_down_raises(storage, clock) -> None:
    counting = CountingStorage(storage)
    counting.fail = True
    km = KeyManager(counting, clock, rotation_period=PERIOD, id_token_lifetime=LIFETIME)
    with pytest.raises(ConnectionError):
        km.signer()


def test_algorithm_change_rotates_and_keeps_old_key_published(make_keys, storage, clock):
    rsa = make_keys(algorithm="RS256")
    rsa.ensure()
    old = rsa.signer().kid
    ec = make_keys(algorithm="ES256")
    ec.ensure()
    assert ec.signer().alg == "ES256"
    assert ec.public_key(old) is not None and ec.public_key(old).alg == "RS256"
    ec.ensure()
    assert len(storage.get_keys().verification_keys) == 1


def test_rotate_now_forces_a_rotation(make_keys, storage, clock) -> None:
    km = make_keys()
    km.ensure()
    first = km.signer().kid
    kid = km.rotate_now()
    assert kid == km.signer().kid != first
    row = storage.get_keys()
    assert json.loads(row.verification_keys[0].jwk)["kid"] == first
    assert row.next_rotation == clock.now() + PERIOD


def test_rotate_now_is_cas_safe(make_keys, storage, clock) -> None:
    a = make_keys(algorithm="ES256")
    a.ensure()

    class Racing(CountingStorage):
        def update_keys(self, fn):
            if self.updates == 0:  # another replica rotates between our read and write
                make_keys(algorithm="ES256").rotate_now()
            return super().update_keys(fn)

    racing = Racing(storage)
    km = KeyManager(
        racing, clock, algorithm="ES256", rotation_period=PERIOD, id_token_lifetime=LIFETIME
    )
    kid = km.rotate_now()
    row = storage.get_keys()
    assert len(row.verification_keys) == 1  # one rotation, not two
    assert json.loads(row.signing_key)["kid"] == kid


def test_rotate_if_due_is_cas_safe_in_process(make_keys, storage, clock) -> None:
    a, b = make_keys(algorithm="ES256"), make_keys(algorithm="ES256")
    a.ensure()
    b.signer()
    clock.advance(PERIOD)
    assert [a.rotate_if_due(), b.rotate_if_due()] == [True, False]
    assert len(storage.get_keys().verification_keys) == 1


def test_unreadable_verification_key_is_skipped(make_keys, storage, clock) -> None:
    km = make_keys(algorithm="ES256")
    km.ensure()
    good = json.loads(generate_jwk("ES256").public_jwk)
    row = storage.get_keys()
    bad = (
        VerificationKey(jwk="{not json", expiry=clock.now() + LIFETIME),
        VerificationKey(jwk='{"kty":"oct","k":"c2VjcmV0","kid":"hmac"}', expiry=row.next_rotation),
        VerificationKey(jwk=json.dumps(good), expiry=clock.now() + LIFETIME),
    )
    storage.update_keys(lambda old: replace(old, verification_keys=bad))
    fresh = make_keys(algorithm="ES256")
    assert _kids(fresh) == [fresh.signer().kid, good["kid"]]
    assert fresh.public_key("hmac") is None


def test_corrupt_signing_key_is_an_error(make_keys, storage, clock) -> None:
    storage.update_keys(
        lambda old: Keys(
            signing_key='{"kty":"oct","k":"c2VjcmV0","kid":"x","alg":"HS256"}',
            signing_key_pub="",
            verification_keys=(),
            next_rotation=clock.now() + PERIOD,
        )
    )
    with pytest.raises(KeyStoreError):
        make_keys(algorithm="RS256", storage=storage).signer()


def test_key_infos(make_keys, storage, clock) -> None:
    km = make_keys(algorithm="ES256", rotation_period=timedelta(hours=1))
    km.ensure()
    first = km.signer().kid
    clock.advance(hours=1)
    km.rotate_if_due()
    infos = key_infos(storage.get_keys(), clock.now())
    assert [(i.kid, i.alg, i.status) for i in infos] == [
        (km.signer().kid, "ES256", "signing"),
        (first, "ES256", "retired"),
    ]
    later = key_infos(storage.get_keys(), clock.now() + LIFETIME + timedelta(seconds=1))
    assert later[1].status == "expired"


@pytest.mark.parametrize(
    "kwargs",
    [{"algorithm": "HS256"}, {"algorithm": "none"}, {"rotation_period": timedelta(0)}],
)
def test_bad_settings_rejected(make_keys, kwargs) -> None:
    with pytest.raises(ValueError):
        make_keys(**kwargs)


def test_keys_are_parsed_once_not_per_request(make_keys, clock, monkeypatch) -> None:
    from dex_py.jose import keys as keys_module
    from dex_py.jose.tokens import sign, verify

    km = make_keys(algorithm="ES256", refresh_interval=1.0)
    km.ensure()
    calls = {"private": 0, "public": 0}
    real_private, real_public = keys_module._parse_private, keys_module._parse_public

    def count_private(text):
        calls["private"] += 1
        return real_private(text)

    def count_public(text):
        calls["public"] += 1
        return real_public(text)

    monkeypatch.setattr(keys_module, "_parse_private", count_private)
    monkeypatch.setattr(keys_module, "_parse_public", count_public)
    now = int(clock.now().timestamp())
    for i in range(30):
        clock.advance(seconds=1)  # crosses the refresh interval every time
        token = sign(km, {"iss": "i", "aud": "a", "exp": now + 3600, "n": i})
        assert verify(km, token, issuer="i", audience="a", clock=clock)["n"] == i
        km.jwks_json()
    assert calls == {"private": 0, "public": 0}
    clock.advance(PERIOD)
    assert km.rotate_if_due()
    km.signer()
    assert calls["private"] == 1  # the new key, once


def test_concurrent_threads_sign_and_verify_across_rotation(make_keys, clock) -> None:
    import threading

    from dex_py.jose.tokens import sign, verify

    km = make_keys(algorithm="ES256", refresh_interval=0.0)
    km.ensure()
    exp = int(clock.now().timestamp()) + 7 * 86400
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(40):
                token = sign(km, {"iss": "i", "aud": "a", "exp": exp, "t": n, "i": i})
                assert verify(km, token, issuer="i", audience="a", clock=clock)["i"] == i
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for _ in range(3):
        clock.advance(PERIOD)
        km.rotate_if_due()
    for t in threads:
        t.join()
    assert errors == []
    assert len(json.loads(km.jwks_json())["keys"]) == 4
