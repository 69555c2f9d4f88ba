"""SIGTERM under load (issue 7 #14): readiness answers 503 first, then the server stops
accepting, answers every connection it already had (accepted or queued) and exits 0.

A real ``dex-py serve`` gets a bounded light load (a fixed number of client threads, each one
request at a time on a fresh connection: discovery, and password grants that take a bcrypt
check) and then SIGTERM to its whole process group, as systemd and the test harness send it.
Every request whose connection was established before the signal must get a complete answer.
"""

from __future__ import annotations

import http.client
import os
import signal
import threading
import time
from base64 import b64encode
from dataclasses import dataclass
from urllib.parse import urlencode

import pytest
import requests

from tests.live import ADMIN_EMAIL, ADMIN_PASSWORD, EXAMPLE_CLIENT_ID, EXAMPLE_CLIENT_SECRET
from tests.services import free_port

pytestmark = [pytest.mark.live, pytest.mark.slow]

THREADS = 12
PASSWORD_FORM = urlencode(
    {"grant_type": "password", "username": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
    | {"scope": "openid"}
)
BASIC = "Basic " + b64encode(f"{EXAMPLE_CLIENT_ID}:{EXAMPLE_CLIENT_SECRET}".encode()).decode()


@dataclass
class Attempt:
    before_signal: bool  # the TCP connection was established before SIGTERM was sent
    outcome: str  # "200" etc., or the exception's name


def one_request(port: int, index: int, signalled: threading.Event) -> Attempt | None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.connect()
    except OSError:
        return None  # refused: the server no longer accepts, as it should after the signal
    before = not signalled.is_set()
    try:
        if index % 2:
            conn.request("GET", "/dex/.well-known/openid-configuration")
        else:
            headers = {"Authorization": BASIC, "Content-Type": "application/x-www-form-urlencoded"}
            conn.request("POST", "/dex/token", body=PASSWORD_FORM, headers=headers)
        resp = conn.getresponse()
        resp.read()  # IncompleteRead if the answer is cut short
        return Attempt(before, str(resp.status))
    except (OSError, http.client.HTTPException) as exc:
        return Attempt(before, type(exc).__name__)
    finally:
        conn.close()


def run_load(port: int, signalled: threading.Event, stop: threading.Event) -> list[Attempt]:
    attempts: list[Attempt] = []
    lock = threading.Lock()

    def client(index: int) -> None:
        while not stop.is_set():
            attempt = one_request(port, index, signalled)
            if attempt is None:
                return
            with lock:
                attempts.append(attempt)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    stop.wait()
    for thread in threads:
        thread.join(timeout=60)
    return attempts


def test_sigterm_answers_every_connected_request_then_exits_0(make_live_server) -> None:
    server = make_live_server({"oauth2": {"passwordConnector": "local"}})
    signalled, stop = threading.Event(), threading.Event()
    results: list[list[Attempt]] = []
    loader = threading.Thread(target=lambda: results.append(run_load(server.port, signalled, stop)))
    loader.start()
    time.sleep(1.5)  # the load is running: requests in flight and queued
    signalled.set()
    os.killpg(server.process.pid, signal.SIGTERM)
    code = server.process.wait(timeout=60)
    stop.set()
    loader.join(timeout=90)

    attempts = results[0]
    before = [a.outcome for a in attempts if a.before_signal]
    after = [a.outcome for a in attempts if not a.before_signal]
    assert len(before) > THREADS  # the load really ran
    assert set(before) == {"200"}, f"before SIGTERM: {before}; after: {after}"
    assert code == 0, server.log_tail()
    log = server.log_text()
    assert "Traceback" not in log
    assert "dex-py stopped" in log


def test_sigterm_readiness_goes_503_before_the_listeners_close(make_live_server) -> None:
    """On the issuer's port and on the telemetry listener alike."""
    telemetry = f"127.0.0.1:{free_port()}"
    server = make_live_server({"server": {"shutdownDelay": "3s"}, "telemetry": {"http": telemetry}})
    probe = f"http://{telemetry}/healthz/ready"
    assert requests.get(server.url("/healthz/ready"), timeout=10).status_code == 200
    assert requests.get(probe, timeout=10).status_code == 200
    os.killpg(server.process.pid, signal.SIGTERM)
    ready = [requests.get(server.url("/healthz/ready"), timeout=10) for _ in range(3)]
    while ready[-1].status_code == 200:  # the master handles the signal asynchronously
        ready.append(requests.get(server.url("/healthz/ready"), timeout=10))
    assert ready[-1].status_code == 503
    assert ready[-1].json()["ready"] is False
    telemetry_ready = requests.get(probe, timeout=10)
    assert telemetry_ready.status_code == 503
    assert telemetry_ready.json() == {"ready": False, "draining": True}
    # Draining: everything else is still served while load balancers catch up.
    discovery = requests.get(server.url("/.well-known/openid-configuration"), timeout=10)
    assert discovery.status_code == 200
    assert server.process.wait(timeout=60) == 0
    with pytest.raises(requests.ConnectionError):
        requests.get(server.url("/healthz"), timeout=10)
    log = server.log_text()
    assert "/healthz/ready now answers 503" in log
    assert log.index("now answers 503") < log.index("stopping: no new connections")
