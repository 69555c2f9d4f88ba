"""Load benchmark: a real ``dex-py serve`` per storage backend, driven by wrk; each cell
(backend, endpoint, concurrency) runs ``--runs`` times and the table shows median (min-max) and
whether issue 9's targets are met.

Run from the repo root: ``.venv/bin/python bench/run.py [--backends sqlite,postgres]
[--endpoints discovery,keys,client_credentials,refresh,code,userinfo,password,tokenreview]
[--concurrency 8,32] [--runs 3] [--duration 10] [--workers N] [--signing RS256|ES256]
[--engine granian|gunicorn] [--code-rate 300] [--max-others 0.1] [--retries 2] [--profile]
[--out bench/results/latest.md]``. Needs ``/usr/bin/wrk`` (Debian package ``wrk``) and, for
``postgres``, PostgreSQL on 127.0.0.1:5432 (user postgres, trust auth); the database
``dexpy_bench`` is dropped, created and dropped again.

All servers run at once and the runs are interleaved: round after round, each round runs every
cell once (backends alternating which goes first), so a change in the machine's speed hits
every cell alike. Single-use credentials are made before the runs that use them
(``workloads.py``): refresh tokens with the password grant, authorization codes through
``/auth`` with an SSO session. Peak memory: each worker's VmRSS is sampled every 0.2 s during a
run; VmHWM is read at the end. CPU per request (workers, PostgreSQL backends) and the share of
the machine other processes took are measured too; a disturbed run is repeated. Any error
answer makes the run invalid: the table says so and the script exits 1.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

import click
from dexserver import (  # noqa: F401  (BASIC ... run_wrk: the names peer.py and serving.py use)
    BACKENDS,
    BASIC,
    BENCH_DIR,
    CLIENT_ID,
    CLIENT_SECRET,
    PG_DB,
    REPO_ROOT,
    WRK,
    Server,
    free_port,
    write_config,
)
from procstat import CpuMeter, RssSampler, proc_status_kib, wait_for_quiet
from profile_summary import summarize_profile
from report import Result, render, report_header
from workloads import (  # noqa: F401  (run_wrk: for peer.py and serving.py)
    ENDPOINTS,
    CodePool,
    Workload,
    password_grant,
    run_wrk,
    wrk,
    wrk_threads,
)

DRY = "the code pool ran dry"  # code.lua's first_bad when a thread had no code left


@dataclass
class Target:
    """One backend's running server and its workload."""

    backend: str
    server: Server
    workload: Workload


def bench_endpoint(target: Target, endpoint: str, c: int, opts: Any, *,
                   warmup: bool = False, profile: bool = False) -> Result:  # fmt: skip
    """One wrk run; ``warmup`` runs 2 s at c=8 (first requests of each worker pay for lazy
    imports and new database connections)."""
    duration = 2 if warmup else opts.duration
    server, workload = target.server, target.workload
    url, script, args, headers = workload.prepare(endpoint, c, duration)
    wait_for_quiet(0 if warmup else opts.max_wait)
    meter = CpuMeter(server, PG_DB)
    sampler = RssSampler(server)
    sampler.start()
    spy = start_profile(target, endpoint, c, opts) if profile else None
    run = wrk(url, script, c, duration, args, headers)
    if spy is not None:
        spy.wait()
    peaks = sampler.finish()
    worker_cpu, db_cpu, others = meter.finish()
    raw = run.raw
    # "bad" (rejected by the script) includes most of "status" (non-2xx/3xx, counted by wrk)
    errors = sum(raw[k] for k in ("connect", "read", "write", "timeout"))
    errors += max(raw["status"], raw["bad"])
    rps = raw["requests"] / (raw["duration_us"] / 1e6)
    if endpoint == "code" and workload.codes is not None:
        workload.codes.used(run, wrk_threads(c), rps, valid=not errors)
    return Result(
        target.backend, endpoint, c,
        rps=rps, p50_ms=raw["p50_us"] / 1000, p99_ms=raw["p99_us"] / 1000,
        errors=errors,
        peak_rss_mib=max(peaks.values(), default=0) / 1024,
        cpu_ms=1000 * worker_cpu / max(raw["requests"], 1),
        db_cpu_ms=1000 * db_cpu / max(raw["requests"], 1), others=others,
        detail=raw, first_bad=run.first_bad,
    )  # fmt: skip


