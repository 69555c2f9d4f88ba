"""dex_py.login_guard with a frozen clock, on the memory storage's counters and on a real
Redis's (``bruteForce.redis``): which limit locks what, for how long, and what a success or an
admin resets. The storage's counters themselves are checked on every backend by
tests/storage/test_conformance.py."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest

from dex_py.clock import FrozenClock
from dex_py.config.brute_force import BruteForcePolicy, Limit
from dex_py.config.model import ConfigError
from dex_py.login_guard import AttemptCounter, LoginGuard
from dex_py.storage.memory import MemoryStorage
from dex_py.storage.redis_attempts import RedisAttempts
from tests.services import require_service

ALICE, EVE, HOME, ELSEWHERE = "alice@example.com", "eve", "198.51.100.1", "203.0.113.66"


# Every test runs on the storage's counters and on bruteForce.redis's (a real Redis).
_COUNTERS: list[Callable[[], AttemptCounter]] = [MemoryStorage]


@pytest.fixture(autouse=True, params=["storage", "redis"])
def counters(request: pytest.FixtureRequest) -> Iterator[None]:
    if request.param == "storage":
        yield
        return
    require_service("Redis", "127.0.0.1", 6379)
    prefix = f"dexpy-test-{uuid.uuid4().hex}:"
    made: list[RedisAttempts] = []

    def make() -> RedisAttempts:
        made.append(RedisAttempts("redis://127.0.0.1:6379/0", prefix))
        return made[-1]

    _COUNTERS[0] = make
    try:
        yield
    finally:
        _COUNTERS[0] = MemoryStorage
        for counter in made:
            counter.reset_attempts("")
            counter.close()


def guard(**policy: object) -> tuple[LoginGuard, FrozenClock]:
    clock = FrozenClock()
    return LoginGuard(_COUNTERS[0](), clock, BruteForcePolicy(**policy)), clock  # type: ignore[arg-type]


def fail(g: LoginGuard, n: int, user: str = ALICE, address: str = ELSEWHERE) -> list[str]:
    reached: list[str] = []
    for _ in range(n):
        assert g.admit("local", user, address).allowed
        reached += g.failed("local", user, address)
    return reached


def test_five_failures_lock_that_address_for_that_account_for_the_window() -> None:
    g, clock = guard()
    assert fail(g, 5) == ["accountAndAddress"]
    refused = g.admit("local", ALICE, ELSEWHERE)
    assert (refused.allowed, refused.limit) == (False, "accountAndAddress")
    assert g.admit("local", "ALICE@example.com ", ELSEWHERE).allowed is False  # same account
    assert g.admit("local", ALICE, HOME).allowed  # the owner's address is not locked
    assert g.admit("local", EVE, ELSEWHERE).allowed  # nor other accounts
    assert g.admit("ldap", ALICE, ELSEWHERE).allowed  # nor the same name on another connector
    clock.advance(minutes=15)
    assert g.admit("local", ALICE, ELSEWHERE).allowed


def test_the_daily_limit_outlasts_the_short_window() -> None:
    g, clock = guard()
    for _ in range(4):
        fail(g, 5)
        clock.advance(minutes=15)
    refused = g.admit("local", ALICE, ELSEWHERE)
    assert (refused.allowed, refused.limit) == (False, "accountAndAddressDaily")
    clock.advance(hours=23)
    assert g.admit("local", ALICE, ELSEWHERE).allowed


def test_a_success_resets_the_address_counts() -> None:
    g, _ = guard()
    fail(g, 4)
    g.succeeded("local", ALICE, ELSEWHERE)
    assert fail(g, 4) == []  # four more are fine again
    assert g.admit("local", ALICE, ELSEWHERE).allowed


def test_spraying_many_accounts_from_one_address_locks_the_address() -> None:
    g, _ = guard(address=Limit(10, timedelta(hours=1)))
    for i in range(10):
        fail(g, 1, user=f"user{i}")
    refused = g.admit("local", "someone-new", ELSEWHERE)
    assert (refused.allowed, refused.limit) == (False, "address")
    assert g.admit("local", "someone-new", HOME).allowed


def test_many_addresses_throttle_an_account_but_never_lock_out_its_owner() -> None:
    """A guesser with a fresh address for each guess: past ``account.failures`` the account takes
    one attempt per ``oneAttemptEvery``; the owner gets in at the next free slot."""
    g, clock = guard(account=Limit(50, timedelta(hours=24)), account_slot=timedelta(minutes=5))
    for i in range(50):
        fail(g, 1, address=f"10.0.{i // 250}.{i % 250}")
    assert g.admit("local", ALICE, "10.9.9.1").allowed  # the first attempt of this slot
    g.failed("local", ALICE, "10.9.9.1")
    refused = g.admit("local", ALICE, HOME)
    assert (refused.allowed, refused.limit) == (False, "account")
    clock.advance(minutes=5)
    assert g.admit("local", ALICE, HOME).allowed  # delayed, not locked out


def test_a_guesser_gets_a_few_hundred_tries_a_day_at_most() -> None:
    """The defaults against one guesser with unlimited fresh addresses, for one day."""
    g, clock = guard()
    tries = 0
    for minute in range(24 * 60):
        address = f"10.{minute // 65536}.{minute // 256 % 256}.{minute % 256}"
        for _ in range(10):  # ten guesses a minute, each from a new address
            if g.admit("local", ALICE, address).allowed:
                tries += 1
                g.failed("local", ALICE, address)
            address += "1"
        clock.advance(minutes=1)
    assert tries <= 50 + 24 * 60 // 5  # the threshold, then one per 5 minutes: 338


def test_unlock_removes_every_count_of_the_account() -> None:
    g, _ = guard()
    fail(g, 5)
    fail(g, 5, address=HOME)
    assert g.unlock("local", ALICE) == 5  # two addresses x two windows, and the account total
    assert g.admit("local", ALICE, ELSEWHERE).allowed
    assert g.admit("local", ALICE, HOME).allowed


def test_off() -> None:
    g, _ = guard(enabled=False)
    assert fail(g, 30) == []


def test_config_errors_name_their_keys() -> None:
    with pytest.raises(ConfigError) as info:
        BruteForcePolicy.from_config(
            {
                "enabled": "yes",
                "account": {"failures": 0, "window": "1 day", "oneAttemptEvery": "-1m"},
                "address": {"limit": 3},
                "perIP": {},
            }
        )
    assert dict(info.value.errors) == {
        "bruteForce.enabled": "must be true or false",
        "bruteForce.account.failures": "must be a positive integer",
        "bruteForce.account.window": "invalid duration '1 day': expected a number and a unit",
        "bruteForce.account.oneAttemptEvery": "must be a positive duration",
        "bruteForce.address.limit": "unknown key (expected one of: failures, window)",
        "bruteForce.perIP": "unknown key (expected one of: enabled, redis, accountAndAddress, "
        "accountAndAddressDaily, address, account, secondFactor)",
    }
    parsed = BruteForcePolicy.from_config(
        {"account": {"failures": 10, "window": "12h", "oneAttemptEvery": "10m"}}
    )
    assert parsed.account == Limit(10, timedelta(hours=12))
    assert parsed.account_slot == timedelta(minutes=10)


class _NoReads(MemoryStorage):
    def attempts(self, key: str, now: object) -> int:  # type: ignore[override]
        raise AssertionError("a client that never failed must cost no storage read")


def test_a_client_that_never_failed_costs_no_read() -> None:
    from dex_py.login_guard import ClientGuard

    g = ClientGuard(_NoReads(), FrozenClock(), BruteForcePolicy())
    assert g.admit("example-app", HOME)
    g.storage = MemoryStorage()
    for _ in range(5):
        g.failed("example-app", ELSEWHERE)
    assert not g.admit("example-app", ELSEWHERE)
    assert g.admit("example-app", HOME)
    assert g.admit("other-app", ELSEWHERE)


def test_an_unlock_of_a_name_with_glob_characters_touches_no_other_account() -> None:
    g, _ = guard()
    for user in ("a*", "ab", "a[b]"):
        fail(g, 5, user=user)
        assert not g.admit("local", user, ELSEWHERE).allowed
    assert g.unlock("local", "a*") > 0
    assert g.admit("local", "a*", ELSEWHERE).allowed
    assert not g.admit("local", "ab", ELSEWHERE).allowed
    assert not g.admit("local", "a[b]", ELSEWHERE).allowed


def test_redis_key_prefixes_with_glob_characters_match_only_themselves() -> None:
    require_service("Redis", "127.0.0.1", 6379)
    now = FrozenClock().now()
    tag = uuid.uuid4().hex
    url = "redis://127.0.0.1:6379/0"
    starry, plain = RedisAttempts(url, f"t{tag}*:"), RedisAttempts(url, f"t{tag}x:")
    try:
        starry.count_attempt("k", now, timedelta(minutes=1))
        plain.count_attempt("k", now, timedelta(minutes=1))
        assert starry.reset_attempts("") == 1
        assert plain.attempts("k", now) == 1
    finally:
        plain.reset_attempts("")
        starry.close()
        plain.close()


def test_redis_counters_answer_503_material_when_redis_is_down() -> None:
    from dex_py.storage import DATABASE_UNAVAILABLE
    from dex_py.storage.redis_attempts import RedisAttemptsUnavailable

    counter = RedisAttempts("redis://:not-this-password@127.0.0.1:9/0")
    with pytest.raises(RedisAttemptsUnavailable) as raised:
        counter.count_attempt("k", FrozenClock().now(), timedelta(minutes=1))
    assert isinstance(raised.value, DATABASE_UNAVAILABLE)
    assert "not-this-password" not in str(raised.value)


def test_the_redis_key_of_bruteforce_config() -> None:
    policy = BruteForcePolicy.from_config({"redis": {"url": "redis://h:6379/1", "keyPrefix": "x:"}})
    assert (policy.redis_url, policy.redis_key_prefix) == ("redis://h:6379/1", "x:")
    with pytest.raises(ConfigError) as raised:
        BruteForcePolicy.from_config({"redis": {"url": "http://h", "db": 1}})
    assert dict(raised.value.errors) == {
        "bruteForce.redis.url": "must be a redis://, rediss:// or unix:// URL",
        "bruteForce.redis.db": "unknown key (expected one of: url, keyPrefix)",
    }
