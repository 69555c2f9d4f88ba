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


def bump(cfg: StorageConfig, times: int, barrier: Any) -> None:
    """Bump the change counter ``times`` times."""
    storage = open_storage(cfg, migrate=False)
    storage.ping()
    barrier.wait(timeout=60)
    for _ in range(times):
        storage.bump_generation()
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


def record_once(cfg: StorageConfig, key: str, expiry: Any, barrier: Any, results: Any) -> None:
    """Race to record ``key`` among the revoked tokens; report whether this process won."""
    storage = open_storage(cfg, migrate=False)
    storage.ping()
    barrier.wait(timeout=60)
    results.put(storage.revoke_access_token(key, expiry))
    storage.close()


def verify_assertion(
    cfg: StorageConfig, client: Any, assertion: str, audience: str, barrier: Any, results: Any
) -> None:
    """Race to authenticate ``client`` with ``assertion`` (as one replica would); report
    "accepted" or the refusal."""
    from dex_py.clock import Clock
    from dex_py.errors import InvalidClient
    from dex_py.jose.client_assertions import ClientAssertionVerifier

    storage = open_storage(cfg, migrate=False)
    storage.ping()
    verifier = ClientAssertionVerifier(storage, Clock(), [audience])
    barrier.wait(timeout=60)
    try:
        verifier.verify(client, assertion)
        results.put("accepted")
    except InvalidClient as exc:
        results.put(str(exc.description))
    storage.close()
