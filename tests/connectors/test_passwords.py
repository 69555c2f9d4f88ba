"""Server-side password helpers: hashing policy and the static-then-storage lookup."""

from __future__ import annotations

import dataclasses

import bcrypt
import pytest

from connectors.base import Scopes
from connectors.local import LocalConnector, PasswordRecord
from dex_py.config import StaticPassword
from dex_py.passwords import (
    DEFAULT_COST,
    PasswordService,
    check_password_policy,
    hash_password,
    most_common_cost,
)
from dex_py.storage.base import NotFoundError, Password
from dex_py.storage.memory import MemoryStorage

DEX_HASH = b"$2a$10$2b2cU8CPhOTaGrs1HRQuAueS7JTT5ZHsHSzYiFPm1leZck7Mc8T4W"


class FakePasswordStorage:
    """Just the password part of the storage contract."""

    def __init__(self, *passwords: Password) -> None:
        self.passwords = {p.email: p for p in passwords}
        self.asked: list[str] = []

    def get_password(self, email: str) -> Password:
        self.asked.append(email)
        try:
            return self.passwords[email]
        except KeyError:
            raise NotFoundError(email) from None


def test_hash_password_round_trips():
    h = hash_password("correct horse", cost=4)
    assert h.startswith(b"$2b$04$")
    assert bcrypt.checkpw(b"correct horse", h)
    assert not bcrypt.checkpw(b"wrong horse", h)


def test_hash_password_default_cost_is_dex_default():
    assert hash_password("x").startswith(b"$2b$10$")


@pytest.mark.parametrize(
    ("plain", "rule"),
    [("", "must not be empty"), ("a" * 73, "at most 72 bytes"), ("ü" * 37, "at most 72 bytes")],
)
def test_hash_password_refuses_policy_violations(plain, rule):
    with pytest.raises(ValueError, match=rule):
        hash_password(plain, cost=4)
    with pytest.raises(ValueError, match=rule):
        check_password_policy(plain)


def test_hash_password_accepts_72_bytes():
    assert bcrypt.checkpw(b"a" * 72, hash_password("a" * 72, cost=4))


def test_hash_password_refuses_bad_cost():
    with pytest.raises(ValueError, match="cost"):
        hash_password("x", cost=3)


def test_lookup_prefers_static_passwords_and_lowercases():
    static = StaticPassword(
        email="Admin@Example.com", hash=DEX_HASH, username="admin", user_id="static-id"
    )
    stored = Password(email="admin@example.com", hash=b"other", username="db", user_id="db-id")
    jane = Password(
        email="jane@example.com", hash=b"h", username="jane", user_id="j", groups=("g",)
    )
    storage = FakePasswordStorage(stored, jane)
    service = PasswordService(storage, [static])  # type: ignore[arg-type]

    record = service.lookup("ADMIN@example.com")
    assert record == PasswordRecord(
        email="admin@example.com", hash=DEX_HASH, username="admin", user_id="static-id"
    )
    assert storage.asked == []
    assert service.is_static("admin@EXAMPLE.com")
    assert not service.is_static("jane@example.com")

    assert service.lookup("Jane@Example.com") == PasswordRecord(
        email="jane@example.com", hash=b"h", username="jane", user_id="j", groups=("g",)
    )
    assert storage.asked == ["jane@example.com"]
    assert service.lookup("nobody@example.com") is None


def test_service_drives_the_local_connector():
    jane = Password(
        email="jane@example.com",
        hash=hash_password("pw", cost=4),
        username="jane",
        user_id="j",
        groups=("devs",),
    )
    storage = FakePasswordStorage(jane)
    service = PasswordService(storage, [])  # type: ignore[arg-type]
    conn = LocalConnector.open({}, connector_id="local", password_lookup=service.lookup)
    identity = conn.login(Scopes(groups=True), "JANE@example.com", "pw")
    assert identity is not None and identity.groups == ("devs",)
    storage.passwords["jane@example.com"] = dataclasses.replace(jane, username="Jane D.")
    assert conn.refresh(Scopes(), identity).username == "Jane D."


def _stored(email: str, cost: int) -> Password:
    return Password(email=email, hash=hash_password("pw", cost=cost), username=email, user_id=email)


def test_most_common_cost():
    h4, h5 = hash_password("pw", cost=4), hash_password("pw", cost=5)
    assert most_common_cost([h4, h5, h5]) == 5
    assert most_common_cost([h4, h4, h5, b"not-bcrypt", b"junk"]) == 4
    assert most_common_cost([h4, h5]) == 5  # a tie: the costlier
    assert most_common_cost([]) == DEFAULT_COST


def test_typical_cost_counts_static_and_stored_hashes():
    """Issue 7 item 12: the dummy check of an unknown address uses the cost most users have."""
    storage = MemoryStorage()
    for i in range(3):
        storage.create_password(_stored(f"u{i}@example.com", 5))
    static = [
        StaticPassword(
            email=f"s{i}@example.com",
            hash=hash_password("pw", cost=4),
            username="s",
            user_id=f"s{i}",
        )
        for i in range(2)
    ]
    assert PasswordService(storage, static).typical_cost() == 5
    assert PasswordService(MemoryStorage(), static).typical_cost() == 4
    assert PasswordService(MemoryStorage(), []).typical_cost() == DEFAULT_COST
