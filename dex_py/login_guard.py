"""Brute-force protection for password logins (RFC 6749 §4.3.2 asks it of the password grant;
NIST SP 800-63B §5.2.2 limits failed attempts per account), shared by every worker and replica
through the storage's attempt counters.

The login form and the password grant ask ``LoginGuard.admit`` before the password is checked
(so a refused attempt costs no bcrypt and learns nothing), then report ``failed`` or
``succeeded``. An account is the connector id plus the typed user name, lower-cased, whether
or not such a user exists: the answers are the same for both, so a lock reveals nothing.

Limits (``dex_py.config.brute_force``, the ``bruteForce`` section): per account and address
(locks that address for that account; a success from it resets these counts), per account and
address over a day, per address over all accounts (password spraying), and per account over
all addresses, which never locks but lets one attempt through per ``oneAttemptEvery``: failures
from elsewhere delay the owner, they cannot lock them out. Each lock is logged once (when it
starts) and counted by the caller in ``dexpy_login_locks_total{limit}``. Admins lift them with
``dex-py users unlock``. The counters are the storage's, or a Redis's with ``bruteForce.redis``
(``attempt_counter``).
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from dex_py.clock import Clock
from dex_py.config.brute_force import BruteForcePolicy, Limit
from dex_py.storage.redis_attempts import RedisAttempts

log = logging.getLogger(__name__)


class AttemptCounter(Protocol):
    """The counters the guards keep: the storage's own, or ``RedisAttempts``."""

    def count_attempt(self, key: str, now: datetime, window: timedelta) -> int: ...
    def attempts(self, key: str, now: datetime) -> int: ...
    def reset_attempts(self, prefix: str) -> int: ...


def attempt_counter(storage: AttemptCounter, policy: BruteForcePolicy) -> AttemptCounter:
    """Where the failed attempts are counted: ``bruteForce.redis`` when set, else storage."""
    if policy.redis_url:
        return RedisAttempts(policy.redis_url, policy.redis_key_prefix)
    return storage


PREFIX = "login:"


@dataclass(frozen=True)
class Admission:
    """``allowed``, or the limit that refused (``limit``)."""

    allowed: bool
    limit: str = ""


ADMITTED = Admission(True)


def _part(text: str) -> str:
    """A key part that cannot contain the separator, of bounded length."""
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def account_key(connector_id: str, username: str) -> str:
    """The key prefix of one account's counters (``dex-py users unlock`` removes them all)."""
    return f"{PREFIX}acct:{_part(connector_id)}:{_part(username.strip().lower())}:"


class LoginGuard:
    """Counts failed logins in storage and refuses attempts past the limits."""

    def __init__(self, storage: AttemptCounter, clock: Clock, policy: BruteForcePolicy) -> None:
        self.storage = storage
        self.clock = clock
        self.policy = policy

    def _keys(self, connector_id: str, username: str, address: str) -> dict[str, str]:
        account = account_key(connector_id, username)
        return {
            "accountAndAddress": f"{account}addr:{_part(address)}",
            "accountAndAddressDaily": f"{account}addr-day:{_part(address)}",
            "address": f"{PREFIX}addr:{_part(address)}",
            "account": f"{account}all",
            "slot": f"{account}slot",
        }

    def _limits(self) -> dict[str, Limit]:
        p = self.policy
        return {
            "accountAndAddress": p.account_and_address,
            "accountAndAddressDaily": p.account_and_address_daily,
            "address": p.address,
            "account": p.account,
        }

    def admit(self, connector_id: str, username: str, address: str) -> Admission:
        """Whether this attempt may check a password at all."""
        if not self.policy.enabled:
            return ADMITTED
        now = self.clock.now()
        keys = self._keys(connector_id, username, address)
        limits = self._limits()
        for name in ("address", "accountAndAddress", "accountAndAddressDaily"):
            if self.storage.attempts(keys[name], now) >= limits[name].failures:
                return Admission(False, name)
        if self.storage.attempts(keys["account"], now) >= limits["account"].failures:
            slot = self.policy.account_slot
            if self.storage.count_attempt(keys["slot"], now, slot) != 1:
                return Admission(False, "account")
        return ADMITTED

    def failed(self, connector_id: str, username: str, address: str) -> list[str]:
        """Count a failed password check; returns (and logs) the limits this failure reached,
        each once, when its lock starts."""
        if not self.policy.enabled:
            return []
        now = self.clock.now()
        keys = self._keys(connector_id, username, address)
        reached = []
        for name, limit in self._limits().items():
            count = self.storage.count_attempt(keys[name], now, limit.window)
            if count == limit.failures:
                log.warning(
                    "login limit reached: %s (%d failures within %s)",
                    name,
                    count,
                    _text(limit.window),
                    extra={"connector": connector_id, "limit": name},
                )
                reached.append(name)
        return reached

    def succeeded(self, connector_id: str, username: str, address: str) -> None:
        """A good password from this address: its counts for this account start over."""
        if not self.policy.enabled:
            return
        keys = self._keys(connector_id, username, address)
        for name in ("accountAndAddress", "accountAndAddressDaily"):
            self.storage.reset_attempts(keys[name])

    def unlock(self, connector_id: str, username: str) -> int:
        """Remove every count of one account (all addresses); returns how many."""
        return self.storage.reset_attempts(account_key(connector_id, username))


