"""How many passwords a guesser gets to try per account per day against a real ``dex-py serve``
on the default ``bruteForce`` settings (issue 13: "at most a few hundred").

A day cannot be waited for, so the server runs under libfaketime (Debian's ``faketime``) with
its clock sped up ``--speed`` times (default 480: a day in three minutes); the limits' windows
and the per-account slot are measured on that clock. The guesser is this process, on the real
clock, sending the password grant with wrong passwords as fast as the server answers, one
request at a time; every answer tells whether the password was checked (``invalid username or
password``-type refusals) or refused unchecked by a limit (``too many failed attempts``).
``web.clientRemoteIP`` trusts ``X-Forwarded-For`` from 127.0.0.1, so the guesser can speak from
as many addresses as it likes:

- ``one address``: a single attacker address;
- ``botnet``: every request from a new address (10,000 rotating), which defeats the
  per-address limits and leaves only the per-account one. Meanwhile the account's owner logs in
  with the right password from a fresh address every simulated half hour; the table shows how
  often that worked at once and the longest simulated wait until it did (retrying each 15
  simulated seconds), since the per-account limit slows but never locks the owner out.

    .venv/bin/python bench/brute_force.py [--speed 480] [--days 1]

Needs ``apt-get install faketime``. One worker: libfaketime's clock starts at each process's
own start, so the single worker keeps every window on one clock.
"""

from __future__ import annotations

import argparse
import ipaddress
import itertools
import os
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests
import yaml
from dexserver import BASIC, EMAIL, PASSWORD, REPO_ROOT, Server, free_port, write_config

LIBFAKETIME = "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1"
LOCKED = "too many failed attempts"
OWNER_EVERY = 1800.0  # simulated seconds between the owner's logins
OWNER_RETRY = 15.0  # simulated seconds between the owner's retries while refused


@dataclass
class Outcome:
    checked: int = 0  # wrong passwords the server actually compared
    refused: int = 0  # attempts a limit refused without checking
    owner_ok_at_once: int = 0
    owner_logins: int = 0
    owner_waits: list[float] = field(default_factory=list)  # simulated seconds
    simulated_seconds: float = 0.0


class FakeClockServer(Server):
    """``dex-py serve`` under libfaketime, sped up ``speed`` times."""

    def __init__(self, config: Path, port: int, log_path: Path, speed: int) -> None:
        self.base = f"http://127.0.0.1:{port}/dex"
        self.workers = 1
        self.log_path = log_path
        env = {**os.environ, "LD_PRELOAD": LIBFAKETIME, "FAKETIME": f"+0 x{speed}"}
        cmd = [str(REPO_ROOT / ".venv" / "bin" / "dex-py"), "serve", str(config), "--workers", "1"]
        self.spawn(cmd, REPO_ROOT, env)


def password_grant(base: str, password: str, address: str) -> requests.Response:
    """One password grant request. The server's own timeouts run on the fast clock too (30
    simulated seconds to send the request head are 60 ms at x480), so a connection it closed
    unanswered is sent again: no password was checked on it."""
    for _attempt in range(20):
        try:
            return requests.post(
                base + "/token",
                data={
                    "grant_type": "password",
                    "username": EMAIL,
                    "password": password,
                    "scope": "openid",
                },
                headers={"Authorization": BASIC, "X-Forwarded-For": address},
                timeout=30,
            )
        except requests.ConnectionError:
            continue
    sys.exit("the server closed 20 connections in a row unanswered")


def guess(base: str, address: str, outcome: Outcome) -> None:
    resp = password_grant(base, "wrong-" + address, address)
    if resp.status_code == 200:
        sys.exit("a wrong password was accepted")
    if LOCKED in resp.text:
        outcome.refused += 1
    else:
        outcome.checked += 1


def owner_login(base: str, address: str, speed: int, outcome: Outcome) -> None:
    """The owner tries from ``address`` until the right password is checked; records the wait."""
    started = time.monotonic()
    outcome.owner_logins += 1
    first = True
    while True:
        resp = password_grant(base, PASSWORD, address)
        if resp.status_code == 200:
            if first:
                outcome.owner_ok_at_once += 1
            outcome.owner_waits.append((time.monotonic() - started) * speed)
            return
        if LOCKED not in resp.text:
            sys.exit(f"the owner's right password failed: {resp.status_code} {resp.text}")
        first = False
        time.sleep(OWNER_RETRY / speed)


def attack(base: str, speed: int, days: float, botnet: bool) -> Outcome:
    outcome = Outcome()
    network = ipaddress.ip_network("198.18.0.0/15")  # RFC 2544 benchmarking addresses
    addresses = (str(network[n]) for n in itertools.cycle(range(1, 10_001)))
    owner_addresses = (str(network[n]) for n in itertools.count(20_001))
    started = time.monotonic()
    next_owner = OWNER_EVERY / speed
    while (elapsed := time.monotonic() - started) < days * 86400 / speed:
        guess(base, next(addresses) if botnet else "203.0.113.7", outcome)
        if botnet and elapsed >= next_owner:
            owner_login(base, next(owner_addresses), speed, outcome)
            next_owner += OWNER_EVERY / speed
    outcome.simulated_seconds = (time.monotonic() - started) * speed
    return outcome


def run(scenario: str, speed: int, days: float) -> Outcome:
    with tempfile.TemporaryDirectory(prefix="dexpy-bruteforce-") as tmp_dir:
        tmp = Path(tmp_dir)
        port = free_port()
        storage = {"type": "sqlite3", "config": {"file": str(tmp / "dex.db")}}
        config_path = write_config(tmp, port, storage, "RS256")
        config = yaml.safe_load(config_path.read_text())
        config["web"]["clientRemoteIP"] = {
            "header": "X-Forwarded-For",
            "trustedProxies": ["127.0.0.1/32"],
        }
        config.pop("kubernetes", None)
        config_path.write_text(yaml.safe_dump(config, sort_keys=False))
        server = FakeClockServer(config_path, port, tmp / "server.log", speed)
        try:
            server.wait_ready(120)
            return attack(server.base, speed, days, botnet=scenario == "botnet")
        finally:
            server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--speed", type=int, default=480, help="simulated seconds per second")
    parser.add_argument("--days", type=float, default=1.0, help="simulated days per scenario")
    args = parser.parse_args()
    if not Path(LIBFAKETIME).exists():
        sys.exit(f"{LIBFAKETIME} missing: apt-get install faketime")
    print(f"bruteForce defaults, clock x{args.speed}, {args.days:g} simulated day(s) each\n")
    print(
        "| scenario | simulated hours | passwords checked | refused unchecked "
        "| checked per day | owner logins at once | owner's longest wait |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for scenario in ("one address", "botnet"):
        out = run(scenario, args.speed, args.days)
        per_day = out.checked * 86400 / out.simulated_seconds
        owner = f"{out.owner_ok_at_once}/{out.owner_logins}" if out.owner_logins else "-"
        wait = f"{max(out.owner_waits) / 60:.1f} min" if out.owner_waits else "-"
        print(
            f"| {scenario} | {out.simulated_seconds / 3600:.1f} | {out.checked} | {out.refused} "
            f"| {per_day:.0f} | {owner} | {wait} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
