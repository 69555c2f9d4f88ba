"""``make bench``: issue 9's whole benchmark in one go, then every table together.

Run from the repo root: ``.venv/bin/python bench/suite.py [--peer-args "..."]
[--run-args "..."] [--scale-args "..."] [--out bench/results/bench.md]``; the ``--*-args`` are
added to each script's own options (later options win, e.g. ``--run-args "--runs 1"``).
The steps, one after the other (each is also a script of its own, see bench/README.md):

1. ``peer.py``: dex-py next to node oidc-provider (discovery, JWKS, client_credentials),
   3 interleaved runs per cell;
2. ``run.py --concurrency 32 --retries 1 --max-wait 20``: the target table, SQLite and
   PostgreSQL, every endpoint, 3 interleaved runs per cell, met/missed per target;
3. ``scale.py``, when it exists.

Each step writes its table to ``bench/results/<step>.md``; at the end the tables are printed
together and written to ``--out`` (and a dated copy next to it), with each step's wall time.
A step that fails does not stop the others; the exit status is 1 if any failed.
"""

from __future__ import annotations

import argparse
import datetime
import shlex
import subprocess
import sys
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
RESULTS = BENCH_DIR / "results"
DEFAULT_RUN_ARGS = "--concurrency 32 --retries 1 --max-wait 20"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--peer-args", default="", help="extra options for peer.py")
    p.add_argument(
        "--run-args", default="", help=f"extra options for run.py (after {DEFAULT_RUN_ARGS})"
    )
    p.add_argument("--scale-args", default="", help="extra options for scale.py")
    p.add_argument("--out", type=Path, default=RESULTS / "bench.md")
    return p.parse_args(argv)


def step(name: str, args: list[str]) -> tuple[Path, int, float]:
    """Run ``bench/<name>.py ARGS --out results/<name>.md``: (its table, exit status, s)."""
    out = RESULTS / f"{name}.md"
    out.unlink(missing_ok=True)
    cmd = [sys.executable, str(BENCH_DIR / f"{name}.py"), *args, "--out", str(out)]
    print(f"=== {' '.join(shlex.quote(a) for a in cmd[1:])}", flush=True)
    started = time.monotonic()
    status = subprocess.run(cmd, check=False).returncode
    return out, status, time.monotonic() - started


def main(argv: list[str] | None = None) -> int:
    opts = parse_args(argv)
    RESULTS.mkdir(parents=True, exist_ok=True)
    steps = [
        ("peer", shlex.split(opts.peer_args)),
        ("run", shlex.split(f"{DEFAULT_RUN_ARGS} {opts.run_args}")),
    ]
    if (BENCH_DIR / "scale.py").exists():
        steps.append(("scale", shlex.split(opts.scale_args)))
    started = time.monotonic()
    tables: list[str] = []
    timing: list[str] = []
    failed = False
    try:
        for name, args in steps:
            out, status, seconds = step(name, args)
            failed |= status != 0
            timing.append(f"{name}.py {seconds / 60:.1f} min (exit status {status})")
            if out.exists():
                tables.append(out.read_text())
            else:
                tables.append(f"{name}.py wrote no table (exit status {status}).\n")
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    total = f"{(time.monotonic() - started) / 60:.1f} min"
    report = "\n".join(tables) + f"\nWall time: {total}: {'; '.join(timing)}.\n"
    opts.out.parent.mkdir(parents=True, exist_ok=True)
    opts.out.write_text(report)
    stamp = datetime.datetime.now().astimezone().strftime("%Y%m%d-%H%M")
    opts.out.with_name(f"{opts.out.stem}-{stamp}.md").write_text(report)
    print("\n" + report)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
