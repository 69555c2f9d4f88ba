"""Failed-attempt counters in Redis (``bruteForce.redis``), for the brute-force limits of
``dex_py.login_guard``: every worker and replica pointed at one Redis shares the counts, and
the database keeps none of this write traffic.

The same three operations, with the same meaning, as the storage backends' ``count_attempt``,
``attempts`` and ``reset_attempts``: a counter is a fixed window that starts with its first
failure. Each counter is a hash (``n``: the count, ``end``: when its window ends, in ms on the
issuer's clock) changed by one Lua script, so concurrent failures never lose a count; Redis
drops the key a minute after its window. ``reset_attempts`` deletes every key under a prefix
(SCAN with the prefix's glob characters escaped, so a user name cannot widen the match).

Redis down is ``RedisAttemptsUnavailable``, one of ``storage.DATABASE_UNAVAILABLE``: the web
layer answers 503, never lets an attempt through uncounted.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import redis

from dex_py.storage.records import StorageError

_COUNT = """
local n = tonumber(redis.call('HGET', KEYS[1], 'n') or '0')
local ending = tonumber(redis.call('HGET', KEYS[1], 'end') or '0')
local now = tonumber(ARGV[1])
if ending <= now then
  n = 0
  ending = now + tonumber(ARGV[2])
end
n = n + 1
redis.call('HSET', KEYS[1], 'n', n, 'end', ending)
redis.call('PEXPIRE', KEYS[1], ending - now + 60000)
return n
"""
_GLOB = re.compile(r"([*?\[\]\\])")
DEFAULT_PREFIX = "dexpy:attempts:"


class RedisAttemptsUnavailable(StorageError):
    """Redis could not be reached; the message names no password."""


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


class RedisAttempts:
    """``count_attempt``/``attempts``/``reset_attempts`` on a Redis server."""

    def __init__(self, url: str, key_prefix: str = DEFAULT_PREFIX) -> None:
        self.prefix = key_prefix
        self.client = redis.Redis.from_url(
            url, socket_timeout=5, socket_connect_timeout=5, health_check_interval=30
        )
        self._count = self.client.register_script(_COUNT)

    def _run(self, fn: Callable[[], Any]) -> Any:
        try:
            return fn()
        except redis.RedisError as exc:
            raise RedisAttemptsUnavailable(f"redis: {type(exc).__name__}") from None

    def count_attempt(self, key: str, now: datetime, window: timedelta) -> int:
        millis = int(window.total_seconds() * 1000)
        result = self._run(lambda: self._count(keys=[self.prefix + key], args=[_ms(now), millis]))
        return int(result)

    def attempts(self, key: str, now: datetime) -> int:
        values = self._run(lambda: self.client.hmget(self.prefix + key, "n", "end"))
        count, ending = values
        if count is None or ending is None or int(ending) <= _ms(now):
            return 0
        return int(count)

    def reset_attempts(self, prefix: str) -> int:
        pattern = _GLOB.sub(r"\\\1", self.prefix + prefix) + "*"

        def remove() -> int:
            removed = 0
            for found in self.client.scan_iter(match=pattern, count=500):
                removed += int(self.client.delete(found))
            return removed

        return int(self._run(remove))

    def ping(self) -> None:
        self._run(self.client.ping)

    def close(self) -> None:
        self.client.close()
