"""Load benchmark: a real ``dex-py serve`` per storage backend, driven by wrk.

Run from the repo root: ``.venv/bin/python bench/run.py [--backends sqlite,postgres]
[--duration 10] [--concurrency 1,8,32] [--workers N] [--endpoints ...] [--signing ES256]
[--max-others 0.1] [--retries 2] [--profile] [--engine granian|gunicorn]
[--out bench/results/latest.md]``. Needs
``/usr/bin/wrk`` (Debian package ``wrk``) and, for ``postgres``, PostgreSQL on 127.0.0.1:5432
(user postgres, trust auth); the database ``dexpy_bench`` is dropped, created and dropped again.

Endpoints: discovery, ``/keys``, ``/token`` (refresh and password grants), ``/userinfo``. The
refresh grant rotates the token on every use (replaying an old one revokes the chain), so a
pool of tokens is made with the password grant before each run and ``bench/refresh.lua`` cycles
them per wrk thread. Peak memory: each worker's VmRSS is sampled every 0.2 s during a
run; VmHWM is read at the end. CPU per request (workers, PostgreSQL backends) and the share of
the machine other processes took are measured too; a disturbed run is repeated. Any error
answer makes the run invalid: the table says so and the script exits 1.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import click
import requests
import yaml
from procstat import CpuMeter, RssSampler, proc_status_kib, wait_for_quiet
from profile_summary import summarize_profile
from report import Result, render, report_header

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
WRK = "/usr/bin/wrk"
CLIENT_ID, CLIENT_SECRET = "example-app", "ZXhhbXBsZS1hcHAtc2VjcmV0"
EMAIL, PASSWORD = "admin@example.com", "password"
PASSWORD_HASH = "$2a$10$2b2cU8CPhOTaGrs1HRQuAueS7JTT5ZHsHSzYiFPm1leZck7Mc8T4W"  # bcrypt cost 10
BASIC = "Basic " + base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
PG_DSN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
PG_DB = "dexpy_bench"
ENDPOINTS = ("discovery", "keys", "refresh", "password", "userinfo")
TOKENS_PER_CONNECTION = 4


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- storage backends ----------------------------------------------------------------------------


@contextlib.contextmanager
def sqlite_storage(tmp: Path) -> Iterator[dict[str, Any]]:
    yield {"type": "sqlite3", "config": {"file": str(tmp / "dex.sqlite3")}}


@contextlib.contextmanager
def postgres_storage(tmp: Path) -> Iterator[dict[str, Any]]:
    import psycopg

    with psycopg.connect(PG_DSN, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {PG_DB} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {PG_DB}")
    try:
        yield {
            "type": "postgres",
            "config": {
                "host": "127.0.0.1",
                "port": 5432,
                "database": PG_DB,
                "user": "postgres",
                "ssl": {"mode": "disable"},
            },
        }
    finally:
        with psycopg.connect(PG_DSN, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {PG_DB} WITH (FORCE)")


BACKENDS = {"sqlite": sqlite_storage, "postgres": postgres_storage}


# --- the server ----------------------------------------------------------------------------------


def write_config(
    tmp: Path, port: int, storage: dict[str, Any], signing: str, engine: str = "granian"
) -> Path:
    config = {
        "server": {"engine": engine, "shutdownDelay": "0s"},
        "issuer": f"http://127.0.0.1:{port}/dex",
        "storage": storage,
        "web": {"http": f"127.0.0.1:{port}"},
        "logger": {"level": "info"},
        "oauth2": {"passwordConnector": "local"},
        "signing": {"algorithm": signing},
        "staticClients": [
            {
                "id": CLIENT_ID,
                "secret": CLIENT_SECRET,
                "name": "Example App",
                "redirectURIs": ["http://127.0.0.1:5555/callback"],
            }
        ],
        "enablePasswordDB": True,
        "staticPasswords": [
            {
                "email": EMAIL,
                "hash": PASSWORD_HASH,
                "username": "admin",
                "userID": "08a8684b-db88-4b73-90a9-3cd1661f5466",
            }
        ],
    }
    path = tmp / "config.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


class Server:
    """``dex-py serve CONFIG`` in its own process group; the process is the master."""

    name = "dex-py serve"

    def __init__(self, config: Path, port: int, workers: int, log_path: Path) -> None:
        self.base = f"http://127.0.0.1:{port}/dex"
        self.workers = workers
        self.log_path = log_path
        cmd = [str(REPO_ROOT / ".venv" / "bin" / "dex-py"), "serve", str(config)]
        self.spawn([*cmd, "--workers", str(workers)], REPO_ROOT)

    def spawn(self, cmd: list[str], cwd: Path, env: dict[str, str] | None = None) -> None:
        """Start ``cmd`` in a new session (its own process group), output to ``log_path``."""
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                cmd, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip

    def is_ready(self) -> bool:
        healthy = requests.get(self.base + "/healthz", timeout=2).status_code == 200
        return healthy and len(self.worker_pids()) >= self.workers  # all workers up

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                sys.exit(f"{self.name} exited:\n{self.log_path.read_text()[-3000:]}")
            with contextlib.suppress(requests.RequestException):
                if self.is_ready():
                    return
            time.sleep(0.2)
        self.stop()
        sys.exit(f"{self.name} not ready after {timeout:.0f}s:\n{self.log_path.read_text()}")

    def worker_pids(self) -> list[int]:
        pid = self.proc.pid
        children: list[int] = []
        with contextlib.suppress(OSError):
            for task in os.listdir(f"/proc/{pid}/task"):
                text = Path(f"/proc/{pid}/task/{task}/children").read_text()
                children += [int(p) for p in text.split()]
        return sorted(children)

    def stop(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(20)


# --- tokens --------------------------------------------------------------------------------------


def password_grant(base: str, scope: str) -> dict[str, Any]:
    resp = requests.post(
        base + "/token",
        data={"grant_type": "password", "username": EMAIL, "password": PASSWORD, "scope": scope},
        headers={"Authorization": BASIC},
        timeout=60,
    )
    if resp.status_code != 200:
        sys.exit(f"password grant failed: {resp.status_code} {resp.text[:500]}")
    body: dict[str, Any] = resp.json()
    return body


def refresh_pool(base: str, count: int, parallel: int) -> list[str]:
    """``count`` fresh refresh tokens (each its own chain), made ``parallel`` at a time."""
    scope = "openid email offline_access"
    with ThreadPoolExecutor(parallel) as pool:
        bodies = list(pool.map(lambda _: password_grant(base, scope), range(count)))
    return [b["refresh_token"] for b in bodies]


# --- wrk -----------------------------------------------------------------------------------------


def run_wrk(url: str, script: str, concurrency: int, duration: int, args: list[str],
            headers: list[str]) -> tuple[dict[str, int], str]:  # fmt: skip
    """wrk's numbers (see report.lua) and the first rejected answer, if a script saw one."""
    cmd = [WRK, "-t", str(min(2, concurrency)), "-c", str(concurrency), "-d", f"{duration}s",
           "--latency", "--timeout", "10s", "-s", str(BENCH_DIR / script)]  # fmt: skip
    for header in headers:
        cmd += ["-H", header]
    cmd += [url, "--", *args]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 120)
    lines = out.stdout.splitlines()
    first_bad = next((x.split(" ", 1)[1] for x in lines if x.startswith("WRK_FIRST_BAD ")), "")
    for line in lines:
        if line.startswith("WRK_RESULT "):
            parsed: dict[str, int] = json.loads(line.split(" ", 1)[1])
            return parsed, first_bad
    sys.exit(f"wrk failed ({out.returncode}):\n{out.stdout}\n{out.stderr}")


