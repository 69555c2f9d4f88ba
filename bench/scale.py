"""Scale benchmark: refresh grant and ``/userinfo`` on an empty PostgreSQL database and on one
seeded with a million refresh tokens, 100,000 users and 10,000 clients; then the garbage
collection of that million (expired) tokens while wrk keeps driving both endpoints.

Run from the repo root: ``.venv/bin/python bench/scale.py [--tokens 1000000] [--users 100000]
[--clients 10000] [--duration 6] [--rounds 3] [--concurrency 8] [--gc-window 5]
[--explain bench/explain-postgres.txt] [--out bench/results/scale.md]``. Needs ``/usr/bin/wrk``
and PostgreSQL on 127.0.0.1:5432 (user postgres, trust); the databases ``dexpy_scale_empty``
and ``dexpy_scale_seeded`` are dropped, created and dropped again.

Two ``dex-py serve`` (one per database, ``gcInterval: 24h`` so their own housekeeping stays out
of the way) take turns, ``--rounds`` times, so both see the same machine; the median round
counts. CPU per request (workers and the database's PostgreSQL backends) is the number that
shared machines barely skew; the "vs empty" columns compare it and req/s. Then a separate
process runs ``storage.garbage_collect`` (what the server's housekeeping thread calls) on the
seeded database while wrk runs ``--gc-window`` second windows, refresh and userinfo in turn,
until it is done; the table shows the worst window's p99 and the longest latency seen, and the
collection's duration, batches and longest batch transaction. ``bench/scale_seed.py`` seeds,
``bench/scale_explain.py`` writes the EXPLAIN of each hot query.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import yaml
from dexserver import (
    BASIC,
    PASSWORD,
    PASSWORD_HASH,
    PG_DSN,
    WRK,
    Server,
    free_port,
    write_config,
)
from procstat import CpuMeter, wait_for_quiet
from report import cpu_model, publish
from scale_explain import capture, explain
from scale_seed import KNOWN_CLIENT_ID, KNOWN_CLIENT_SECRET, Sizes, known_user, seed
from workloads import TOKENS_PER_CONNECTION, password_grant, refresh_pool, run_wrk

from dex_py.storage.sql import GC_BATCH_SIZE

BENCH_DIR = Path(__file__).resolve().parent
DATABASES = {"empty": "dexpy_scale_empty", "seeded": "dexpy_scale_seeded"}
ENDPOINTS = ("refresh", "userinfo")


def storage_section(database: str) -> dict[str, Any]:
    config = {"host": "127.0.0.1", "port": 5432, "database": database, "user": "postgres",
              "ssl": {"mode": "disable"}}  # fmt: skip
    return {"type": "postgres", "config": config}


def dsn(database: str) -> str:
    return PG_DSN.replace("dbname=postgres", f"dbname={database}")


@contextlib.contextmanager
def databases(names: list[str]) -> Iterator[None]:
    def drop() -> None:
        with psycopg.connect(PG_DSN, autocommit=True) as conn:
            for name in names:
                conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    drop()
    with psycopg.connect(PG_DSN, autocommit=True) as conn:
        for name in names:
            conn.execute(f"CREATE DATABASE {name}")
    try:
        yield
    finally:
        drop()


class ScaleServer(Server):
    """``dex-py serve`` on one database, its own housekeeping pushed out of the way."""

    def __init__(self, tmp: Path, name: str, database: str, opts: Any) -> None:
        port = free_port()
        folder = tmp / name
        folder.mkdir()
        self.config_path = write_config(folder, port, storage_section(database), opts.signing)
        config = yaml.safe_load(self.config_path.read_text())
        config["server"]["gcInterval"] = "24h"
        self.config_path.write_text(yaml.safe_dump(config, sort_keys=False))
        self.database = database
        log_path = opts.out.parent / f"scale-{name}.log"
        super().__init__(self.config_path, port, opts.workers, log_path)
        self.wait_ready()
        self.access_token = str(password_grant(self.base, "openid email")["access_token"])


@dataclass
class Run:
    endpoint: str
    rps: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    cpu_ms: float  # workers + PostgreSQL backends, per request
    requests: int
    errors: int
    seconds: float


def wrk_run(server: ScaleServer, endpoint: str, seconds: int, opts: Any, tmp: Path) -> Run:
    c = opts.concurrency
    if endpoint == "refresh":
        tokens = refresh_pool(server.base, TOKENS_PER_CONNECTION * c, 2 * opts.workers)
        token_file = tmp / f"refresh-{server.database}.txt"
        token_file.write_text("\n".join(tokens) + "\n")
        url, script, args, headers = server.base + "/token", "refresh.lua", [], []
        args = [BASIC, str(token_file), str(min(2, c))]
    else:
        url, script, args = server.base + "/userinfo", "get.lua", []
        headers = [f"Authorization: Bearer {server.access_token}"]
    meter = CpuMeter(server, server.database)
    raw, first_bad = run_wrk(url, script, c, seconds, args, headers)
    workers, db, _ = meter.finish()
    errors = sum(raw[k] for k in ("connect", "read", "write", "timeout", "status", "bad"))
    if errors:
        print(f"  errors in {endpoint} run: {raw} {first_bad}")
    n = max(raw["requests"], 1)
    return Run(endpoint, raw["requests"] / (raw["duration_us"] / 1e6), raw["p50_us"] / 1000,
               raw["p99_us"] / 1000, raw["max_us"] / 1000, 1000 * (workers + db) / n,
               raw["requests"], errors, raw["duration_us"] / 1e6)  # fmt: skip


def show(label: str, r: Run) -> None:
    print(f"{label:8} {r.endpoint:8} {r.rps:7.0f} req/s p50 {r.p50_ms:6.1f} ms "
          f"p99 {r.p99_ms:6.1f} ms max {r.max_ms:6.1f} ms cpu {r.cpu_ms:.2f} ms/req "
          f"errors {r.errors}", flush=True)  # fmt: skip


def median_run(runs: list[Run]) -> Run:
    """The run with the median CPU per request (runs of one endpoint and database)."""
    return sorted(runs, key=lambda r: r.cpu_ms)[(len(runs) - 1) // 2]


def collect_in_background(database: str, batch: int) -> subprocess.Popen[str]:
    """``garbage_collect`` in a process of its own (as a server's housekeeping thread would)."""
    cmd = [sys.executable, str(Path(__file__)), "--collect", database, "--gc-batch", str(batch)]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, cwd=BENCH_DIR.parent)