class ClientGuard:
    """Failed client authentication at ``/token``, per client and address: past
    ``accountAndAddress`` failures (the same limit as for users) the client's attempts from
    that address are refused until the window ends, the right secret included.

    Checking a count on every token request would cost a storage read on the hottest path, so a
    worker checks only for clients it has seen fail within the daily window: a guesser's
    requests reach every worker of a replica within a few tries, and each worker then reads the
    shared count, so the lock holds across workers and replicas."""

    def __init__(self, storage: AttemptCounter, clock: Clock, policy: BruteForcePolicy) -> None:
        self.storage = storage
        self.clock = clock
        self.policy = policy
        self._suspects: dict[str, float] = {}  # client id -> when this worker last saw it fail

    def _key(self, client_id: str, address: str) -> str:
        return f"{PREFIX}client:{_part(client_id)}:{_part(address)}"

    def admit(self, client_id: str, address: str) -> bool:
        if not self.policy.enabled or not client_id:
            return True
        seen = self._suspects.get(client_id)
        now = self.clock.now()
        if seen is None:
            return True
        if now.timestamp() - seen > self.policy.account_and_address_daily.window.total_seconds():
            del self._suspects[client_id]
            return True
        limit = self.policy.account_and_address.failures
        return self.storage.attempts(self._key(client_id, address), now) < limit

    def failed(self, client_id: str, address: str) -> bool:
        """Count a failure; True when it reached the limit (a lock starts)."""
        if not self.policy.enabled or not client_id:
            return False
        now = self.clock.now()
        if len(self._suspects) > 10_000:  # client ids are the caller's to choose
            self._suspects.clear()
        self._suspects[client_id] = now.timestamp()
        limit = self.policy.account_and_address
        count = self.storage.count_attempt(self._key(client_id, address), now, limit.window)
        if count == limit.failures:
            log.warning("client authentication limit reached", extra={"client_id": client_id})
            return True
        return False


class SecondFactorGuard:
    """Wrong second-factor codes (TOTP or recovery) per user, whatever the address: whoever
    sends them knows the password already. Past ``secondFactor.failures`` within its window,
    codes are refused without being checked (the right one included) until the window ends:
    with at most three valid TOTP codes of a million at any time, a guesser gets a handful of
    tries per window. ``dex-py users reset-mfa`` lifts the lock."""

    def __init__(self, storage: AttemptCounter, clock: Clock, policy: BruteForcePolicy) -> None:
        self.storage = storage
        self.clock = clock
        self.policy = policy

    @staticmethod
    def key(user_key: str) -> str:
        return f"{PREFIX}mfa:{_part(user_key)}"

    def admit(self, user_key: str) -> bool:
        if not self.policy.enabled:
            return True
        count = self.storage.attempts(self.key(user_key), self.clock.now())
        return count < self.policy.second_factor.failures

    def failed(self, user_key: str) -> bool:
        """Count a wrong code; True when this one reached the limit (a lock starts)."""
        if not self.policy.enabled:
            return False
        limit = self.policy.second_factor
        count = self.storage.count_attempt(self.key(user_key), self.clock.now(), limit.window)
        if count == limit.failures:
            log.warning(
                "second factor limit reached (%d wrong codes within %s)",
                count,
                _text(limit.window),
                extra={"limit": "secondFactor"},
            )
            return True
        return False

    def succeeded(self, user_key: str) -> None:
        self.reset(user_key)

    def reset(self, user_key: str) -> int:
        return self.storage.reset_attempts(self.key(user_key))


def _text(window: timedelta) -> str:
    return f"{int(window.total_seconds())}s"