def measure(target: Target, endpoint: str, c: int, opts: Any, first_round: bool) -> Result:
    """``bench_endpoint``, repeated (``--retries``) while unrelated processes took more than
    ``--max-others`` of the machine, or while the code pool ran dry (then with a pool twice
    as big); the least disturbed attempt counts."""
    attempts: list[Result] = []
    for _ in range(1 + opts.retries):
        profile = first_round and opts.profile and c == opts.concurrency[0]
        r = bench_endpoint(target, endpoint, c, opts, profile=profile)
        attempts.append(r)
        click.echo(
            f"{target.backend:8} {endpoint:18} c={c:<3} {r.rps:8.0f} req/s "
            f"p50 {r.p50_ms:6.1f} ms p99 {r.p99_ms:6.1f} ms errors {r.errors} "
            f"rss {r.peak_rss_mib:.1f} MiB cpu {r.cpu_ms:.2f}+{r.db_cpu_ms:.2f} ms/req "
            f"others {100 * r.others:.0f}%"
        )
        if r.first_bad.startswith(DRY) and target.workload.codes is not None:
            click.echo("  the code pool ran dry: again with a bigger one")
            target.workload.codes.grow()
            continue
        if r.others <= opts.max_others or r.errors:
            break
    return min(attempts, key=lambda r: (r.errors > 0, r.others))


def start_profile(target: Target, endpoint: str, c: int,
                  opts: Any) -> subprocess.Popen[bytes]:  # fmt: skip
    """With ``--profile``: py-spy over all workers (each endpoint, first concurrency, first
    round)."""
    out = opts.out.parent / f"profile-{target.backend}-{endpoint}-{opts.signing}.txt"
    cmd = [opts.py_spy, "record", "--pid", str(target.server.proc.pid), "--subprocesses",
           "--format", "raw", "--rate", "250", "--duration", str(opts.duration),
           "-o", str(out)]  # fmt: skip
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--backends", default="sqlite,postgres")
    p.add_argument("--endpoints", default=",".join(ENDPOINTS))
    p.add_argument("--concurrency", default="8,32")
    p.add_argument("--runs", type=int, default=3, help="runs per cell, interleaved")
    p.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    p.add_argument("--workers", type=int, default=0, help="default: the server's own default")
    p.add_argument("--signing", default="RS256", choices=["RS256", "ES256"])
    p.add_argument("--engine", default="granian", choices=["granian", "gunicorn"])
    p.add_argument(
        "--code-rate", type=float, default=300,
        help="code exchanges per second to make codes for before one has been measured",
    )  # fmt: skip
    p.add_argument(
        "--max-wait", type=float, default=60, help="seconds to wait for a quiet machine per run"
    )
    p.add_argument(
        "--max-others", type=float, default=0.10,
        help="retry a run in which unrelated processes took more than this share of the CPU",
    )  # fmt: skip
    p.add_argument("--retries", type=int, default=2, help="at most this many retries per run")
    p.add_argument(
        "--profile",
        action="store_true",
        help="py-spy each endpoint's first run at the first concurrency",
    )
    p.add_argument("--out", type=Path, default=BENCH_DIR / "results" / "latest.md")
    opts = p.parse_args(argv)
    opts.backends = [b for b in opts.backends.split(",") if b]
    opts.endpoints = [e for e in opts.endpoints.split(",") if e]
    for name, known in (("backends", BACKENDS), ("endpoints", ENDPOINTS)):
        unknown = set(getattr(opts, name)) - set(known)
        if unknown:
            p.error(f"unknown {name}: {', '.join(sorted(unknown))} (known: {', '.join(known)})")
    try:
        opts.concurrency = [int(c) for c in opts.concurrency.split(",") if c]
    except ValueError:
        p.error("--concurrency: comma-separated whole numbers, e.g. 8,32")
    for name in ("runs", "duration"):
        if getattr(opts, name) < 1:
            p.error(f"--{name} must be at least 1")
    if not opts.concurrency or min(opts.concurrency) < 1 or opts.code_rate <= 0:
        p.error("--concurrency and --code-rate must be positive")
    return opts


