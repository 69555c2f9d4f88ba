"""Functions run in child processes (multiprocessing ``spawn``) by the storage tests."""

from __future__ import annotations

import uuid
from dataclasses import replace
from typing import Any

from dex_py.config import StorageConfig
from dex_py.storage import migrate, open_storage
from tests.storage import factories


def increment(cfg: StorageConfig, client_id: str, times: int, barrier: Any) -> None:
    """Add 1 to the counter kept in a client's name, ``times`` times."""
    storage = open_storage(cfg, migrate=False)
    storage.ping()
    barrier.wait(timeout=60)
    for _ in range(times):
        storage.update_client(client_id, lambda c: replace(c, name=str(int(c.name) + 1)))
    storage.close()


def create_keys(cfg: StorageConfig, barrier: Any, results: Any) -> None:
    """Race to create the first key set; report the signing key this process ended up with."""
    storage = open_storage(cfg, migrate=False)
    storage.ping()
    mine = factories.keys(signing_key=f"key-{uuid.uuid4().hex}")
    seen: list[str] = []

    def fn(old: Any) -> Any:
        seen.append("none" if old is None else "old")
        return mine if old is None else old

    barrier.wait(timeout=60)
    keys = storage.update_keys(fn)
    results.put((keys.signing_key, mine.signing_key, seen))
    storage.close()


def upgrade(cfg: StorageConfig, barrier: Any, results: Any) -> None:
    """Run migrations, racing the other process."""
    barrier.wait(timeout=60)
    try:
        results.put(("ok", migrate.upgrade(cfg)))
    except Exception as exc:
        results.put(("error", repr(exc)))
