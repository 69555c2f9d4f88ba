"""The ``bruteForce`` section (a dex-py addition): limits on failed password logins.

::

    bruteForce:
      enabled: true                        # default true
      accountAndAddress: {failures: 5, window: 15m}     # that address is locked for that account
      accountAndAddressDaily: {failures: 20, window: 24h}
      address: {failures: 100, window: 1h}              # one address trying many accounts
      account: {failures: 50, window: 24h, oneAttemptEvery: 5m}   # many addresses, one account
      secondFactor: {failures: 5, window: 15m}  # wrong TOTP/recovery codes of one user
      redis: {url: "redis://127.0.0.1:6379/0", keyPrefix: "dexpy:attempts:"}   # optional

The first three lock: once ``failures`` failed logins happened within ``window`` (a fixed
window that starts with the first failure), further attempts are refused without checking the
password until the window ends. ``account`` never locks, since its failures may come from
anybody: past its threshold the account takes one password attempt per ``oneAttemptEvery``
from whoever asks first, so a guesser with many addresses is held to about
``window / oneAttemptEvery`` guesses a day, and the owner waits at most ``oneAttemptEvery``.
``secondFactor`` counts wrong second-factor codes per user (whoever sends them already knows
the password) and locks the second factor for the rest of the window. The limits themselves
live in ``dex_py.login_guard``. The counts live in the storage, shared by every worker and
replica; with ``redis`` they live in that Redis instead (``dex_py.storage.redis_attempts``),
which keeps their write traffic off the database.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from dex_py.config.durations import parse_duration
from dex_py.config.envexpand import expand_env
from dex_py.config.model import ConfigError

SECTION = "bruteForce"
RULE_KEYS = ("accountAndAddress", "accountAndAddressDaily", "address", "account", "secondFactor")
SECTION_KEYS = ("enabled", "redis", *RULE_KEYS)


@dataclass(frozen=True)
class Limit:
    failures: int
    window: timedelta


@dataclass(frozen=True)
class BruteForcePolicy:
    enabled: bool = True
    account_and_address: Limit = Limit(5, timedelta(minutes=15))
    account_and_address_daily: Limit = Limit(20, timedelta(hours=24))
    address: Limit = Limit(100, timedelta(hours=1))
    account: Limit = Limit(50, timedelta(hours=24))
    account_slot: timedelta = timedelta(minutes=5)  # account.oneAttemptEvery
    second_factor: Limit = Limit(5, timedelta(minutes=15))
    redis_url: str = ""  # redis.url: the counters in Redis instead of the storage
    redis_key_prefix: str = "dexpy:attempts:"  # redis.keyPrefix

    @classmethod
    def from_config(cls, section: Any) -> BruteForcePolicy:
        """Parse the section; every problem is reported with its key path."""
        if section is None:
            return cls()
        if not isinstance(section, dict):
            raise ConfigError([(SECTION, "must be a mapping")])
        errors: list[tuple[str, str]] = []
        default = cls()
        values: dict[str, Any] = {}
        for key, value in section.items():
            path = f"{SECTION}.{key}"
            if key == "enabled":
                if not isinstance(value, bool):
                    errors.append((path, "must be true or false"))
                values["enabled"] = value is True
            elif key == "redis":
                values.update(_redis(value, path, errors))
            elif key in RULE_KEYS:
                attr = _snake(key)
                slot_key = "oneAttemptEvery" if key == "account" else None
                limit, slot = _limit(value, path, getattr(default, attr), slot_key, errors)
                values[attr] = limit
                if slot is not None:
                    values["account_slot"] = slot
            else:
                errors.append((path, f"unknown key (expected one of: {', '.join(SECTION_KEYS)})"))
        if errors:
            raise ConfigError(errors)
        return cls(**values)


def _redis(value: Any, path: str, errors: list[tuple[str, str]]) -> dict[str, str]:
    """``redis: {url, keyPrefix}``; ``$VAR`` in the URL is expanded (it may hold a password)."""
    if not isinstance(value, dict):
        errors.append((path, "must be a mapping with url (and keyPrefix)"))
        return {}
    out: dict[str, str] = {}
    for key in value:
        if key not in ("url", "keyPrefix"):
            errors.append((f"{path}.{key}", "unknown key (expected one of: url, keyPrefix)"))
    url = value.get("url")
    if not isinstance(url, str) or not url.strip():
        errors.append((f"{path}.url", "required: redis://[:password@]host:port/db"))
    else:
        url = expand_env(url, lambda name: os.environ.get(name, ""))
        if urlsplit(url).scheme not in ("redis", "rediss", "unix"):
            errors.append((f"{path}.url", "must be a redis://, rediss:// or unix:// URL"))
        out["redis_url"] = url
    prefix = value.get("keyPrefix")
    if prefix is not None:
        if not isinstance(prefix, str) or not prefix:
            errors.append((f"{path}.keyPrefix", "must be a non-empty string"))
        else:
            out["redis_key_prefix"] = prefix
    return out


def _snake(key: str) -> str:
    return "".join("_" + c.lower() if c.isupper() else c for c in key)


def _limit(
    value: Any,
    path: str,
    default: Limit,
    slot_key: str | None,
    errors: list[tuple[str, str]],
) -> tuple[Limit, timedelta | None]:
    if not isinstance(value, dict):
        errors.append((path, "must be a mapping with failures and window"))
        return default, None
    known = ("failures", "window", *([slot_key] if slot_key else []))
    for key in value:
        if key not in known:
            errors.append((f"{path}.{key}", f"unknown key (expected one of: {', '.join(known)})"))
    failures = value.get("failures", default.failures)
    if not isinstance(failures, int) or isinstance(failures, bool) or failures < 1:
        errors.append((f"{path}.failures", "must be a positive integer"))
        failures = default.failures
    window = _duration(value.get("window"), f"{path}.window", default.window, errors)
    slot = None
    if slot_key and slot_key in value:
        slot = _duration(value[slot_key], f"{path}.{slot_key}", timedelta(minutes=5), errors)
    return Limit(failures, window), slot


def _duration(
    value: Any, path: str, default: timedelta, errors: list[tuple[str, str]]
) -> timedelta:
    if value is None:
        return default
    try:
        parsed = parse_duration(str(value))
    except ValueError as exc:
        errors.append((path, str(exc)))
        return default
    if parsed <= timedelta(0):
        errors.append((path, "must be a positive duration"))
        return default
    return parsed