def start_target(backend: str, opts: Any, workers: int, stack: contextlib.ExitStack) -> Target:
    """``backend``'s storage and server, stopped and removed when ``stack`` closes."""
    tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="dexpy-bench-")))
    storage = stack.enter_context(BACKENDS[backend](tmp))
    port = free_port()
    config = write_config(tmp, port, storage, opts.signing, opts.engine)
    server = Server(config, port, workers, opts.out.parent / f"server-{backend}.log")
    stack.callback(server.stop)
    server.wait_ready()
    access_token = password_grant(server.base, "openid email")["access_token"]
    workload = Workload(server, tmp, 2 * workers, access_token)
    if "code" in opts.endpoints:
        workload.codes = CodePool(server, tmp / "codes.txt", 4 * workers, opts.code_rate)
    return Target(backend, server, workload)


def stop_on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt  # unwinds through the ExitStack that stops the servers


def main(argv: list[str] | None = None) -> int:
    opts = parse_args(argv)
    if not os.access(WRK, os.X_OK):
        sys.exit(f"{WRK} not found: install it with `apt-get install wrk`")
    opts.py_spy = shutil.which("py-spy") or str(REPO_ROOT / ".venv" / "bin" / "py-spy")
    if opts.profile and not os.access(opts.py_spy, os.X_OK):
        click.echo("py-spy not installed (.venv/bin/pip install py-spy): profiling skipped")
        opts.profile = False
    opts.out.parent.mkdir(parents=True, exist_ok=True)
    signal.signal(signal.SIGTERM, stop_on_sigterm)
    from dex_py.serving.server import default_workers

    workers = opts.workers or default_workers()
    results: list[Result] = []
    hwm: dict[str, list[float]] = {}
    notes: list[str] = []
    try:
        with contextlib.ExitStack() as stack:
            targets = [start_target(b, opts, workers, stack) for b in opts.backends]
            for target in targets:
                for endpoint in opts.endpoints:
                    bench_endpoint(target, endpoint, 8, opts, warmup=True)
            for round_ in range(opts.runs):
                click.echo(f"--- round {round_ + 1} of {opts.runs}")
                for target in targets if round_ % 2 == 0 else targets[::-1]:
                    for endpoint in opts.endpoints:
                        for c in opts.concurrency:
                            results.append(measure(target, endpoint, c, opts, round_ == 0))
            for target in targets:
                pids = target.server.worker_pids()
                hwm[target.backend] = [proc_status_kib(pid, "VmHWM") / 1024 for pid in pids]
                pool = target.workload.codes
                if pool is not None and pool.making_s:
                    notes.append(
                        f"Authorization codes ({target.backend}): {pool.made} made through "
                        f"/auth in {pool.making_s:.0f} s ({pool.made / pool.making_s:.0f}/s)."
                    )
    except KeyboardInterrupt:
        click.echo("interrupted; servers stopped", err=True)
        return 130
    header = report_header(opts.engine, workers, opts.duration, opts.signing, opts.runs)
    report = render(results, header, hwm) + "".join(f"\n{n}\n" for n in notes)
    if opts.profile:
        for f in sorted(opts.out.parent.glob(f"profile-*-{opts.signing}.txt")):
            summary = f.with_suffix(".summary")
            summary.write_text(summarize_profile(f) + "\n")
            click.echo(f"profile summary: {summary}")
    opts.out.write_text(report)
    click.echo(report)
    return 1 if any(r.errors for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
