"""What wrk sends for each endpoint of ``run.py`` (``Workload.prepare``: URL, Lua script, its
arguments, headers) and the single-use credentials some of them need: refresh tokens made with
the password grant, and authorization codes (``CodePool``) made through ``/auth`` with an SSO
session (``bench/codes.py``). ``run_wrk`` runs wrk and parses ``bench/report.lua``'s line.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import requests
from codes import CodeMaker, make_codes
from dexserver import (
    BASIC,
    BENCH_DIR,
    CLIENT_ID,
    EMAIL,
    KUBE_CALLER,
    PASSWORD,
    REDIRECT_URI,
    WRK,
    Server,
)

ENDPOINTS = (
    "discovery", "keys", "client_credentials", "refresh", "code", "userinfo", "password",
    "tokenreview",
)  # fmt: skip
TOKENS_PER_CONNECTION = 4
# The ID token reviewed by ``tokenreview``: with a refresh chain and a session-less login, so a
# review makes its one storage lookup (the chain's revocation marker).
REVIEW_SCOPE = "openid email groups offline_access"
CODE_POOL_SAFETY = 1.5  # codes made per code expected to be used in a run


# --- wrk -----------------------------------------------------------------------------------------


@dataclass
class WrkRun:
    """wrk's numbers (see report.lua), the first rejected answer if a script saw one, and what
    ``code.lua`` reports: codes taken per wrk thread."""

    raw: dict[str, int]
    first_bad: str = ""
    codes_used: list[int] = field(default_factory=list)


def run_wrk(url: str, script: str, concurrency: int, duration: int, args: list[str],
            headers: list[str]) -> tuple[dict[str, int], str]:  # fmt: skip
    """wrk's numbers and the first rejected answer (for peer.py and serving.py)."""
    run = wrk(url, script, concurrency, duration, args, headers)
    return run.raw, run.first_bad


def wrk(url: str, script: str, concurrency: int, duration: int, args: list[str],
        headers: list[str]) -> WrkRun:  # fmt: skip
    cmd = [WRK, "-t", str(wrk_threads(concurrency)), "-c", str(concurrency), "-d", f"{duration}s",
           "--latency", "--timeout", "10s", "-s", str(BENCH_DIR / script)]  # fmt: skip
    for header in headers:
        cmd += ["-H", header]
    cmd += [url, "--", *args]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 120)
    lines = out.stdout.splitlines()
    run = WrkRun({})
    for line in lines:
        kind, _, rest = line.partition(" ")
        if kind == "WRK_RESULT":
            run.raw = json.loads(rest)
        elif kind == "WRK_FIRST_BAD":
            run.first_bad = rest
        elif kind == "WRK_CODES_USED":
            run.codes_used = json.loads(rest)
    if not run.raw:
        sys.exit(f"wrk failed ({out.returncode}):\n{out.stdout}\n{out.stderr}")
    return run


def wrk_threads(concurrency: int) -> int:
    return min(2, concurrency)


# --- single-use credentials ----------------------------------------------------------------------


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


class CodePool:
    """Unused authorization codes of one server, topped up before each ``code`` run and
    trimmed by what the run took (codes live an hour in the bench config).

    The pool for a run is ``CODE_POOL_SAFETY`` times the codes the run is expected to use: its
    duration times the fastest valid exchange rate seen so far on this server, at least
    ``rate_guess`` (``--code-rate``). A run that runs dry is invalid; ``grow`` doubles the
    expectation for the retry."""

    def __init__(self, server: Server, path: Path, parallel: int, rate_guess: float) -> None:
        self.maker = CodeMaker(server.base, CLIENT_ID, REDIRECT_URI)
        self.maker.login(EMAIL, PASSWORD)
        self.path = path
        self.parallel = parallel
        self.expected_rate = rate_guess
        self.codes: list[str] = []
        self.made = 0
        self.making_s = 0.0

    def fill(self, duration: int, concurrency: int) -> Path:
        """Top the pool up for a run; write it for code.lua; return the file."""
        need = math.ceil(CODE_POOL_SAFETY * self.expected_rate * duration) + 4 * concurrency
        missing = need - len(self.codes)
        if missing > 0:
            made, seconds = make_codes(self.maker, missing, self.parallel)
            self.codes += made
            self.made += len(made)
            self.making_s += seconds
            print(f"  {len(made)} codes made in {seconds:.1f} s ({len(made) / seconds:.0f}/s)")
        self.path.write_text("".join(line + "\n" for line in self.codes))
        return self.path

    def used(self, run: WrkRun, threads: int, rate: float, valid: bool) -> None:
        """Drop the codes wrk's threads took (thread i had lines i, i + threads, ...)."""
        taken = run.codes_used or [len(self.codes)] * threads  # no report: assume all gone
        self.codes = [c for i, c in enumerate(self.codes) if i // threads >= taken[i % threads]]
        if valid:
            self.expected_rate = max(self.expected_rate, rate)

    def grow(self) -> None:
        self.expected_rate *= 2


# --- per endpoint --------------------------------------------------------------------------------


@dataclass
class Workload:
    """One server's wrk inputs: ``prepare`` gives (url, script, args, headers) for a run."""

    server: Server
    tmp: Path
    parallel: int
    access_token: str
    codes: CodePool | None = None
    id_token: str = ""  # of a login with a refresh token: the review checks its chain

    def prepare(
        self, endpoint: str, c: int, duration: int
    ) -> tuple[str, str, list[str], list[str]]:
        base = self.server.base
        threads = str(wrk_threads(c))
        if endpoint == "discovery":
            return base + "/.well-known/openid-configuration", "get.lua", [], []
        if endpoint == "keys":
            return base + "/keys", "get.lua", [], []
        if endpoint == "userinfo":
            return base + "/userinfo", "get.lua", [], [f"Authorization: Bearer {self.access_token}"]
        if endpoint == "password":
            return base + "/token", "password.lua", [BASIC, "admin%40example.com", PASSWORD], []
        if endpoint == "client_credentials":
            return base + "/token", "client_credentials.lua", [BASIC, "openid"], []
        if endpoint == "refresh":
            tokens = refresh_pool(base, TOKENS_PER_CONNECTION * c, self.parallel)
            token_file = self.tmp / f"refresh-{c}.txt"
            token_file.write_text("\n".join(tokens) + "\n")
            return base + "/token", "refresh.lua", [BASIC, str(token_file), threads], []
        if endpoint == "tokenreview":
            if not self.id_token:
                self.id_token = password_grant(base, REVIEW_SCOPE)["id_token"]
            args = [KUBE_CALLER, self.id_token]
            return base + "/kubernetes/tokenreview", "tokenreview.lua", args, []
        if endpoint == "code":
            assert self.codes is not None
            code_file = self.codes.fill(duration, c)
            args = [BASIC, str(code_file), threads, quote(REDIRECT_URI, safe="")]
            return base + "/token", "code.lua", args, []
        raise ValueError(f"unknown endpoint {endpoint}")
