"""The benchmark's results: one ``Result`` per wrk run, and the Markdown report (``render``:
median and range over the runs of each cell, and whether issue 9's targets are met) with its
header line (``report_header``: date, machine, server settings)."""

from __future__ import annotations

import contextlib
import datetime
import os
import platform
import statistics
from dataclasses import dataclass, field
from pathlib import Path

LABELS = {
    "discovery": "GET /.well-known/openid-configuration",
    "keys": "GET /keys",
    "client_credentials": "POST /token (client_credentials)",
    "refresh": "POST /token (refresh_token)",
    "code": "POST /token (authorization_code, PKCE)",
    "userinfo": "GET /userinfo",
    "password": "POST /token (password, bcrypt)",
    "tokenreview": "POST /kubernetes/tokenreview (ID token, revocation checked)",
}
# Issue 9's targets on 2 cores: req/s per (endpoint, backend or "*"); the ratios to node
# oidc-provider are judged in peer.py's side-by-side table; p99 at c=32 for all but password.
RPS_TARGETS = {
    ("refresh", "postgres"): 1000,
    ("refresh", "sqlite"): 1200,
    ("code", "*"): 800,
    ("userinfo", "*"): 3000,
    ("tokenreview", "*"): 2000,  # issue 10
}
PEER_TARGETS = {"client_credentials": "1.0x", "discovery": "0.5x", "keys": "0.5x"}
P99_TARGET_MS, P99_CONCURRENCY, P99_EXEMPT = 25.0, 32, ("password",)
RSS_TARGET_MIB = 80.0  # per worker, "no worse than about"


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
    """The CPU's model name (/proc/cpuinfo) and the number of CPUs."""
    model = platform.processor() or "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return f"{model}, {os.cpu_count()} CPUs"


def report_header(engine: str, workers: int, duration: int, signing: str, runs: int = 1) -> str:
    """The report's first line: when, on what, with which server settings."""
    return (
        f"dex-py benchmark, {datetime.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}; "
        f"machine: {cpu_model()}; {engine} workers: {workers}; signing {signing}; "
        f"{runs} run(s) of {duration} s per cell (wrk -t min(2,c) -c c); "
        f"Python {platform.python_version()}"
    )


def spread(values: list[float], fmt: str) -> str:
    """The median, and (min-max) when there is more than one value."""
    text = format(statistics.median(values), fmt)
    if len(values) > 1:
        text += f" ({format(min(values), fmt)}-{format(max(values), fmt)})"
    return text


def target(runs: list[Result]) -> str:
    """met/missed for the cell's targets, judged on the medians over its runs."""
    first = runs[0]
    if any(r.errors for r in runs):
        return "INVALID"
    parts = []
    goal = RPS_TARGETS.get((first.endpoint, first.backend), RPS_TARGETS.get((first.endpoint, "*")))
    if goal is not None:
        met = statistics.median(r.rps for r in runs) >= goal
        parts.append(f"≥ {goal} req/s {'met' if met else 'MISSED'}")
    elif first.endpoint in PEER_TARGETS:
        parts.append(f"≥ {PEER_TARGETS[first.endpoint]} node: see side-by-side")
    if first.concurrency == P99_CONCURRENCY and first.endpoint not in P99_EXEMPT:
        met = statistics.median(r.p99_ms for r in runs) < P99_TARGET_MS
        parts.append(f"p99 < {P99_TARGET_MS:.0f} ms {'met' if met else 'MISSED'}")
    return "; ".join(parts) or "-"


def render(results: list[Result], header: str, hwm: dict[str, list[float]]) -> str:
    """One table per backend, one row per (endpoint, concurrency): median (min-max) over the
    runs of that cell, in the order the cells were first run."""
    cells: dict[tuple[str, str, int], list[Result]] = {}
    for r in results:
        cells.setdefault((r.backend, r.endpoint, r.concurrency), []).append(r)
    lines = [
        header,
        "",
        "Each cell: median (min-max) over its runs. CPU ms/req: user+system CPU of the workers "
        "(and of PostgreSQL's backends) during the run / requests, the server's cost, barely "
        "skewed by other load; RSS: the highest VmRSS of any worker, sampled every 0.2 s; "
        "others: the most, over the runs, of the machine's CPU that unrelated processes took "
        "(wrk, on the same machine, is not counted there). target: issue 9's goals on the "
        f"medians (p99 < {P99_TARGET_MS:.0f} ms at c={P99_CONCURRENCY}, except the password "
        "grant).",
        "",
    ]
    for backend in dict.fromkeys(r.backend for r in results):
        lines += [
            f"### {backend}",
            "",
            "| endpoint | c | req/s | p50 ms | p99 ms | worker CPU ms/req | DB CPU ms/req "
            "| peak RSS/worker MiB | errors | others | target |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
        ]
        for (b, endpoint, c), runs in cells.items():
            if b != backend:
                continue
            lines.append(
                f"| {LABELS[endpoint]} | {c} | {spread([r.rps for r in runs], '.0f')} "
                f"| {spread([r.p50_ms for r in runs], '.1f')} "
                f"| {spread([r.p99_ms for r in runs], '.1f')} "
                f"| {spread([r.cpu_ms for r in runs], '.2f')} "
                f"| {spread([r.db_cpu_ms for r in runs], '.2f')} "
                f"| {max(r.peak_rss_mib for r in runs):.1f} | {sum(r.errors for r in runs)} "
                f"| {100 * max(r.others for r in runs):.0f}% | {target(runs)} |"
            )
        peaks = ", ".join(f"{v:.1f}" for v in hwm.get(backend, []))
        rss = max(r.peak_rss_mib for r in results if r.backend == backend)
        met = "met" if rss <= RSS_TARGET_MIB else "MISSED"
        lines += [
            "",
            f"Peak RSS of a worker over all runs: {rss:.1f} MiB (target about "
            f"{RSS_TARGET_MIB:.0f} MiB: {met}); VmHWM per worker at the end (MiB): {peaks}",
            "",
        ]
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
