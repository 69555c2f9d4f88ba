"""The kubectl exec plugin's cached path: wall time of ``dex-py kube login`` when the token
cache holds a fresh ID token (what kubectl pays before every command). Target: median < 100 ms.

It starts a real ``dex-py serve`` (SQLite, one worker), logs in once with the password grant
through the real command (which fills the cache), stops the server, then runs the same command
``--runs`` times (default 30) and prints median, min and max wall time, next to ``python -c
pass`` (the interpreter's own start-up) and ``dex-py --version`` (the click CLI's start-up).

    .venv/bin/python bench/kube_login.py [--runs 30]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from dexserver import CLIENT_ID, CLIENT_SECRET, EMAIL, PASSWORD, Server, free_port, write_config

DEX_PY = str(Path(sys.executable).parent / "dex-py")


def wall_times(cmd: list[str], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        times.append((time.perf_counter() - start) * 1000)
    return times


def row(name: str, times: list[float]) -> str:
    return f"| {name} | {statistics.median(times):.1f} | {min(times):.1f} | {max(times):.1f} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="dexpy-kube-bench-") as tmp_name:
        tmp = Path(tmp_name)
        port = free_port()
        config = write_config(tmp, port, {"type": "sqlite3", "config": {"file": str(tmp / "db")}},
                              "RS256")  # fmt: skip
        server = Server(config, port, 1, tmp / "server.log")
        login = [
            DEX_PY, "kube", "login", "--issuer", server.base, "--client-id", CLIENT_ID,
            "--client-secret", CLIENT_SECRET, "--grant-type", "password", "--username", EMAIL,
            "--password", PASSWORD, "--token-cache-dir", str(tmp / "cache"),
        ]  # fmt: skip
        try:
            server.wait_ready()
            subprocess.run(login, check=True, stdout=subprocess.DEVNULL)
        finally:
            server.stop()  # the cached path needs no server
        cached = wall_times(login, args.runs)
        baseline = wall_times([sys.executable, "-c", "pass"], args.runs)
        click_cli = wall_times([DEX_PY, "--version"], args.runs)
    print(f"dex-py kube login, cached path, {args.runs} runs (ms wall):\n")
    print("| command | median | min | max |\n| --- | ---: | ---: | ---: |")
    print(row("`dex-py kube login` (cached token)", cached))
    print(row("`python -c pass`", baseline))
    print(row("`dex-py --version` (click CLI)", click_cli))
    verdict = "meets" if statistics.median(cached) < 100 else "misses"
    print(f"\nmedian {statistics.median(cached):.1f} ms: {verdict} the < 100 ms target")


if __name__ == "__main__":
    main()
