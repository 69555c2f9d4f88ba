"""The plugin's token cache: one JSON file per issuer + client + scopes.

The directory is 0700 and every file 0600 (tokens are bearer credentials). A file is written
to a temporary file in the same directory and moved into place with ``os.replace``, so a reader
sees the old entry or the new one, never half of one. ``TokenCache.locked`` holds an exclusive
``fcntl`` lock on the entry's ``.lock`` file for a whole get-a-token step, so parallel kubectl
invocations wait for the first one's login and then read its tokens instead of logging in again.

This module is on kubectl's hot path (every command): it imports only what reading an entry
needs (``json``, ``os``, ``fcntl``, a SHA-256); ``tempfile`` is loaded when writing.
"""

from __future__ import annotations

import fcntl
import json
import os

from dex_py.kubelogin.errors import LoginError

try:  # the built-in SHA-256: a cache key does not need OpenSSL loaded (hashlib's _hashlib)
    from _sha256 import sha256
except ImportError:  # pragma: no cover - other interpreters
    from hashlib import sha256

DIR_MODE = 0o700
FILE_MODE = 0o600
TYPE_CHECKING = False
if TYPE_CHECKING:
    from types import TracebackType


class CacheError(LoginError):
    """The cache directory cannot be used safely."""


class CachedTokens:
    """One login's tokens: the ID token, its ``exp`` (epoch seconds), and the refresh token."""

    __slots__ = ("expires_at", "id_token", "refresh_token")

    def __init__(self, id_token: str, expires_at: int, refresh_token: str = "") -> None:
        self.id_token = id_token
        self.expires_at = expires_at
        self.refresh_token = refresh_token

    def as_json(self) -> dict[str, object]:
        return {
            "id_token": self.id_token,
            "expires_at": self.expires_at,
            "refresh_token": self.refresh_token,
        }


def cache_key(issuer: str, client_id: str, scopes: list[str]) -> str:
    """A file name for this issuer, client and (order-insensitive) scope set."""
    material = "\n".join([issuer, client_id, " ".join(sorted(set(scopes)))])
    return sha256(material.encode()).hexdigest()[:32]


class _Lock:
    """An exclusive ``flock`` on a file, held from ``__enter__`` until ``__exit__``."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.fd = -1

    def __enter__(self) -> None:
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, FILE_MODE)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX)
        except BaseException:
            os.close(self.fd)
            raise

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        os.close(self.fd)  # closing releases the lock


class TokenCache:
    """The cache directory (created 0700 on first write or lock)."""

    def __init__(self, directory: str) -> None:
        self.directory = os.path.expanduser(directory)

    def _path(self, name: str) -> str:
        return os.path.join(self.directory, name)

    def _ensure_dir(self) -> None:
        try:
            os.makedirs(self.directory, mode=DIR_MODE, exist_ok=True)
            if os.stat(self.directory).st_mode & 0o777 != DIR_MODE:
                os.chmod(self.directory, DIR_MODE)
        except OSError as exc:
            raise CacheError(f"token cache directory {self.directory}: {exc}") from None

    def read(self, key: str) -> CachedTokens | None:
        """The entry for ``key``, or None when there is none or it is unreadable."""
        try:
            with open(self._path(f"{key}.json")) as handle:
                data = json.load(handle)
            return CachedTokens(
                str(data["id_token"]),
                int(data["expires_at"]),
                str(data.get("refresh_token") or ""),
            )
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return None

    def write(self, key: str, tokens: CachedTokens) -> None:
        """Replace the entry for ``key`` atomically (temporary file, fsync, ``os.replace``)."""
        import tempfile

        self._ensure_dir()
        fd, tmp = tempfile.mkstemp(prefix=f".{key}.", suffix=".tmp", dir=self.directory)
        try:
            with os.fdopen(fd, "w") as handle:  # mkstemp creates the file 0600
                json.dump(tokens.as_json(), handle)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self._path(f"{key}.json"))
        except BaseException:
            try:  # noqa: SIM105 - contextlib is not loaded on the hot path
                os.unlink(tmp)
            except OSError:
                pass
            raise

    def delete(self, key: str) -> None:
        try:  # noqa: SIM105 - contextlib is not loaded on the hot path
            os.unlink(self._path(f"{key}.json"))
        except FileNotFoundError:
            pass

    def locked(self, key: str) -> _Lock:
        """``with cache.locked(key):`` holds the entry's exclusive lock (waiting for others)."""
        self._ensure_dir()
        return _Lock(self._path(f"{key}.lock"))

    def clear(self) -> int:
        """Delete every entry, lock and temporary file; return how many entries were removed."""
        if not os.path.isdir(self.directory):
            return 0
        removed = 0
        for name in os.listdir(self.directory):
            if name.endswith((".json", ".lock", ".tmp")):
                os.unlink(self._path(name))
                removed += name.endswith(".json")
        return removed
