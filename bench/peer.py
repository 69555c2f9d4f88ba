"""Side-by-side benchmark: dex-py against node oidc-provider on the same machine, in one run.

Run from the repo root: ``.venv/bin/python bench/peer.py [--runs 3] [--seconds 5]
[--algorithms ES256,RS256] [--concurrency 8] [--dex-workers N] [--node-workers 2]
[--engine granian] [--out bench/results/peer.md]`` (or ``make bench-peer``). Needs
``/usr/bin/wrk``, ``node`` and ``npm``; the first run installs oidc-provider (the range pinned in
``bench/node_peer/package.json``) into ``bench/node_peer/node_modules`` (git-ignored).

Per signing algorithm, both servers run at once: ``dex-py serve`` on SQLite with a static client
allowed the client_credentials grant, and ``bench/node_peer/server.mjs`` (oidc-provider in
node's cluster module, ``--node-workers`` workers, a static client_secret_basic client with JWT
access tokens through the resourceIndicators feature). For each endpoint (discovery, JWKS,
client_credentials token) wrk drives the two in turn with keep-alive connections, ``--runs``
times, the order alternating each run so a change in the machine's speed hits both. CPU per
request is the user+system CPU of each server's processes (master and workers, from /proc) over
the run divided by its requests. Each cell is the median over the runs with the range after it;
the ratio is dex-py/node req/s, computed per run. Any error answer stops the benchmark.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import FrameType
from typing import Any

import requests
from procstat import CpuMeter
from report import publish
from run import BASIC, BENCH_DIR, CLIENT_ID, CLIENT_SECRET, WRK, Server, free_port, run_wrk
from serving import start as start_dex

NODE_DIR = BENCH_DIR / "node_peer"
SIDES = ("dex-py", "node")
# endpoint: (dex-py path, node path, wrk script, dex-py script args, node script args)
ENDPOINTS: dict[str, tuple[str, str, str, list[str], list[str]]] = {
    "discovery": ("/.well-known/openid-configuration", "/.well-known/openid-configuration",
                  "get.lua", [], []),
    "jwks": ("/keys", "/jwks", "get.lua", [], []),
    "client_credentials": ("/token", "/token", "client_credentials.lua",
                           [BASIC, "openid"], [BASIC, "api"]),
}  # fmt: skip


class NodeServer(Server):
    """``node server.mjs`` in its own process group; the process is the cluster primary."""

    name = "node server.mjs"

    def __init__(self, port: int, workers: int, algorithm: str, log_path: Path) -> None:
        self.base = f"http://127.0.0.1:{port}"
        self.workers = workers
        self.log_path = log_path
        env = dict(os.environ, PEER_PORT=str(port), PEER_WORKERS=str(workers),
                   PEER_ALG=algorithm, PEER_CLIENT_ID=CLIENT_ID,
                   PEER_CLIENT_SECRET=CLIENT_SECRET, NODE_ENV="production")  # fmt: skip
        self.spawn(["node", str(NODE_DIR / "server.mjs")], NODE_DIR, env)

    def is_ready(self) -> bool:
        if "ready" not in self.log_path.read_text().split():  # printed once all workers listen
            return False
        url = self.base + "/.well-known/openid-configuration"
        return requests.get(url, timeout=2).status_code == 200


class WholeServer:
    """The master and its workers, for ``CpuMeter`` (node's primary hands out connections)."""

    def __init__(self, server: Server) -> None:
        self.server = server

    def worker_pids(self) -> list[int]:
        return [self.server.proc.pid, *self.server.worker_pids()]


def ensure_oidc_provider() -> None:
    """``npm install`` in bench/node_peer unless oidc-provider is already there."""
    if (NODE_DIR / "node_modules" / "oidc-provider" / "package.json").exists():
        return
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        sys.exit("node and npm are needed (e.g. `apt-get install nodejs npm`)")
    print("installing oidc-provider into bench/node_peer/node_modules ...", flush=True)
    subprocess.run([npm, "install", "--no-audit", "--no-fund"], cwd=NODE_DIR, check=True)


def check_token(base: str, scope: str, algorithm: str) -> None:
    """One token by hand first: both sides must answer with a JWT signed with ``algorithm``."""
    resp = requests.post(base + "/token", data={"grant_type": "client_credentials", "scope": scope},
                         headers={"Authorization": BASIC}, timeout=10)  # fmt: skip
    token = resp.json().get("access_token", "") if resp.status_code == 200 else ""
    header = token.split(".")[0]
    try:
        alg = json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))["alg"]
    except (ValueError, KeyError):
        alg = None
    if alg != algorithm:
        sys.exit(f"{base}/token: expected a {algorithm} JWT: {resp.status_code} {resp.text[:300]}")


def one_run(server: Server, url: str, script: str, args: list[str], opts: Any) -> dict[str, float]:
    meter = CpuMeter(WholeServer(server), database="-")  # no database backends to count
    raw, first_bad = run_wrk(url, script, opts.concurrency, opts.seconds, args, [])
    cpu, _, others = meter.finish()
    errors = {k: raw[k] for k in ("connect", "read", "write", "timeout", "status", "bad") if raw[k]}
    if errors:
        sys.exit(f"{url}: errors {errors} {first_bad}")
    requests_ = max(raw["requests"], 1)
    return {
        "rps": raw["requests"] / (raw["duration_us"] / 1e6),
        "p50": raw["p50_us"] / 1000,
        "p99": raw["p99_us"] / 1000,
        "cpu_us": 1e6 * cpu / requests_,
        "others": others,
    }


