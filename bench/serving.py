"""Serving benchmark: slow clients and keep-alive throughput, Granian against gunicorn sync.

Run from the repo root: ``.venv/bin/python bench/serving.py [--slow 1000] [--probes 50]
[--rounds 2] [--duration 10] [--concurrency 8] [--out bench/results/serving.md]``. Needs
``/usr/bin/wrk``. Each server is a real ``dex-py serve`` on SQLite with the default worker count
(cores + 1), only ``server.engine`` differs.

1. Slow clients: ``--slow`` connections send their request head one byte a second
   (``tests/slowclients.py``) and never finish it; meanwhile ``--probes`` requests to
   ``/healthz``, each on a fresh connection, one after the other, 5 s timeout. Reported: how many
   of the slow connections the server still held when the probes ended, and the probes' answered
   count and latency (p50 / p99 / max); after 3 unanswered probes the rest are skipped.
2. Throughput with keep-alive clients (wrk, ``--concurrency`` connections, ``--duration`` s):
   discovery and the client_credentials grant. The engines alternate, ``--rounds`` times each,
   so a change in the machine's speed hits both.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import requests
from report import publish
from run import BASIC, REPO_ROOT, Server, free_port, run_wrk, write_config

sys.path.insert(0, str(REPO_ROOT))
from tests.slowclients import SlowClients

ENGINES = ("granian", "gunicorn")


def start(engine: str, tmp: Path, workers: int, signing: str = "RS256") -> Server:
    """``dex-py serve`` on SQLite with ``run.write_config``'s config, in which the static
    client may use the client_credentials grant (also used by ``peer.py``)."""
    port = free_port()
    storage = {"type": "sqlite3", "config": {"file": str(tmp / f"{engine}-{port}.db")}}
    path = write_config(tmp, port, storage, signing, engine)  # client_credentials allowed
    server = Server(path, port, workers, tmp / f"{engine}-{port}.log")
    server.wait_ready()
    return server


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def slow_clients(server: Server, port: int, slow: int, probes: int) -> dict[str, Any]:
    latencies: list[float] = []
    with SlowClients("127.0.0.1", port, slow=slow, interval=1.0) as clients:
        while clients.sent < 2:
            time.sleep(0.1)
        failures = 0
        for _ in range(probes):
            started = time.perf_counter()
            try:
                ok = requests.get(server.base + "/healthz", timeout=5).status_code == 200
            except requests.RequestException:
                ok = False
            if ok:
                latencies.append((time.perf_counter() - started) * 1000)
            else:
                failures += 1
                if failures == 3:  # stalled; the rest would time out the same way
                    break
        held = clients.open_count()
    return {"held": held, "answered": len(latencies), "latencies": latencies}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--slow", type=int, default=1000)
    parser.add_argument("--probes", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "bench/results/serving.md")
    opts = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, 4 * opts.slow)), hard))

    lines = [f"# Serving benchmark ({opts.workers} workers, SQLite)", ""]
    lines += [f"## {opts.slow} slow clients, {opts.probes} probes", ""]
    lines += ["| engine | slow connections held | probes answered | p50 ms | p99 ms | max ms |"]
    lines += ["|---|---|---|---|---|---|"]
    throughput: dict[tuple[str, str], list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="dexpy-bench-serving-") as tmp_name:
        tmp = Path(tmp_name)
        for engine in ENGINES:
            server = start(engine, tmp, opts.workers)
            port = int(server.base.split(":")[2].split("/")[0])
            try:
                result = slow_clients(server, port, opts.slow, opts.probes)
            finally:
                server.stop()
            lat = result["latencies"] or [float("nan")]
            lines.append(
                f"| {engine} | {result['held']} / {opts.slow} | {result['answered']} / "
                f"{opts.probes} | {statistics.median(lat):.1f} | {percentile(lat, 0.99):.1f} | "
                f"{max(lat):.1f} |"
            )
            print(lines[-1], flush=True)
        for round_ in range(opts.rounds):
            for engine in ENGINES if round_ % 2 == 0 else ENGINES[::-1]:
                server = start(engine, tmp, opts.workers)
                try:
                    for name, url, script, args in (
                        ("discovery", "/.well-known/openid-configuration", "get.lua", []),
                        ("client_credentials", "/token", "client_credentials.lua", [BASIC]),
                    ):
                        stats, first_bad = run_wrk(
                            server.base + url, script, opts.concurrency, opts.duration, args, []
                        )
                        if stats["status"] or stats["bad"] or stats["connect"] or stats["read"]:
                            sys.exit(f"{engine} {name}: errors {stats} {first_bad}")
                        rate = stats["requests"] / (stats["duration_us"] / 1e6)
                        throughput.setdefault((name, engine), []).append(rate)
                        print(f"round {round_ + 1} {engine} {name}: {rate:.0f} req/s", flush=True)
                finally:
                    server.stop()
    lines += ["", f"## Keep-alive throughput, c={opts.concurrency}, {opts.duration} s runs", ""]
    lines += ["| endpoint | granian req/s | gunicorn sync req/s | ratio |", "|---|---|---|---|"]
    for name in ("discovery", "client_credentials"):
        g, u = throughput[(name, "granian")], throughput[(name, "gunicorn")]
        ratios = [a / b for a, b in zip(g, u, strict=True)]
        lines.append(
            f"| {name} | {' / '.join(f'{x:.0f}' for x in g)} | "
            f"{' / '.join(f'{x:.0f}' for x in u)} | {min(ratios):.2f}-{max(ratios):.2f}x |"
        )
    publish(lines, opts.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
