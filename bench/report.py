"""The benchmark's results: one ``Result`` per wrk run, and the Markdown report (``render``)
with its header line (``report_header``: date, machine, server settings)."""

from __future__ import annotations

import datetime
import os
import platform
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

LABELS = {
    "discovery": "GET /.well-known/openid-configuration",
    "keys": "GET /keys",
    "refresh": "POST /token (refresh_token)",
    "password": "POST /token (password)",
    "userinfo": "GET /userinfo",
}


@dataclass
class Result:
    backend: str
    endpoint: str
    concurrency: int
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    peak_rss_mib: float
    cpu_ms: float  # worker CPU per request
    db_cpu_ms: float  # PostgreSQL backend CPU per request
    others: float  # share of the machine's CPU used by unrelated processes during the run
    detail: dict[str, int] = field(default_factory=dict)
    first_bad: str = ""  # the first rejected answer (status and body start), if any


def cpu_model() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return platform.processor() or "unknown CPU"
    fields = dict(line.split(":", 1) for line in out.splitlines() if ":" in line)
    return f"{fields.get('Model name', '?').strip()}, {os.cpu_count()} CPUs"


def report_header(engine: str, workers: int, duration: int, signing: str) -> str:
    """The report's first line: when, on what, with which server settings."""
    return (
        f"dex-py benchmark, {datetime.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}; "
        f"machine: {cpu_model()}; {engine} workers: {workers}; {duration} s per run "
        f"(wrk -t min(2,c) -c c); signing {signing}; Python {platform.python_version()}"
    )


def render(results: list[Result], header: str, hwm: dict[str, list[float]]) -> str:
    lines = [
        header,
        "",
        "CPU ms/req: user+system CPU of the workers (and of PostgreSQL's backends) "
        "during the run / requests, the server's cost, barely skewed by other load; others: "
        "share of the machine's CPU that unrelated processes took during the run (wrk, on the "
        "same machine, is not counted there).",
        "",
    ]
    for backend in dict.fromkeys(r.backend for r in results):
        lines += [
            f"### {backend}",
            "",
            "| endpoint | concurrency | req/s | p50 ms | p99 ms | errors | peak RSS/worker MiB "
            "| worker CPU ms/req | DB CPU ms/req | others |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for r in (r for r in results if r.backend == backend):
            lines.append(
                f"| {LABELS[r.endpoint]} | {r.concurrency} | {r.rps:.0f} | {r.p50_ms:.1f} | "
                f"{r.p99_ms:.1f} | {r.errors} | {r.peak_rss_mib:.1f} | {r.cpu_ms:.2f} | "
                f"{r.db_cpu_ms:.2f} | {100 * r.others:.0f}% |"
            )
        peaks = ", ".join(f"{v:.1f}" for v in hwm.get(backend, []))
        lines += ["", f"VmHWM per worker at the end (MiB): {peaks}", ""]
    bad = [r for r in results if r.errors]
    if bad:
        lines.append("**INVALID: error answers; these numbers do not count.**")
        for r in bad:
            lines.append(f"- {r.backend}/{r.endpoint}/c={r.concurrency}: {r.detail}")
            if r.first_bad:
                lines.append(f"  first rejected answer: `{r.first_bad}`")
    return "\n".join(lines) + "\n"


def publish(lines: list[str], out: Path) -> None:
    """Write the report's ``lines`` to ``out`` (creating its folder) and print them."""
    report = "\n".join(lines) + "\n"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(report)
    print(report)