def spread(values: list[float], fmt: str) -> str:
    """Median, and the range when there is more than one value."""
    text = format(statistics.median(values), fmt)
    if len(values) > 1:
        text += f" ({format(min(values), fmt)}-{format(max(values), fmt)})"
    return text


def bench_algorithm(algorithm: str, opts: Any, tmp: Path) -> list[str]:
    """Both servers up with ``algorithm``; every endpoint, interleaved; the table rows."""
    results: dict[tuple[str, str], list[dict[str, float]]] = {}
    servers: list[Server] = []
    try:
        dex = start_dex(opts.engine, tmp, opts.dex_workers, algorithm)
        servers.append(dex)
        node = NodeServer(free_port(), opts.node_workers, algorithm, tmp / f"node-{algorithm}.log")
        servers.append(node)
        node.wait_ready()
        bases = {"dex-py": dex.base, "node": node.base}
        token_args = ENDPOINTS["client_credentials"]
        check_token(dex.base, token_args[3][1], algorithm)
        check_token(node.base, token_args[4][1], algorithm)
        for name, (dex_path, node_path, script, dex_args, node_args) in ENDPOINTS.items():
            paths = {"dex-py": (dex_path, dex_args), "node": (node_path, node_args)}
            for side in SIDES:  # warm-up: lazy imports, JIT, first connections
                warm = argparse.Namespace(concurrency=opts.concurrency, seconds=1)
                one_run(servers[SIDES.index(side)], bases[side] + paths[side][0], script,
                        paths[side][1], warm)  # fmt: skip
            for run in range(opts.runs):
                for side in SIDES if run % 2 == 0 else SIDES[::-1]:
                    path, args = paths[side]
                    r = one_run(servers[SIDES.index(side)], bases[side] + path, script, args, opts)
                    results.setdefault((name, side), []).append(r)
                    print(
                        f"{algorithm} {name:18} run {run + 1} {side:6} {r['rps']:7.0f} req/s "
                        f"p50 {r['p50']:5.1f} ms p99 {r['p99']:5.1f} ms "
                        f"cpu {r['cpu_us']:5.0f} us/req others {100 * r['others']:.0f}%",
                        flush=True,
                    )
    finally:
        for server in servers:
            server.stop()
    rows = []
    for name in ENDPOINTS:
        cells = [algorithm, name]
        for side in SIDES:
            runs = results[(name, side)]
            cells += [
                spread([r["rps"] for r in runs], ".0f"),
                spread([r["p50"] for r in runs], ".1f") + " / " + spread(
                    [r["p99"] for r in runs], ".1f"),
                spread([r["cpu_us"] for r in runs], ".0f"),
            ]  # fmt: skip
        pairs = zip(results[(name, "dex-py")], results[(name, "node")], strict=True)
        cells.append(spread([d["rps"] / n["rps"] for d, n in pairs], ".2f") + "x")
        rows.append("| " + " | ".join(cells) + " |")
    return rows


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", type=int, default=3, help="wrk runs per endpoint and side")
    p.add_argument("--seconds", type=int, default=5, help="seconds per wrk run")
    p.add_argument("--algorithms", default="ES256,RS256")
    p.add_argument("--concurrency", type=int, default=8, help="wrk keep-alive connections")
    p.add_argument("--dex-workers", type=int, default=0, help="default: the server's default")
    p.add_argument("--node-workers", type=int, default=2, help="node cluster workers")
    p.add_argument("--engine", default="granian", choices=["granian", "gunicorn"])
    p.add_argument("--out", type=Path, default=BENCH_DIR / "results" / "peer.md")
    opts = p.parse_args(argv)
    opts.algorithms = [a for a in opts.algorithms.split(",") if a]
    if set(opts.algorithms) - {"ES256", "RS256"}:
        p.error("--algorithms: ES256 and/or RS256")
    return opts


def stop_on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt  # unwinds through the ``finally`` blocks that stop the servers


def main(argv: list[str] | None = None) -> int:
    opts = parse_args(argv)
    if not os.access(WRK, os.X_OK):
        sys.exit(f"{WRK} not found: install it with `apt-get install wrk`")
    ensure_oidc_provider()
    signal.signal(signal.SIGTERM, stop_on_sigterm)
    from dex_py.serving.server import default_workers

    opts.dex_workers = opts.dex_workers or default_workers()
    node_version = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout
    provider = (NODE_DIR / "node_modules" / "oidc-provider" / "package.json").read_text()
    provider_version = next(x for x in provider.splitlines() if '"version"' in x).split('"')[3]
    lines = [
        f"# dex-py vs node oidc-provider {provider_version} (node {node_version.strip()})",
        "",
        f"{time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} CPUs; dex-py {opts.engine} with "
        f"{opts.dex_workers} workers on SQLite, node with {opts.node_workers} cluster workers; "
        f"wrk c={opts.concurrency} keep-alive, {opts.runs} x {opts.seconds} s runs per cell, "
        "median (min-max). CPU: the server's processes' CPU per request.",
        "",
        "| alg | endpoint | dex-py req/s | dex-py p50 / p99 ms | dex-py CPU us/req "
        "| node req/s | node p50 / p99 ms | node CPU us/req | dex-py/node |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    try:
        with tempfile.TemporaryDirectory(prefix="dexpy-bench-peer-") as tmp_name:
            for algorithm in opts.algorithms:
                lines += bench_algorithm(algorithm, opts, Path(tmp_name))
    except KeyboardInterrupt:
        print("interrupted; servers stopped", file=sys.stderr)
        return 130
    publish(lines, opts.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
