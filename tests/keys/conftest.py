"""Fixtures for the key and token tests: a frozen clock, a storage, key manager factories."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

from dex_py.clock import FrozenClock
from dex_py.jose.jwk import generate_jwk
from dex_py.jose.keys import KeyManager
from dex_py.storage.base import Keys
from dex_py.storage.memory import MemoryStorage

ISSUER = "https://dex.example.com/dex"
PERIOD = timedelta(hours=6)
LIFETIME = timedelta(hours=24)


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
def storage() -> MemoryStorage:
    return MemoryStorage()


@pytest.fixture
def make_keys(storage, clock) -> Callable[..., KeyManager]:
    """``make_keys(**overrides)``: a KeyManager on the shared storage and frozen clock."""

    def make(**overrides) -> KeyManager:
        kwargs = dict(algorithm="RS256", rotation_period=PERIOD, id_token_lifetime=LIFETIME)
        kwargs.update(overrides)
        st = kwargs.pop("storage", storage)
        return KeyManager(st, clock, **kwargs)

    return make


@pytest.fixture(scope="session")
def premade_jwks() -> dict[str, str]:
    """One private JWK per algorithm, generated once per session (RSA generation is slow)."""
    return {alg: generate_jwk(alg).private_jwk for alg in ("RS256", "ES256")}


@pytest.fixture
def seed_keys(storage, clock, premade_jwks) -> Callable[[str], None]:
    """``seed_keys(alg)``: store a premade signing key as if ``ensure()`` had created it."""

    def seed(alg: str) -> None:
        from jwcrypto.jwk import JWK

        private = premade_jwks[alg]
        public = JWK.from_json(private).export_public()
        row = Keys(private, public, (), clock.now() + PERIOD)
        storage.update_keys(lambda old: row)

    return seed
