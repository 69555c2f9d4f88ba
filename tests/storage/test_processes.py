"""Several processes sharing one database or etcd: no lost writes, one key set, safe migrations."""

from __future__ import annotations

import json
import multiprocessing
import os
import queue
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from jwcrypto import jwk, jws

from dex_py.config import StorageConfig
from dex_py.storage import migrate, open_storage
from dex_py.storage.sql import SQLStorage
from tests.storage import factories as f
from tests.storage import workers
from tests.storage.conftest import SQL_BACKENDS

SPAWN = multiprocessing.get_context("spawn")
JOIN_TIMEOUT = 60  # generous upper bound against hangs, not a timing assertion


def run_processes(target: Callable[..., None], n: int, *args: Any) -> None:
    """Run ``target(*args)`` in ``n`` spawned processes; all must exit 0. ``args`` stays
    referenced until the end (Process.start() drops its own reference)."""
    procs = [SPAWN.Process(target=target, args=args) for _ in range(n)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(JOIN_TIMEOUT)
    for p in procs:
        if p.is_alive():
            p.kill()
    assert [p.exitcode for p in procs] == [0] * n


def drain(results: Any, n: int) -> list[Any]:
    out = []
    for _ in range(n):
        try:
            out.append(results.get(timeout=JOIN_TIMEOUT))
        except queue.Empty:
            break
    return out


@pytest.mark.slow
def test_concurrent_updates_from_processes_lose_nothing(shared_config: StorageConfig) -> None:
    storage = open_storage(shared_config, migrate=False)
    c = f.client(name="0")
    storage.create_client(c)
    procs, times = 4, 25
    run_processes(workers.increment, procs, shared_config, c.id, times, SPAWN.Barrier(procs))
    assert storage.get_client(c.id).name == str(procs * times)
    storage.close()


@pytest.mark.slow
def test_concurrent_bumps_from_processes_lose_no_increment(shared_config: StorageConfig) -> None:
    storage = open_storage(shared_config, migrate=False)
    start = storage.generation()
    procs, times = 4, 25
    run_processes(workers.bump, procs, shared_config, times, SPAWN.Barrier(procs))
    assert storage.generation() == start + procs * times
    storage.close()


@pytest.mark.slow
def test_concurrent_first_keys_creation_agrees_on_one_key(shared_config: StorageConfig) -> None:
    # Keep barrier and queue referenced here: Process.start() drops its args, and a
    # semaphore collected before the child unpickles it is gone.
    barrier, results = SPAWN.Barrier(2), SPAWN.Queue()
    procs = [
        SPAWN.Process(target=workers.create_keys, args=(shared_config, barrier, results))
        for _ in range(2)
    ]
    for p in procs:
        p.start()
    got = drain(results, 2)
    for p in procs:
        p.join(JOIN_TIMEOUT)
    assert [p.exitcode for p in procs] == [0, 0]
    assert len(got) == 2
    (final_a, mine_a, seen_a), (final_b, mine_b, seen_b) = got
    assert final_a == final_b  # both processes ended up with the same key set
    assert final_a in (mine_a, mine_b)
    storage = open_storage(shared_config, migrate=False)
    assert storage.get_keys().signing_key == final_a
    storage.close()
    # the loser saw the winner's keys: fn(old) was called with the stored value
    loser_seen = seen_b if final_a == mine_a else seen_a
    assert loser_seen[-1] == "old"


@pytest.mark.slow
@pytest.mark.parametrize("kind", SQL_BACKENDS)
def test_concurrent_upgrade_on_fresh_database(
    kind: str, fresh_config: Callable[[str], StorageConfig]
) -> None:
    cfg = fresh_config(kind)
    barrier, results = SPAWN.Barrier(2), SPAWN.Queue()
    procs = [SPAWN.Process(target=workers.upgrade, args=(cfg, barrier, results)) for _ in range(2)]
    for p in procs:
        p.start()
    got = drain(results, 2)
    for p in procs:
        p.join(JOIN_TIMEOUT)
    head = migrate.head_revision()
    assert got == [("ok", head), ("ok", head)]
    storage = open_storage(cfg, migrate=False)
    assert isinstance(storage, SQLStorage)
    assert migrate.current_revision(storage.engine) == head
    storage.create_client(f.client())
    assert len(storage.list_clients()) == 1
    storage.close()


@pytest.mark.parametrize("kind", SQL_BACKENDS[:2])
def test_forked_child_gets_its_own_connections(
    kind: str, fresh_config: Callable[[str], StorageConfig]
) -> None:
    storage = open_storage(fresh_config(kind))
    assert isinstance(storage, SQLStorage)
    storage.ping()  # the parent's pool now holds a connection
    parent_pool = storage.engine.pool
    c = f.client()
    pid = os.fork()
    if pid == 0:  # child: must not reuse the parent's connection
        code = 1
        try:
            storage.create_client(c)
            code = 0 if storage.engine.pool is not parent_pool else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert storage.get_client(c.id) == c  # and the parent's connection still works
    assert storage.engine.pool is parent_pool
    storage.close()


def race(target: Callable[..., None], n: int, *args: Any) -> list[Any]:
    """Run ``target(*args, barrier, results)`` in ``n`` processes released together; return
    what each put in ``results``."""
    barrier, results = SPAWN.Barrier(n), SPAWN.Queue()
    procs = [SPAWN.Process(target=target, args=(*args, barrier, results)) for _ in range(n)]
    for p in procs:
        p.start()
    got = drain(results, n)
    for p in procs:
        p.join(JOIN_TIMEOUT)
    assert [p.exitcode for p in procs] == [0] * n
    return got


@pytest.mark.slow
def test_recording_a_key_is_insert_if_absent_across_processes(shared_config: StorageConfig) -> None:
    """What the client-assertion replay cache relies on (issue 7, item 11): of processes
    recording the same key at once, exactly one is told it was first."""
    expiry = f.T0 + timedelta(days=365 * 50)
    got = race(workers.record_once, 4, shared_config, "assertion:same", expiry)
    assert sorted(got) == [False, False, False, True]


@pytest.mark.slow
def test_a_client_assertion_is_accepted_by_one_replica_only(sql_config: StorageConfig) -> None:
    """Each process is a replica with its own verifier and connections; the same
    ``private_key_jwt`` assertion sent to all of them at once is accepted exactly once."""
    key = jwk.JWK.generate(kty="EC", crv="P-256")
    public = {**key.export_public(as_dict=True), "kid": "k1", "alg": "ES256", "use": "sig"}
    client = f.client(id="keyed", jwks=json.dumps({"keys": [public]}))
    audience = "https://issuer.example/token"
    now = int(time.time())
    claims = {"iss": "keyed", "sub": "keyed", "aud": audience, "exp": now + 600, "jti": "j-1"}
    signed = jws.JWS(json.dumps(claims).encode())
    signed.add_signature(key, alg="ES256", protected=json.dumps({"alg": "ES256", "kid": "k1"}))
    assertion = signed.serialize(compact=True)
    got = race(workers.verify_assertion, 4, sql_config, client, assertion, audience)
    assert sorted(got) == ["accepted"] + ["client assertion already used"] * 3