def bench_endpoint(server: Server, backend: str, endpoint: str, c: int, opts: Any,
                   tmp: Path, *, warmup: bool = False) -> Result:  # fmt: skip
    """One wrk run; ``warmup`` runs 2 s at c=8 unprofiled (first requests of each worker pay for
    lazy imports and new database connections)."""
    duration = 2 if warmup else opts.duration
    base = server.base
    url, script, args, headers = base + "/keys", "get.lua", [], []
    if endpoint == "discovery":
        url = base + "/.well-known/openid-configuration"
    elif endpoint == "refresh":
        tokens = refresh_pool(base, TOKENS_PER_CONNECTION * c, opts.parallel)
        token_file = tmp / f"refresh-{c}.txt"
        token_file.write_text("\n".join(tokens) + "\n")
        url, script = base + "/token", "refresh.lua"
        args = [BASIC, str(token_file), str(min(2, c))]
    elif endpoint == "password":
        url, script = base + "/token", "password.lua"
        args = [BASIC, "admin%40example.com", PASSWORD]
    elif endpoint == "userinfo":
        url = base + "/userinfo"
        headers = [f"Authorization: Bearer {opts.access_token}"]
    wait_for_quiet(0 if warmup else opts.max_wait)
    meter = CpuMeter(server, PG_DB)
    sampler = RssSampler(server)
    sampler.start()
    spy = None if warmup else start_profile(server, backend, endpoint, c, opts)
    raw, first_bad = run_wrk(url, script, c, duration, args, headers)
    if spy is not None:
        spy.wait()
    peaks = sampler.finish()
    worker_cpu, db_cpu, others = meter.finish()
    errors = sum(raw[k] for k in ("connect", "read", "write", "timeout", "status", "bad"))
    return Result(
        backend, endpoint, c,
        rps=raw["requests"] / (raw["duration_us"] / 1e6),
        p50_ms=raw["p50_us"] / 1000, p99_ms=raw["p99_us"] / 1000,
        errors=errors,
        peak_rss_mib=max(peaks.values(), default=0) / 1024,
        cpu_ms=1000 * worker_cpu / max(raw["requests"], 1),
        db_cpu_ms=1000 * db_cpu / max(raw["requests"], 1), others=others,
        detail=raw, first_bad=first_bad,
    )  # fmt: skip


