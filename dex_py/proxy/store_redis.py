"""The auth proxy's server-side sessions in Redis (redis.asyncio), shared by every worker and
replica that uses the same server and ``session.redis.keyPrefix``.

Keys, under the prefix:
- ``session:<id>``: a hash (``sub``, ``sid``, ``data``, ``exp``) that Redis expires at the
  session's ``expires_at`` (PEXPIREAT), so expired sessions need no purging;
- ``subject:<sub>`` and ``sid:<sid>``: sorted sets of the session ids of one user and of one
  issuer session, scored by their expiry, so Back-Channel Logout (OpenID Connect Back-Channel
  Logout 1.0 §2.7) touches only that user's sessions. Each write drops the expired ids of the
  set it touches and makes the set itself expire with its last session.

Every change that touches more than one key is a Lua script, which Redis runs atomically: a
replaced session leaves no stale index entry and concurrent writers cannot interleave. The
scripts build key names from the prefix, so the store needs a standalone Redis (or Sentinel),
not Redis Cluster. ``get`` also checks ``exp`` itself and never returns an expired session.
"""

from __future__ import annotations

import math
import re
import time
from typing import Any
from urllib.parse import urlsplit

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from dex_py.proxy.store_base import (
    StoreConfigError,
    StoredSession,
    StoreSettings,
    StoreUnavailable,
)

URL_KEY = "session.redis.url"
PREFIX_KEY = "session.redis.keyPrefix"
_SCHEMES = ("redis", "rediss", "unix")
_TIMEOUT = 5.0  # seconds, to connect and for each command: a down server is StoreUnavailable

# ARGV: prefix, id, subject, sid, data, expiry (ms, integer), expiry (seconds, as written),
# now (ms). Removes the id from the old session's index sets, then writes the session and
# its index entries (or only removes it when it has already expired).
_PUT = """
local prefix, id, sub, sid = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local exp_ms, now_ms = tonumber(ARGV[6]), tonumber(ARGV[8])
local key = prefix .. 'session:' .. id
local old = redis.call('HMGET', key, 'sub', 'sid')
if old[1] then redis.call('ZREM', prefix .. 'subject:' .. old[1], id) end
if old[2] and old[2] ~= '' then redis.call('ZREM', prefix .. 'sid:' .. old[2], id) end
redis.call('DEL', key)
if exp_ms <= now_ms then return 0 end
redis.call('HSET', key, 'sub', sub, 'sid', sid, 'data', ARGV[5], 'exp', ARGV[7])
redis.call('PEXPIREAT', key, exp_ms)
local function index(set)
  redis.call('ZADD', set, exp_ms, id)
  redis.call('ZREMRANGEBYSCORE', set, '-inf', now_ms)
  local last = redis.call('ZRANGE', set, -1, -1, 'WITHSCORES')
  redis.call('PEXPIREAT', set, last[2])
end
index(prefix .. 'subject:' .. sub)
if sid ~= '' then index(prefix .. 'sid:' .. sid) end
return 1
"""

# ARGV: prefix, id.
_DELETE = """
local prefix, id = ARGV[1], ARGV[2]
local key = prefix .. 'session:' .. id
local old = redis.call('HMGET', key, 'sub', 'sid')
if old[1] then redis.call('ZREM', prefix .. 'subject:' .. old[1], id) end
if old[2] and old[2] ~= '' then redis.call('ZREM', prefix .. 'sid:' .. old[2], id) end
return redis.call('DEL', key)
"""

# ARGV: prefix, 'sid' or 'subject', its value. Deletes the sessions the index set names that
# still carry that value, their entries in the other index, and the set; returns the count.
_DELETE_FOR = """
local prefix, field, value = ARGV[1], ARGV[2], ARGV[3]
local set = prefix .. field .. ':' .. value
local gone = 0
for _, id in ipairs(redis.call('ZRANGE', set, 0, -1)) do
  local key = prefix .. 'session:' .. id
  local s = redis.call('HMGET', key, 'sub', 'sid')
  if s[1] and ((field == 'sid' and s[2] == value) or (field == 'subject' and s[1] == value)) then
    gone = gone + redis.call('DEL', key)
    if field == 'sid' then
      redis.call('ZREM', prefix .. 'subject:' .. s[1], id)
    elseif s[2] ~= '' then
      redis.call('ZREM', prefix .. 'sid:' .. s[2], id)
    end
  end
end
redis.call('DEL', set)
return gone
"""


