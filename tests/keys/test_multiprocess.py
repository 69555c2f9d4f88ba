"""Several real processes sharing one SQLite file rotate the signing key exactly once."""

from __future__ import annotations

import json
import multiprocessing
import queue
from datetime import datetime

import pytest

from dex_py.clock import FrozenClock
from dex_py.config import StorageConfig
from dex_py.jose.keys import KeyManager
from dex_py.storage import open_storage

from .conftest import LIFETIME, PERIOD

WORKERS = 4


def _sqlite(path: str) -> StorageConfig:
    return StorageConfig(type="sqlite3", config={"file": path})


def _rotate_worker(db_file: str, instant: str, barrier, results) -> None:
    storage = open_storage(_sqlite(db_file), migrate=False)  # the parent migrated
    try:
        clock = FrozenClock(datetime.fromisoformat(instant))
        km = KeyManager(storage, clock, rotation_period=PERIOD, id_token_lifetime=LIFETIME)
        barrier.wait(timeout=60)
        rotated = km.rotate_if_due()
        results.put((rotated, km.signer().kid))
    except BaseException as exc:
        results.put(("error", repr(exc)))
        raise
    finally:
        storage.close()


@pytest.mark.slow
def test_exactly_one_process_rotates(tmp_path) -> None:
    db_file = str(tmp_path / "keys.db")
    clock = FrozenClock()
    storage = open_storage(_sqlite(db_file))
    try:
        KeyManager(storage, clock, rotation_period=PERIOD, id_token_lifetime=LIFETIME).ensure()
        first = json.loads(storage.get_keys().signing_key)["kid"]
    finally:
        storage.close()
    instant = clock.advance(PERIOD)

    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(WORKERS)
    results = ctx.Queue()
    procs = [
        ctx.Process(target=_rotate_worker, args=(db_file, instant.isoformat(), barrier, results))
        for _ in range(WORKERS)
    ]
    for p in procs:
        p.start()
    outcomes = []
    try:
        for _ in range(WORKERS):
            outcomes.append(results.get(timeout=120))
    except queue.Empty:
        pytest.fail(f"workers did not report; got {outcomes}")
    finally:
        for p in procs:
            p.join(timeout=30)
            if p.is_alive():
                p.kill()
                p.join()
    assert all(flag in (True, False) for flag, _ in outcomes), outcomes
    assert [flag for flag, _ in outcomes].count(True) == 1, outcomes

    storage = open_storage(_sqlite(db_file))
    try:
        row = storage.get_keys()
    finally:
        storage.close()
    new = json.loads(row.signing_key)["kid"]
    assert new != first
    assert {kid for _, kid in outcomes} == {new}  # every process now signs with the new key
    assert [json.loads(vk.jwk)["kid"] for vk in row.verification_keys] == [first]
    assert row.verification_keys[0].expiry == instant + LIFETIME
    assert row.next_rotation == instant + PERIOD