def measure(server: Server, backend: str, endpoint: str, c: int, opts: Any,
            tmp: Path) -> Result:  # fmt: skip
    """``bench_endpoint``, repeated (``--retries``) while unrelated processes took more than
    ``--max-others`` of the machine; the least disturbed attempt counts."""
    attempts: list[Result] = []
    for _ in range(1 + opts.retries):
        r = bench_endpoint(server, backend, endpoint, c, opts, tmp)
        attempts.append(r)
        click.echo(
            f"{backend:8} {endpoint:9} c={c:<3} {r.rps:8.0f} req/s "
            f"p50 {r.p50_ms:6.1f} ms p99 {r.p99_ms:6.1f} ms errors {r.errors} "
            f"rss {r.peak_rss_mib:.1f} MiB cpu {r.cpu_ms:.2f}+{r.db_cpu_ms:.2f} ms/req "
            f"others {100 * r.others:.0f}%"
        )
        if r.others <= opts.max_others or r.errors:
            break
    return min(attempts, key=lambda r: (not r.errors, r.others))


def start_profile(server: Server, backend: str, endpoint: str, c: int,
                  opts: Any) -> subprocess.Popen[bytes] | None:  # fmt: skip
    """With ``--profile``: py-spy over all workers during the refresh and keys runs at c=8."""
    if not opts.profile or endpoint not in ("refresh", "keys") or c != 8:
        return None
    out = opts.out.parent / f"profile-{backend}-{endpoint}-{opts.signing}.txt"
    cmd = [opts.py_spy, "record", "--pid", str(server.proc.pid), "--subprocesses", "--format",
           "raw", "--rate", "250", "--duration", str(opts.duration), "-o", str(out)]  # fmt: skip
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--backends", default="sqlite,postgres")
    p.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    p.add_argument("--concurrency", default="1,8,32")
    p.add_argument("--workers", type=int, default=0, help="default: the server's own default")
    p.add_argument("--endpoints", default=",".join(ENDPOINTS))
    p.add_argument("--signing", default="RS256", choices=["RS256", "ES256"])
    p.add_argument("--engine", default="granian", choices=["granian", "gunicorn"])
    p.add_argument(
        "--max-wait", type=float, default=60, help="seconds to wait for a quiet machine per run"
    )
    p.add_argument(
        "--max-others",
        type=float,
        default=0.10,
        help="retry a run in which unrelated processes took more than this share of the CPU",
    )
    p.add_argument("--retries", type=int, default=2, help="at most this many retries per run")
    p.add_argument("--profile", action="store_true", help="py-spy the refresh and keys runs")
    p.add_argument("--out", type=Path, default=BENCH_DIR / "results" / "latest.md")
    opts = p.parse_args(argv)
    opts.backends = [b for b in opts.backends.split(",") if b]
    opts.concurrency = [int(c) for c in opts.concurrency.split(",")]
    opts.endpoints = [e for e in opts.endpoints.split(",") if e]
    for name, known in (("backends", BACKENDS), ("endpoints", ENDPOINTS)):
        unknown = set(getattr(opts, name)) - set(known)
        if unknown:
            p.error(f"unknown {name}: {', '.join(sorted(unknown))}")
    return opts


def main(argv: list[str] | None = None) -> int:
    opts = parse_args(argv)
    if not os.access(WRK, os.X_OK):
        sys.exit(f"{WRK} not found: install it with `apt-get install wrk`")
    opts.py_spy = shutil.which("py-spy") or str(REPO_ROOT / ".venv" / "bin" / "py-spy")
    if opts.profile and not os.access(opts.py_spy, os.X_OK):
        click.echo("py-spy not installed (.venv/bin/pip install py-spy): profiling skipped")
        opts.profile = False
    opts.out.parent.mkdir(parents=True, exist_ok=True)
    from dex_py.serving.server import default_workers

    workers = opts.workers or default_workers()
    results: list[Result] = []
    hwm: dict[str, list[float]] = {}
    for backend in opts.backends:
        with tempfile.TemporaryDirectory(prefix="dexpy-bench-") as tmp_name:
            tmp = Path(tmp_name)
            with BACKENDS[backend](tmp) as storage:
                port = free_port()
                config = write_config(tmp, port, storage, opts.signing, opts.engine)
                log_path = opts.out.parent / f"server-{backend}.log"
                server = Server(config, port, workers, log_path)
                try:
                    server.wait_ready()
                    opts.parallel = 2 * workers
                    opts.access_token = password_grant(server.base, "openid email")["access_token"]
                    for endpoint in opts.endpoints:
                        bench_endpoint(server, backend, endpoint, 8, opts, tmp, warmup=True)
                        for c in opts.concurrency:
                            r = measure(server, backend, endpoint, c, opts, tmp)
                            results.append(r)
                    hwm[backend] = [
                        proc_status_kib(pid, "VmHWM") / 1024 for pid in server.worker_pids()
                    ]
                finally:
                    server.stop()
    report = render(results, report_header(opts.engine, workers, opts.duration, opts.signing), hwm)
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
