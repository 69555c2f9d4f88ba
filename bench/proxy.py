"""Auth proxy benchmark (issue 11): the same static file, side by side in one run.

Run from the repo root: ``.venv/bin/python bench/proxy.py [--rounds 3] [--duration 5]
[--concurrency 32] [--idle 1000] [--proxy-workers 2] [--store cookie]
[--out bench/results/proxy.md]``. Needs ``/usr/bin/wrk``, nginx, apache2 and
libapache2-mod-auth-openidc (Debian packages; ``.ci/run`` installs them).

Setups, all on 127.0.0.1, every server started here from its own config in a temporary folder
and stopped by pid (``tests/proxy_front/daemons.py``):

- ``direct``: nginx serving ``/static/hello.txt`` (the upstream of every other setup);
- ``nginx + auth_request``: nginx in ingress-nginx's shape asking ``dex-py proxy``'s
  ``/oauth2/auth`` on every request, with a valid session cookie;
- ``dex-py upstream``: ``dex-py proxy`` in upstream mode, with a valid session cookie;
- ``Apache + mod_auth_openidc``: Apache (event MPM) protecting a reverse proxy to the same
  upstream with mod_auth_openidc, a relying party of the same ``dex-py serve`` issuer, with a
  valid session cookie (its server-side session cache in shared memory);
- ``/oauth2/auth alone``: the proxy's forward-auth answer (202 + identity headers).

Sessions come from scripted logins through the issuer's password form. Rounds are interleaved
(every setup once per round, in a new random order each round) because the machine is shared.
Per setup, under load (``--concurrency``): median req/s (min-max), p50, p99 (wrk's latency),
CPU time per request of every server process on the path (``/proc/<pid>/stat`` before/after:
nginx front, proxy, Apache, upstream nginx); and with one connection (c=1, the latency a request
pays rather than queueing) the p50 and what it adds to ``direct``'s. ``--setups`` picks some
(``direct,nginx,upstream,apache,auth``). Then the proxy's throughput (upstream mode, else
``/oauth2/auth``) with ``--idle`` idle connections held open on it against without
(alternating). Targets
(judged on medians): ``/oauth2/auth`` >= 5,000 req/s; added p50 < 1 ms; upstream mode >= 0.5 x
mod_auth_openidc; idle connections cost the others no more than 10 % of throughput.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import statistics
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from dexserver import REPO_ROOT
from procstat import busy_seconds, cpu_by_pid, cpu_spent, wait_for_quiet
from report import cpu_model, publish
from workloads import wrk

sys.path.insert(0, str(REPO_ROOT))
from tests.live import ADMIN_EMAIL, ADMIN_PASSWORD, LiveServer, live_server
from tests.login_flow import follow_login
from tests.proxy_front import daemons
from tests.proxy_front.stack import BROWSER_ACCEPT
from tests.services import free_port
from tests.slowclients import SlowClients

PROXY_CLIENT, PROXY_SECRET = "dex-py-proxy", "bench-proxy-secret-0123456789"
APACHE_CLIENT, APACHE_SECRET = "bench-mod-auth-openidc", "bench-apache-secret-0123456789"
COOKIE = "_dexpy_proxy"
COOKIE_SECRET = "bench-proxy-cookie-secret-0123456789abcdef"
FILE = "/static/hello.txt"
FILE_BYTES = 1024
IDLE_SLOWDOWN_LIMIT = 0.9  # throughput with idle connections / without, at least
CORES = os.cpu_count() or 1


def load_average() -> str:
    return Path("/proc/loadavg").read_text().split()[0]


@dataclass
class Setup:
    key: str  # as named in --setups
    name: str
    url: str
    headers: list[str]
    servers: list[daemons.Daemon]
    runs: list[dict[str, float]] = field(default_factory=list)  # loaded: --concurrency
    quiet: list[dict[str, float]] = field(default_factory=list)  # one connection: latency

    def pids(self) -> list[int]:
        return [pid for server in self.servers for pid in server.group_pids()]


@dataclass
class Ports:
    static: int = field(default_factory=free_port)
    front: int = field(default_factory=free_port)
    proxy: int = field(default_factory=free_port)
    apache: int = field(default_factory=free_port)


def start_issuer(ports: Ports, tmp: Path) -> LiveServer:
    """``dex-py serve`` (password DB) knowing the proxy and mod_auth_openidc as clients."""
    clients = [
        {
            "id": PROXY_CLIENT,
            "secret": PROXY_SECRET,
            "name": "proxy",
            "redirectURIs": [f"http://127.0.0.1:{ports.proxy}/oauth2/callback"],
        },
        {
            "id": APACHE_CLIENT,
            "secret": APACHE_SECRET,
            "name": "apache",
            "redirectURIs": [f"http://127.0.0.1:{ports.apache}/redirect_uri"],
        },
    ]
    overrides = {
        "staticClients": clients,
        "connectors": [],
        "oauth2": {"skipApprovalScreen": True},
        "logger": {"level": "info"},
    }
    return live_server(overrides, workers=1, base_dir=tmp)


def static_nginx(ports: Ports, tmp: Path, workers: int) -> daemons.Daemon:
    root = tmp / "www"
    (root / "static").mkdir(parents=True)
    (root / "static" / "hello.txt").write_bytes(b"x" * (FILE_BYTES - 1) + b"\n")
    server = f"server {{ listen 127.0.0.1:{ports.static}; root {root}; }}"
    return daemons.start_nginx(tmp / "nginx-static", server, ports.static, workers=workers)


def proxy_config(
    issuer: str, ports: Ports, workers: int, store: str, upstream: bool
) -> dict[str, Any]:
    return {
        "listen": f"127.0.0.1:{ports.proxy}",
        "workers": workers,
        "issuer": issuer,
        "clientID": PROXY_CLIENT,
        "clientSecret": PROXY_SECRET,
        "redirectURL": f"http://127.0.0.1:{ports.proxy}/oauth2/callback",
        "scopes": ["openid", "email", "profile", "groups", "offline_access"],
        "cookie": {"name": COOKIE, "secrets": [COOKIE_SECRET], "secure": False},
        "session": {"store": store, "refreshInterval": "1h"},
        "upstreams": [{"path": "/", "url": f"http://127.0.0.1:{ports.static}"}] if upstream else [],
        "rules": [{"path": "/", "allow": {"teams": ["admins"]}}],
        "metrics": {"listen": ""},
        "logging": {"format": "json", "level": "warning", "requests": False},
    }


def log_in(start: str, back: str, cookie_prefix: str) -> str:
    """Log in as the password-DB user from ``start`` until the redirect to ``back``; return the
    Cookie header value with the cookies whose names start with ``cookie_prefix``."""
    browser = requests.Session()
    browser.headers.update(BROWSER_ACCEPT)
    first = browser.get(start, allow_redirects=False, timeout=10)
    callback = follow_login(
        browser,
        first,
        back_to_client=lambda loc: loc.startswith(back),
        credentials=(ADMIN_EMAIL, ADMIN_PASSWORD),
        chooser="/auth/local",
    )
    resp = browser.get(callback, allow_redirects=True, timeout=10)
    if resp.status_code != 200:
        sys.exit(f"login at {start} ended with {resp.status_code}: {resp.text[:300]}")
    cookies = [f"{c.name}={c.value}" for c in browser.cookies if c.name.startswith(cookie_prefix)]
    if not cookies:
        sys.exit(f"login at {start} set no {cookie_prefix}* cookie")
    return "; ".join(cookies)


def check(setup: Setup) -> None:
    """One request as wrk will send it: it must pass (2xx), not redirect to a login."""
    headers = dict(h.split(": ", 1) for h in setup.headers)
    resp = requests.get(setup.url, headers=headers, allow_redirects=False, timeout=10)
    if resp.status_code not in (200, 202):
        sys.exit(f"{setup.name}: {setup.url} -> {resp.status_code} {resp.text[:300]}")


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)  # wrk, once waited for
    return usage.ru_utime + usage.ru_stime


def measure(setup: Setup, concurrency: int, duration: int, max_wait: float = 0) -> dict[str, float]:
    """One wrk run against ``setup`` (after waiting up to ``max_wait`` s for a quiet machine):
    its numbers, the servers' CPU per request, and the share of the machine other work took."""
    wait_for_quiet(max_wait)
    pids = setup.pids()
    before, wrk_before, busy_before = cpu_by_pid(pids), children_cpu(), busy_seconds()
    run = wrk(setup.url, "get.lua", concurrency, duration, [], setup.headers).raw
    cpu = cpu_spent(before, cpu_by_pid(pids))
    others = busy_seconds() - busy_before - cpu - (children_cpu() - wrk_before)
    errors = run["status"] + run["connect"] + run["read"] + run["write"] + run["timeout"]
    seconds = run["duration_us"] / 1e6
    return {
        "rps": run["requests"] / seconds,
        "p50": run["p50_us"] / 1000,
        "p99": run["p99_us"] / 1000,
        "cpu_us": cpu / max(run["requests"], 1) * 1e6,
        "others": max(others, 0.0) / (seconds * CORES),
        "errors": errors,
    }


