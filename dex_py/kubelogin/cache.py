"""The plugin's token cache: one JSON file per issuer + client + scopes.

The directory is 0700 and every file 0600 (tokens are bearer credentials). A file is written
to a temporary file in the same directory and moved into place with ``os.replace``, so a reader
sees the old entry or the new one, never half of one. ``TokenCache.locked`` holds an exclusive
``fcntl`` lock on the entry's ``.lock`` file for a whole get-a-token step, so parallel kubectl
invocations wait for the first one's login and then read its tokens instead of logging in again.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import fcntl
import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from dex_py.kubelogin.errors import LoginError

DIR_MODE = 0o700
FILE_MODE = 0o600


class CacheError(LoginError):
    """The cache directory cannot be used safely."""


@dataclass(frozen=True)
class CachedTokens:
    """One login's tokens: the ID token, its ``exp`` (epoch seconds), and the refresh token."""

    id_token: str
    expires_at: int
    refresh_token: str = ""


def id_token_claims(id_token: str) -> dict[str, object]:
    """The payload of a JWT, not verified: the token came from the issuer's token endpoint over
    the connection we checked, and the API server verifies it."""
    try:
        payload = id_token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError, binascii.Error):
        raise ValueError("the issuer's ID token is not a JWT") from None
    if not isinstance(claims, dict):
        raise ValueError("the issuer's ID token payload is not a JSON object")
    return claims


def id_token_expiry(id_token: str) -> int:
    """The ``exp`` claim (epoch seconds) of an ID token."""
    exp = id_token_claims(id_token).get("exp")
    if not isinstance(exp, int) or isinstance(exp, bool):
        raise ValueError("the issuer's ID token has no integer exp claim")
    return exp


def cache_key(issuer: str, client_id: str, scopes: list[str]) -> str:
    """A file name for this issuer, client and (order-insensitive) scope set."""
    material = "\n".join([issuer, client_id, " ".join(sorted(set(scopes)))])
    return hashlib.sha256(material.encode()).hexdigest()[:32]


class TokenCache:
    """The cache directory (created 0700 on first use)."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory).expanduser()

    def _ensure_dir(self) -> None:
        try:
            self.directory.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
            if self.directory.stat().st_mode & 0o777 != DIR_MODE:
                os.chmod(self.directory, DIR_MODE)
        except OSError as exc:
            raise CacheError(f"token cache directory {self.directory}: {exc}") from None

    def read(self, key: str) -> CachedTokens | None:
        """The entry for ``key``, or None when there is none or it is unreadable."""
        try:
            data = json.loads((self.directory / f"{key}.json").read_text())
            return CachedTokens(
                id_token=str(data["id_token"]),
                expires_at=int(data["expires_at"]),
                refresh_token=str(data.get("refresh_token") or ""),
            )
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def write(self, key: str, tokens: CachedTokens) -> None:
        """Replace the entry for ``key`` atomically (temporary file, fsync, ``os.replace``)."""
        self._ensure_dir()
        fd, tmp = tempfile.mkstemp(prefix=f".{key}.", suffix=".tmp", dir=self.directory)
        try:
            with os.fdopen(fd, "w") as handle:  # mkstemp creates the file 0600
                json.dump(asdict(tokens), handle)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.directory / f"{key}.json")
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    def delete(self, key: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            (self.directory / f"{key}.json").unlink()

    @contextlib.contextmanager
    def locked(self, key: str) -> Iterator[None]:
        """Hold the exclusive lock of ``key`` (blocking until other holders are done)."""
        self._ensure_dir()
        fd = os.open(self.directory / f"{key}.lock", os.O_RDWR | os.O_CREAT, FILE_MODE)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the lock

    def clear(self) -> int:
        """Delete every entry and lock file; return how many entries were removed."""
        removed = 0
        if not self.directory.is_dir():
            return 0
        for path in self.directory.iterdir():
            if path.suffix == ".json":
                path.unlink(missing_ok=True)
                removed += 1
            elif path.suffix in (".lock", ".tmp"):
                path.unlink(missing_ok=True)
        return removed
