"""SQLite connection settings: ``synchronous`` (``full`` by default, so a commit survives power
loss; ``normal`` on request) and ``busyTimeout``, in effect on every pooled connection,
including after the migration that ran on one of them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from dex_py.config import StorageConfig
from dex_py.storage import StorageConfigError, open_storage
from dex_py.storage.sql import SQLStorage
from dex_py.storage.timeouts import DEFAULTS

FULL, NORMAL = 2, 1  # PRAGMA synchronous values


@pytest.mark.parametrize(
    ("settings", "synchronous", "busy_ms"),
    [
        ({}, FULL, DEFAULTS.busy * 1000),
        ({"synchronous": "normal", "busyTimeout": 3}, NORMAL, 3000),
        ({"synchronous": "FULL", "busyTimeout": "0"}, FULL, 0),
    ],
)
def test_every_pooled_connection_has_the_configured_pragmas(
    tmp_path: Path, settings: dict[str, Any], synchronous: int, busy_ms: int
) -> None:
    storage = open_storage(StorageConfig("sqlite3", {"file": str(tmp_path / "dex.db")} | settings))
    assert isinstance(storage, SQLStorage)
    try:
        # more than the pool keeps (2), so overflow connections are checked too
        conns = [storage.engine.connect() for _ in range(5)]
        seen = [
            (
                c.exec_driver_sql("PRAGMA synchronous").scalar_one(),
                c.exec_driver_sql("PRAGMA busy_timeout").scalar_one(),
            )
            for c in conns
        ]
        assert seen == [(synchronous, busy_ms)] * 5
        for c in conns:
            c.close()
    finally:
        storage.close()


@pytest.mark.parametrize("value", ["off", "extra", 2])
def test_bad_synchronous_is_an_error(tmp_path: Path, value: Any) -> None:
    with pytest.raises(StorageConfigError) as info:
        open_storage(
            StorageConfig("sqlite3", {"file": str(tmp_path / "x.db"), "synchronous": value})
        )
    assert [path for path, _ in info.value.errors] == ["storage.config.synchronous"]