def check_redis_settings(url: str, key_prefix: str) -> None:
    """StoreConfigError for a URL redis-py cannot use or an empty prefix (never echoing the
    URL, which may hold a password)."""
    if not url.strip():
        raise StoreConfigError(URL_KEY, "required with session.store: redis")
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        parts = urlsplit("")
    if parts.scheme not in _SCHEMES:
        raise StoreConfigError(
            URL_KEY, "a redis://, rediss:// or unix:// URL (like redis://127.0.0.1:6379/0)"
        )
    if parts.scheme != "unix" and not re.fullmatch(r"/?[0-9]*", parts.path):
        # redis-py would quietly use database 0 for /name.
        raise StoreConfigError(URL_KEY, "the path after host:port is a database number (/0)")
    if not key_prefix:
        raise StoreConfigError(
            PREFIX_KEY, "must not be empty: it keeps the proxy's keys apart from other data"
        )


class RedisStore:
    """Sessions in Redis; safe to share between processes."""

    def __init__(self, url: str, key_prefix: str = "dexpy-proxy:") -> None:
        check_redis_settings(url, key_prefix)
        try:
            self._client = aioredis.Redis.from_url(
                url.strip(),
                socket_connect_timeout=_TIMEOUT,
                socket_timeout=_TIMEOUT,
                decode_responses=False,
            )
        except (ValueError, TypeError):
            raise StoreConfigError(
                URL_KEY, "redis-py cannot use this URL (check host, port, database number)"
            ) from None
        kwargs = self._client.connection_pool.connection_kwargs
        self._where = (
            f"Redis at {kwargs.get('path') or kwargs.get('host', 'localhost')}"
            f":{kwargs.get('port', '')}/{kwargs.get('db', 0)}"
        )
        self._password = str(kwargs.get("password") or "")
        self._prefix = key_prefix
        self._put = self._client.register_script(_PUT)
        self._delete = self._client.register_script(_DELETE)
        self._delete_for = self._client.register_script(_DELETE_FOR)
        self._closed = False

    @classmethod
    def from_settings(cls, settings: StoreSettings) -> RedisStore:
        return cls(settings.url, settings.key_prefix)

    def session_key(self, session_id: str) -> str:
        return f"{self._prefix}session:{session_id}"

    def index_key(self, *, subject: str = "", issuer_sid: str = "") -> str:
        if issuer_sid:
            return f"{self._prefix}sid:{issuer_sid}"
        return f"{self._prefix}subject:{subject}"

    async def put(self, session: StoredSession) -> None:
        expires_ms = math.ceil(session.expires_at * 1000)
        args: list[str | bytes | int] = [
            self._prefix,
            session.id,
            session.subject,
            session.issuer_sid,
            bytes(session.data),
            expires_ms,
            repr(float(session.expires_at)),
            int(time.time() * 1000),
        ]
        await self._call(self._put(args=args))

    async def get(self, session_id: str) -> StoredSession | None:
        fields = await self._call(
            self._client.hmget(self.session_key(session_id), ["sub", "sid", "data", "exp"])
        )
        subject, sid, data, expires = fields
        if subject is None or sid is None or data is None or expires is None:
            return None
        expires_at = float(expires)
        if expires_at <= time.time():
            return None
        return StoredSession(
            id=session_id,
            subject=subject.decode("utf-8"),
            issuer_sid=sid.decode("utf-8"),
            data=bytes(data),
            expires_at=expires_at,
        )

    async def delete(self, session_id: str) -> None:
        await self._call(self._delete(args=[self._prefix, session_id]))

    async def delete_for(self, *, subject: str = "", issuer_sid: str = "") -> int:
        if issuer_sid:
            args: list[str | bytes | int] = [self._prefix, "sid", issuer_sid]
        elif subject:
            args = [self._prefix, "subject", subject]
        else:
            return 0
        return int(await self._call(self._delete_for(args=args)))

    async def purge_expired(self) -> int:
        """Redis expires sessions and index sets by itself: nothing is left to purge."""
        await self._call(self._client.ping())
        return 0

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        await self._client.aclose()

    async def _call(self, command: Any) -> Any:
        """Awaits one Redis command; StoreUnavailable for any Redis failure."""
        if self._closed:
            command.close()
            raise StoreUnavailable(f"the session store ({self._where}) is closed")
        try:
            return await command
        except (RedisError, OSError) as exc:
            reason = type(exc).__name__
            first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            if first_line:
                reason = f"{reason}: {first_line[:200]}"
            if self._password:
                reason = reason.replace(self._password, "***")
            raise StoreUnavailable(
                f"the session store ({self._where}) is unavailable: {reason}"
            ) from None