def median(runs: list[dict[str, float]], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def idle_test(setup: Setup, args: argparse.Namespace, port: int) -> dict[str, Any]:
    """Upstream mode's throughput without and with ``--idle`` idle connections, alternating."""
    without: list[dict[str, float]] = []
    with_idle: list[dict[str, float]] = []
    held = 0
    for _ in range(args.rounds):
        without.append(measure(setup, args.concurrency, args.duration, args.max_wait))
        with SlowClients("127.0.0.1", port, slow=0, idle=args.idle) as idle:
            with_idle.append(measure(setup, args.concurrency, args.duration, args.max_wait))
            held = idle.open_count()
    return {"without": without, "with": with_idle, "held": held, "name": setup.name}


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def render(setups: list[Setup], idle: dict[str, Any], args: argparse.Namespace) -> list[str]:
    by_key = {s.key: s for s in setups}
    direct_p50 = median(by_key["direct"].quiet, "p50") if "direct" in by_key else None
    lines = [
        f"# Auth proxy benchmark ({cpu_model()})",
        "",
        f"{args.rounds} interleaved rounds of {args.duration} s per setup, wrk c={args.concurrency}"
        f", {FILE_BYTES}-byte static file; dex-py proxy workers={args.proxy_workers}, "
        f"session store={args.store}, nginx workers={args.nginx_workers}, Apache event MPM 2 x "
        "64 threads. Medians (req/s: min-max). CPU = all server processes on the path, per "
        "request. p50 and added p50 at c=1: one connection, one request at a time (the "
        "latency a request pays, not queueing under load); added = minus direct's.",
        "",
        f"Machine load (1-min load average) at the start {args.load_before}, at the end "
        f"{load_average()}: other work shares these {CORES} cores, so req/s moves from round "
        "to round; CPU µs per request moves much less. `CPU ceiling` = cores x 1 s / CPU per "
        "request: the req/s the path's servers could reach with every core to themselves (wrk "
        "left out), an estimate, not a measurement. `others' CPU`: the share of the machine "
        "not spent by these servers or wrk during the loaded runs (other jobs, and kernel "
        "network work no process is charged for).",
        "",
        "| setup | req/s | p50 ms | p99 ms | CPU µs/req | CPU ceiling req/s | others' CPU "
        "| p50 ms, c=1 | added p50, c=1 | errors |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    added: dict[str, float] = {}
    for s in setups:
        rps = [r["rps"] for r in s.runs]
        if direct_p50 is not None and s.key != "direct":
            added[s.key] = median(s.quiet, "p50") - direct_p50
        lines.append(
            f"| {s.name} | {statistics.median(rps):,.0f} ({min(rps):,.0f}-{max(rps):,.0f}) "
            f"| {median(s.runs, 'p50'):.2f} | {median(s.runs, 'p99'):.2f} "
            f"| {median(s.runs, 'cpu_us'):.0f} | {CORES * 1e6 / median(s.runs, 'cpu_us'):,.0f} "
            f"| {median(s.runs, 'others'):.0%} "
            f"| {median(s.quiet, 'p50'):.2f} "
            f"| {f'{added[s.key]:+.2f} ms' if s.key in added else ''} "
            f"| {sum(r['errors'] for r in s.runs + s.quiet):.0f} |"
        )
    lines += ["", "| target | measured | verdict |", "|---|---|---|"]
    if "auth" in by_key:
        auth_rps = median(by_key["auth"].runs, "rps")
        lines.append(
            f"| /oauth2/auth >= 5,000 req/s | {auth_rps:,.0f} req/s | {verdict(auth_rps >= 5000)} |"
        )
    for key in ("nginx", "upstream"):
        if key in added:
            lines.append(
                f"| added p50 < 1 ms ({by_key[key].name}) | {added[key]:+.2f} ms "
                f"| {verdict(added[key] < 1)} |"
            )
    if "upstream" in by_key and "apache" in by_key:
        ratio = median(by_key["upstream"].runs, "rps") / median(by_key["apache"].runs, "rps")
        by_cpu = median(by_key["apache"].runs, "cpu_us") / median(by_key["upstream"].runs, "cpu_us")
        lines.append(
            f"| upstream mode >= 0.5 x mod_auth_openidc | {ratio:.2f} x req/s ({by_cpu:.2f} x "
            f"by CPU per request) | {verdict(ratio >= 0.5)} |"
        )
    if idle:
        ratio = median(idle["with"], "rps") / median(idle["without"], "rps")
        ok = ratio >= IDLE_SLOWDOWN_LIMIT and idle["held"] == args.idle
        lines.append(
            f"| {args.idle} idle connections don't slow others (>= {IDLE_SLOWDOWN_LIMIT} x) "
            f"| {ratio:.2f} x, {idle['held']} held | {verdict(ok)} |"
        )
        lines += [
            "",
            f"Idle connections ({idle['name']}): {args.idle} silent connections held open on the "
            f"proxy ({idle['held']} still open at the end). {idle_line('With', idle['with'])} "
            f"{idle_line('Without', idle['without'])}",
        ]
    return lines


def idle_line(label: str, runs: list[dict[str, float]]) -> str:
    return (
        f"{label}: {median(runs, 'rps'):,.0f} req/s, p50 {median(runs, 'p50'):.2f} ms, "
        f"CPU {median(runs, 'cpu_us'):.0f} µs/req, others' CPU {median(runs, 'others'):.0%}."
    )


def start_servers(
    args: argparse.Namespace, ports: Ports, tmp: Path, issuer: str, running: list[daemons.Daemon]
) -> list[Setup]:
    """Start every server and log in; return the setups asked for in ``--setups``."""
    wanted = args.setups.split(",")
    static = static_nginx(ports, tmp, args.nginx_workers)
    running.append(static)
    upstream = "upstream" in wanted
    config = proxy_config(issuer, ports, args.proxy_workers, args.store, upstream)
    proxy = daemons.start_proxy(tmp / "proxy", config, ports.proxy)
    running.append(proxy)
    proxy_base = f"http://127.0.0.1:{ports.proxy}"
    start = proxy_base + (FILE if upstream else "/oauth2/start?rd=/oauth2/userinfo")
    with_cookie = [f"Cookie: {log_in(start, proxy_base + '/oauth2/callback', COOKIE)}"]
    setups = [
        Setup(
            "direct",
            "direct (nginx static)",
            f"http://127.0.0.1:{ports.static}{FILE}",
            [],
            [static],
        ),
        Setup("upstream", "dex-py upstream mode", proxy_base + FILE, with_cookie, [proxy, static]),
        Setup("auth", "/oauth2/auth alone", proxy_base + "/oauth2/auth", with_cookie, [proxy]),
    ]
    if "nginx" in wanted:
        conf = daemons.nginx_forward_auth_server(ports.front, ports.proxy, ports.static)
        front = daemons.start_nginx(
            tmp / "nginx-front", conf, ports.front, workers=args.nginx_workers
        )
        running.append(front)
        setups.append(
            Setup(
                "nginx",
                "nginx + auth_request",
                f"http://127.0.0.1:{ports.front}{FILE}",
                with_cookie,
                [front, proxy, static],
            )
        )
    if "apache" in wanted:
        apache = daemons.start_apache(
            tmp / "apache", ports.apache, ports.static, issuer, APACHE_CLIENT, APACHE_SECRET
        )
        running.append(apache)
        base = f"http://127.0.0.1:{ports.apache}"
        cookie = log_in(base + FILE, base + "/redirect_uri", "mod_auth_openidc_session")
        setups.append(
            Setup(
                "apache",
                "Apache + mod_auth_openidc",
                base + FILE,
                [f"Cookie: {cookie}"],
                [apache, static],
            )
        )
    order = ["direct", "nginx", "upstream", "apache", "auth"]
    return sorted((s for s in setups if s.key in wanted), key=lambda s: order.index(s.key))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--setups", default="direct,nginx,upstream,apache,auth")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--idle", type=int, default=1000, help="0: no idle-connection test")
    parser.add_argument("--proxy-workers", type=int, default=2)
    parser.add_argument("--nginx-workers", type=int, default=2)
    parser.add_argument("--store", default="cookie", choices=["cookie", "memory"])
    parser.add_argument(
        "--max-wait",
        type=float,
        default=5.0,
        help="seconds to wait for a quiet machine before each loaded run",
    )
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "bench/results/proxy.md")
    args = parser.parse_args()
    args.load_before = load_average()

    ports = Ports()
    running: list[daemons.Daemon] = []
    with tempfile.TemporaryDirectory(prefix="dexpy-bench-proxy-") as tmp_name:
        tmp = Path(tmp_name)
        issuer = start_issuer(ports, tmp)
        try:
            setups = start_servers(args, ports, tmp, issuer.issuer, running)
            for setup in setups:
                check(setup)
                measure(setup, args.concurrency, 1)  # warm-up: pools, caches
            for round_no in range(args.rounds):
                for setup in random.sample(setups, len(setups)):
                    setup.runs.append(
                        measure(setup, args.concurrency, args.duration, args.max_wait)
                    )
                    setup.quiet.append(measure(setup, 1, max(2, args.duration // 2)))
                print(f"round {round_no + 1}/{args.rounds} done", file=sys.stderr)
            idle: dict[str, Any] = {}
            loaded = [s for s in setups if s.key in ("upstream", "auth")]
            if args.idle and loaded:
                idle = idle_test(loaded[0], args, ports.proxy)
            publish(render(setups, idle, args), args.out)
        finally:
            for daemon in reversed(running):
                daemon.stop()
            issuer.stop()


if __name__ == "__main__":
    main()
