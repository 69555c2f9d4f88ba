"""The telemetry listener's readiness check (dex_py.ops.telemetry.storage_readiness): it opens
the storage, asks it, and says what it found; served end to end in test_engines and
test_dex_flags."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from dex_py.clock import FrozenClock
from dex_py.config import StorageConfig
from dex_py.jose.keys import KeyManager
from dex_py.ops.telemetry import storage_readiness
from dex_py.storage import open_storage
from tests.services import free_port


def test_a_database_without_a_signing_key_is_not_ready(tmp_path: Path) -> None:
    cfg = StorageConfig(type="sqlite3", config={"file": str(tmp_path / "d.sqlite3")})
    open_storage(cfg).close()  # migrated, no key yet
    assert storage_readiness(cfg)() == {"ready": False, "storage": "ok", "keys": "none yet"}
    storage = open_storage(cfg, migrate=False)
    clock = FrozenClock(datetime.now(UTC))
    lifetime = timedelta(hours=6)
    KeyManager(
        storage, clock, algorithm="ES256", rotation_period=lifetime, id_token_lifetime=lifetime
    ).ensure()
    storage.close()
    assert storage_readiness(cfg)() == {"ready": True, "storage": "ok", "keys": "ok"}


def test_a_database_that_does_not_answer_is_not_ready() -> None:
    url = f"postgres://postgres@127.0.0.1:{free_port()}/test"
    cfg = StorageConfig(type="postgres", config={"url": url, "connectionTimeout": 2})
    assert storage_readiness(cfg)() == {"ready": False, "storage": "unavailable"}


def test_memory_storage_is_inside_each_worker() -> None:
    assert storage_readiness(StorageConfig(type="memory"))() == {
        "ready": True,
        "storage": "memory (per worker)",
    }
