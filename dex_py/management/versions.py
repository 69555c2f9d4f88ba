"""Versions of managed objects: a short digest of a record's fields, used as the ETag of safe
concurrent updates (RFC 9110 §8.8.3, §13.1.1). A caller sends back the version it read; an
update whose version no longer matches is refused with ``Conflict`` instead of overwriting a
change it never saw. The digest covers every stored field (secret digests included, so a
rotation changes it) and reveals nothing usable about them: 64 bits of SHA-256."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Any

from dex_py.management.errors import Conflict


def _plain(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def version_of(record: Any) -> str:
    """The version of a stored record (a frozen dataclass): 16 hex digits."""
    fields = {f.name: _plain(getattr(record, f.name)) for f in dataclasses.fields(record)}
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]


def check_version(record: Any, expected: str | None, what: str) -> None:
    """Raise ``Conflict`` when ``expected`` is given and ``record`` is at another version. An
    ETag's quotes and weak prefix (``W/"..."``) are ignored."""
    if expected is None:
        return
    wanted = expected.strip().removeprefix("W/").strip('"')
    if wanted != version_of(record):
        raise Conflict(f"{what} changed since it was read (version {wanted!r}): reload it")
