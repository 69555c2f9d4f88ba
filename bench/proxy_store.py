"""Operations per second of the auth proxy's session stores (dex_py.proxy.store): ``put`` and
``get`` on memory, SQLite, PostgreSQL, MariaDB and Redis, from one process and one event loop,
``--concurrency`` operations in flight, sessions of ``--size`` bytes.

    .venv/bin/python bench/proxy_store.py
    .venv/bin/python bench/proxy_store.py --backends sqlite,redis --ops 2000 --concurrency 8

This is one worker's view: with ``workers: N`` each process has its own store and pool, and the
server (PostgreSQL, MariaDB, Redis) is shared. The proxy reads a session on requests whose
cookie it has not cached, and writes one at login and refresh. Each backend gets its own table
(SQL, dropped at the end) or key prefix (Redis, deleted at the end). Prints a Markdown table;
a backend that is not running is reported as such.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from tempfile import TemporaryDirectory

import redis
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dex_py.proxy.store import open_store
from dex_py.proxy.store_base import SessionStore, StoredSession, StoreSettings

POSTGRES_URL = os.environ.get(
    "DEXPY_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
MYSQL_URL = os.environ.get(
    "DEXPY_TEST_MYSQL_URL", "mysql+pymysql://root@127.0.0.1:3306/test?charset=utf8mb4"
)
REDIS_URL = os.environ.get("DEXPY_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
BACKENDS = ("memory", "sqlite", "postgres", "mysql", "redis")


def settings_for(backend: str, tmp: str, tag: str) -> StoreSettings:
    table = f"bench_sessions_{tag}"
    if backend == "memory":
        return StoreSettings("memory")
    if backend == "sqlite":
        return StoreSettings("sql", f"sqlite:///{tmp}/sessions.db", table=table)
    if backend == "postgres":
        return StoreSettings("sql", POSTGRES_URL, table=table)
    if backend == "mysql":
        return StoreSettings("sql", MYSQL_URL, table=table)
    return StoreSettings("redis", REDIS_URL, key_prefix=f"dexpy-bench-{tag}:")


def clean_up(settings: StoreSettings) -> None:
    if settings.kind == "sql" and not settings.url.startswith("sqlite"):
        engine = sa.create_engine(settings.url, poolclass=sa.pool.NullPool)
        with engine.begin() as conn:
            conn.execute(sa.text(f"DROP TABLE IF EXISTS {settings.table}"))
        engine.dispose()
    elif settings.kind == "redis":
        with redis.Redis.from_url(settings.url) as client:
            for key in client.scan_iter(match=f"{settings.key_prefix}*"):
                client.delete(key)


async def timed(ops: int, concurrency: int, operation: Callable[[int], Awaitable[object]]) -> float:
    """Operations per second for ``ops`` calls, ``concurrency`` at a time."""
    next_index = 0

    async def worker() -> None:
        nonlocal next_index
        while next_index < ops:
            index = next_index
            next_index += 1
            await operation(index)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return ops / (time.perf_counter() - started)


async def measure(store: SessionStore, args: argparse.Namespace) -> dict[str, list[float]]:
    data = os.urandom(args.size)
    ids = [secrets.token_urlsafe(32) for _ in range(args.ops)]
    expires = time.time() + 3600

    async def put(index: int) -> None:
        await store.put(StoredSession(ids[index], f"user-{index % 100}", "", data, expires))

    async def get(index: int) -> None:
        if await store.get(ids[index]) is None:
            raise RuntimeError("a session just written was not found")

    await put(0)  # first use: connections, table
    results: dict[str, list[float]] = {"put": [], "get": []}
    for _ in range(args.runs):
        results["put"].append(await timed(args.ops, args.concurrency, put))
        results["get"].append(await timed(args.ops, args.concurrency, get))
    return results


async def bench_backend(settings: StoreSettings, args: argparse.Namespace) -> str:
    store = open_store(settings)
    try:
        results = await measure(store, args)
    except Exception as exc:  # a backend that is down is a row, not the end of the run
        return f"unavailable ({type(exc).__name__}) | | |"
    finally:
        await store.close()
    cells = []
    for name in ("put", "get"):
        runs = results[name]
        cells.append(f"{statistics.median(runs):,.0f} ({min(runs):,.0f}-{max(runs):,.0f})")
    return " | ".join(cells) + " |"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backends", default=",".join(BACKENDS))
    parser.add_argument("--ops", type=int, default=5000, help="operations per run and kind")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--size", type=int, default=2048, help="session data in bytes")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    print(
        f"ops/s, median (min-max) of {args.runs} runs of {args.ops} ops, "
        f"concurrency {args.concurrency}, {args.size} B sessions, one process\n"
    )
    print("| backend | put/s | get/s |\n|---|---|---|")
    with TemporaryDirectory() as tmp:
        for backend in args.backends.split(","):
            settings = settings_for(backend, tmp, secrets.token_hex(6))
            try:
                row = asyncio.run(bench_backend(settings, args))
            finally:
                try:
                    clean_up(settings)
                except Exception as exc:
                    print(f"(clean-up of {backend} failed: {type(exc).__name__})")
            print(f"| {backend} | {row}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