def collect(database: str, batch: int) -> None:
    """The ``--collect`` mode: one garbage collection; prints its numbers as JSON."""
    import sqlalchemy as sa

    from dex_py.clock import Clock
    from dex_py.config import StorageConfig
    from dex_py.storage import open_storage
    from dex_py.storage.sql import SQLStorage

    section = storage_section(database)
    storage = open_storage(StorageConfig(section["type"], section["config"]), migrate=False)
    assert isinstance(storage, SQLStorage)
    storage.gc_batch_size = batch
    spans: list[float] = []  # each batch transaction's duration (not the SETs before it)
    began, batch_open = [0.0], [False]

    def on_begin(conn: Any) -> None:
        began[0], batch_open[0] = time.monotonic(), False

    def on_execute(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        batch_open[0] = batch_open[0] or "expiry" in statement

    def on_commit(conn: Any) -> None:
        if batch_open[0]:
            spans.append(time.monotonic() - began[0])

    sa.event.listen(storage.engine, "begin", on_begin)
    sa.event.listen(storage.engine, "before_cursor_execute", on_execute)
    sa.event.listen(storage.engine, "commit", on_commit)
    start = time.monotonic()
    result = storage.garbage_collect(Clock().now())
    took = time.monotonic() - start
    storage.close()
    print(json.dumps({"seconds": took, "removed": result.refresh_tokens, "total": result.total,
                      "batches": len(spans), "longest_batch_ms": 1000 * max(spans, default=0),
                      "median_batch_ms": 1000 * statistics.median(spans or [0])}))  # fmt: skip


class LockWatch(threading.Thread):
    """Samples, every 20 ms, the database's sessions waiting for a lock (``pg_stat_activity``
    ``wait_event_type = 'Lock'``): a request stalled by the collection would show here, and
    for how long (the longest run of consecutive samples with a waiter)."""

    def __init__(self, database: str) -> None:
        super().__init__(daemon=True)
        self.database = database
        self.samples = self.waiting = 0
        self.longest_ms = 0.0
        self._stop_event = threading.Event()

    def run(self) -> None:
        query = ("SELECT count(*) FROM pg_stat_activity WHERE datname = %s "
                 "AND wait_event_type = 'Lock'")  # fmt: skip
        since: float | None = None
        with psycopg.connect(PG_DSN, autocommit=True) as conn:
            while not self._stop_event.wait(0.02):
                row = conn.execute(query, (self.database,)).fetchone()
                now, waiting = time.monotonic(), bool(row and row[0])
                self.samples += 1
                self.waiting += waiting
                if waiting:
                    since = now if since is None else since
                    self.longest_ms = max(self.longest_ms, 1000 * (now - since))
                else:
                    since = None

    def finish(self) -> dict[str, Any]:
        self._stop_event.set()
        self.join()
        return {"lock_samples": self.samples, "lock_waiting": self.waiting,
                "lock_longest_ms": self.longest_ms}  # fmt: skip


def during_gc(server: ScaleServer, opts: Any, tmp: Path) -> tuple[list[Run], dict[str, Any]]:
    """wrk windows, endpoints in turn, for as long as the collection runs (each at least once)."""
    watch = LockWatch(server.database)
    watch.start()
    proc = collect_in_background(server.database, opts.gc_batch)
    windows: list[Run] = []
    while proc.poll() is None or len(windows) < len(ENDPOINTS):
        endpoint = ENDPOINTS[len(windows) % len(ENDPOINTS)]
        windows.append(wrk_run(server, endpoint, opts.gc_window, opts, tmp))
        show("gc", windows[-1])
    out, _ = proc.communicate(timeout=600)
    locks = watch.finish()
    if proc.returncode:
        sys.exit(f"garbage collection failed ({proc.returncode})")
    return windows, {**json.loads(out.strip().splitlines()[-1]), **locks}


def merged(runs: list[Run]) -> Run:
    """Windows of one endpoint: requests over time; the worst p50/p99; the longest latency."""
    n, secs = sum(r.requests for r in runs), sum(r.seconds for r in runs)
    cpu = sum(r.cpu_ms * r.requests for r in runs) / max(n, 1)
    return Run(runs[0].endpoint, n / secs, max(r.p50_ms for r in runs),
               max(r.p99_ms for r in runs), max(r.max_ms for r in runs), cpu, n,
               sum(r.errors for r in runs), secs)  # fmt: skip


def paired_ratios(runs: dict[str, dict[str, list[Run]]]) -> dict[str, float]:
    """Per endpoint, the median over rounds of seeded / empty CPU per request: each round's
    two runs were back to back, so the machine's drift between rounds cancels out."""
    return {
        e: statistics.median(
            s.cpu_ms / b.cpu_ms for b, s in zip(runs["empty"][e], runs["seeded"][e], strict=True)
        )
        for e in ENDPOINTS
    }


def table(rows: dict[str, dict[str, Run]], ratios: dict[str, float], gc: dict[str, Any],
          opts: Any, seeding: dict[str, float]) -> list[str]:  # fmt: skip
    sizes = f"{opts.tokens:,} refresh tokens, {opts.users:,} users, {opts.clients:,} clients"
    lines = [
        f"dex-py scale benchmark, {time.strftime('%Y-%m-%d %H:%M %Z')}; machine: {cpu_model()}; "
        f"PostgreSQL; {opts.workers} granian workers; wrk c={opts.concurrency} keep-alive, "
        f"{opts.duration} s runs, {opts.rounds} rounds (median by CPU/req); signing "
        f"{opts.signing}",
        "",
        f"Seeded: {sizes} (+ a browser session per user, {opts.users:,} revoked access tokens, "
        f"{opts.users // 100:,} auth codes) in {sum(seeding.values()):.0f} s.",
        "CPU ms/req: workers + PostgreSQL backends, per request (robust on a shared machine). "
        "CPU/req vs empty: the median over rounds of seeded / empty, each round's two runs back "
        "to back; req/s vs empty: of the rows shown.",
        "",
        "| endpoint | database | req/s | p50 ms | p99 ms | max ms | CPU ms/req | CPU/req vs empty "
        "| req/s vs empty | errors |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    labels = {"refresh": "POST /token (refresh_token)", "userinfo": "GET /userinfo"}
    seeded = f"{opts.tokens / 1e6:g}M tokens" if opts.tokens >= 1e6 else f"{opts.tokens:,} tokens"
    for endpoint in ENDPOINTS:
        base = rows["empty"][endpoint]
        for label, key in (("empty", "empty"), (seeded, "seeded"), ("during GC", "gc")):
            r = rows[key][endpoint]
            # during GC the database's CPU includes (some of) the collector's backends
            cpu = f"{r.cpu_ms:.2f}" if key != "gc" else "-"
            ratio = {"empty": "1.00", "seeded": f"{ratios[endpoint]:.2f}"}.get(key, "-")
            lines.append(
                f"| {labels[endpoint]} | {label} | {r.rps:.0f} | {r.p50_ms:.1f} | "
                f"{r.p99_ms:.1f} | {r.max_ms:.1f} | {cpu} | {ratio} | {r.rps / base.rps:.2f} "
                f"| {r.errors} |"
            )
    lines += [
        "",
        f"Garbage collection: {gc['removed']:,} expired refresh tokens ({gc['total']:,} rows) "
        f"in {gc['seconds']:.1f} s, {gc['batches']} transactions of at most {opts.gc_batch} "
        f"rows; longest transaction {gc['longest_batch_ms']:.0f} ms, median "
        f'{gc["median_batch_ms"]:.0f} ms. "during GC": {opts.gc_window} s wrk windows while '
        "it ran (the last may outlast it); p50/p99 of the worst window, max over all.",
        f"Sessions of the database waiting for a lock meanwhile: in {gc['lock_waiting']} of "
        f"{gc['lock_samples']} samples (every 20 ms), the longest wait seen "
        f"{gc['lock_longest_ms']:.0f} ms.",
    ]
    return lines


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--tokens", type=int, default=1_000_000)
    p.add_argument("--users", type=int, default=100_000)
    p.add_argument("--clients", type=int, default=10_000)
    p.add_argument("--duration", type=int, default=6, help="seconds per wrk run")
    p.add_argument("--rounds", type=int, default=3, help="empty/seeded runs, taking turns")
    p.add_argument("--concurrency", type=int, default=8)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--gc-window", type=int, default=5, help="seconds per wrk window during GC")
    p.add_argument("--gc-batch", type=int, default=GC_BATCH_SIZE, help="rows per GC transaction")
    p.add_argument("--signing", default="ES256", choices=["RS256", "ES256"])
    p.add_argument("--explain", default=str(BENCH_DIR / "explain-postgres.txt"),
                   help="where to write the EXPLAIN output ('' to skip)")  # fmt: skip
    p.add_argument("--out", type=Path, default=BENCH_DIR / "results" / "scale.md")
    p.add_argument("--collect", metavar="DATABASE", help=argparse.SUPPRESS)
    opts = p.parse_args(argv)
    if min(opts.tokens, opts.users, opts.clients, opts.duration, opts.rounds) < 1:
        p.error("--tokens, --users, --clients, --duration and --rounds must be positive")
    return opts


def main(argv: list[str] | None = None) -> int:
    opts = parse_args(argv)
    if opts.collect:
        collect(opts.collect, opts.gc_batch)
        return 0
    if not os.access(WRK, os.X_OK):
        sys.exit(f"{WRK} not found: install it with `apt-get install wrk`")
    opts.out.parent.mkdir(parents=True, exist_ok=True)
    sizes = Sizes(opts.tokens, opts.users, opts.clients, opts.users, opts.users // 100)
    with (
        tempfile.TemporaryDirectory(prefix="dexpy-scale-") as name,
        databases(list(DATABASES.values())),
    ):
        tmp = Path(name)
        servers: dict[str, ScaleServer] = {}
        try:
            for key, database in DATABASES.items():
                servers[key] = ScaleServer(tmp, key, database, opts)
            print(f"seeding {DATABASES['seeded']}: {opts.tokens:,} tokens ...", flush=True)
            seeding = seed(dsn(DATABASES["seeded"]), sizes, PASSWORD_HASH.encode())
            print("seeded in " + ", ".join(f"{k} {v:.1f} s" for k, v in seeding.items()))
            runs: dict[str, dict[str, list[Run]]] = {k: {e: [] for e in ENDPOINTS} for k in servers}
            for server in servers.values():  # warm-up: imports, connections, caches
                for endpoint in ENDPOINTS:
                    wrk_run(server, endpoint, 2, opts, tmp)
            for _ in range(opts.rounds):
                for key, server in servers.items():
                    for endpoint in ENDPOINTS:
                        wait_for_quiet(3)
                        runs[key][endpoint].append(wrk_run(server, endpoint, opts.duration, opts,
                                                           tmp))  # fmt: skip
                        show(key, runs[key][endpoint][-1])
            if opts.explain:
                write_explain(servers["seeded"], opts)
            windows, gc = during_gc(servers["seeded"], opts, tmp)
        finally:
            for server in servers.values():
                server.stop()
    rows = {key: {e: median_run(rs) for e, rs in by.items()} for key, by in runs.items()}
    rows["gc"] = {e: merged([w for w in windows if w.endpoint == e]) for e in ENDPOINTS}
    publish(table(rows, paired_ratios(runs), gc, opts, seeding), opts.out)
    errors = sum(r.errors for by in rows.values() for r in by.values())
    return 1 if errors else 0


def write_explain(server: ScaleServer, opts: Any) -> None:
    """Capture the hot queries on the seeded database and write their EXPLAIN to --explain."""
    user = known_user(0)
    captured = capture(server.config_path, KNOWN_CLIENT_ID, KNOWN_CLIENT_SECRET, user.email,
                       PASSWORD, opts.gc_batch)  # fmt: skip
    header = (
        f"-- EXPLAIN (ANALYZE, BUFFERS) of dex-py's hot queries, written by bench/scale.py on "
        f"{time.strftime('%Y-%m-%d')}\n-- database: {opts.tokens:,} refresh tokens (expired), "
        f"{opts.users:,} users (password rows, sessions), {opts.clients:,} clients\n"
        "-- statements captured from the running code; each explained with the parameters it "
        "ran with, then rolled back"
    )
    text, seq_scans = explain(dsn(server.database), captured, header)
    Path(opts.explain).write_text(text)
    print(f"EXPLAIN of {text.count('-- parameters:')} statements written to {opts.explain}")
    for sql in seq_scans:
        print(f"  sequential scan: {' '.join(sql.split())[:160]}")


if __name__ == "__main__":
    sys.exit(main())
