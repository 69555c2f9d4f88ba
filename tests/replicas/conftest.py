"""Three ``dex-py serve`` replicas on one PostgreSQL database behind a real load balancer
(Debian's haproxy), as a Deployment with three pods runs them.

The issuer URL is haproxy's; each replica also listens on its own port so a test can send a
request to one replica in particular. The database is a fresh PostgreSQL schema per test.
haproxy checks ``/dex/healthz/ready`` every 300 ms and takes a replica out after two failures;
it retries a request whose connection failed on another replica (``option redispatch``).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
import requests
import sqlalchemy as sa

from tests.live import LiveServer, deep_merge, default_config
from tests.services import POSTGRES_URL, free_port, missing_service, require_service

HAPROXY_CONFIG = """\
global
    maxconn 2000
defaults
    mode http
    timeout connect 2s
    timeout client 30s
    timeout server 30s
    retries 3
    option redispatch
    retry-on conn-failure empty-response
frontend issuer
    bind 127.0.0.1:{port}
    default_backend replicas
backend replicas
    balance roundrobin
    option httpchk GET /dex/healthz/ready
    default-server inter 300ms fall 2 rise 1
{servers}
"""


@dataclass
class Replica:
    name: str
    port: int
    server: LiveServer

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@dataclass
class Cluster:
    """The replicas, haproxy in front, and the issuer URL they share."""

    issuer: str
    replicas: list[Replica]
    haproxy: subprocess.Popen[bytes]
    config_path: Path
    stopped: list[Replica] = field(default_factory=list)

    def on(self, replica: Replica, url: str) -> str:
        """``url`` (under the issuer) sent to one replica directly."""
        parts = urlsplit(url)
        return urlunsplit(parts._replace(netloc=f"127.0.0.1:{replica.port}"))

    def kill(self, replica: Replica) -> None:
        """SIGKILL the replica's whole process group: a crashed pod, nothing drained."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(replica.server.process.pid, signal.SIGKILL)
        replica.server.process.wait(10)
        self.stopped.append(replica)


class RotatingSession(requests.Session):
    """A browser whose every request to the issuer goes to the next replica in turn; cookies
    are per host, not per port (RFC 6265 §8.5), so the login's cookies follow it."""

    def __init__(self, cluster: Cluster) -> None:
        super().__init__()
        self.cluster = cluster
        self.served_by: list[str] = []
        self._turn = 0

    def request(self, method: str | bytes, url: str | bytes, *args, **kwargs):  # type: ignore[no-untyped-def,override]
        url = url.decode() if isinstance(url, bytes) else url
        if url.startswith(self.cluster.issuer):
            replica = self.cluster.replicas[self._turn % len(self.cluster.replicas)]
            self._turn += 1
            self.served_by.append(replica.name)
            url = self.cluster.on(replica, url)
        return super().request(method, url, *args, **kwargs)


def _schema() -> tuple[dict[str, object], Callable[[], None]]:
    require_service("PostgreSQL", "127.0.0.1", sa.make_url(POSTGRES_URL).port or 5432)
    name = f"dexpy_replicas_{uuid.uuid4().hex[:12]}"
    engine = sa.create_engine(POSTGRES_URL, poolclass=sa.pool.NullPool)
    with engine.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{name}"'))

    def drop() -> None:
        with engine.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{name}" CASCADE'))
        engine.dispose()

    storage = {
        "type": "postgres",
        "config": {"url": POSTGRES_URL, "params": {"options": f"-csearch_path={name}"}},
    }
    return storage, drop


def _wait_ready(replica: Replica, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if replica.server.process.poll() is not None:
            pytest.fail(f"replica {replica.name} exited:\n{replica.server.log_tail()}")
        with contextlib.suppress(requests.RequestException):
            if requests.get(f"{replica.base}/dex/healthz/ready", timeout=2).status_code == 200:
                return
        time.sleep(0.1)
    pytest.fail(f"replica {replica.name} not ready:\n{replica.server.log_tail()}")


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    haproxy = shutil.which("haproxy")
    if haproxy is None:
        missing_service("haproxy", "Debian's haproxy is not installed")
    storage, drop_schema = _schema()
    lb_port = free_port()
    issuer = f"http://127.0.0.1:{lb_port}/dex"
    ports = [free_port() for _ in range(3)]
    servers = "\n".join(
        f"    server r{n} 127.0.0.1:{port} check" for n, port in enumerate(ports, 1)
    )
    config_path = tmp_path / "haproxy.cfg"
    config_path.write_text(HAPROXY_CONFIG.format(port=lb_port, servers=servers))
    check = subprocess.run([haproxy, "-c", "-f", str(config_path)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    lb = subprocess.Popen(
        [haproxy, "-db", "-f", str(config_path)],
        stdout=subprocess.DEVNULL,
        stderr=(tmp_path / "haproxy.log").open("wb"),
    )
    replicas: list[Replica] = []
    try:
        # All three start at once, as a Deployment's pods do: one migrates the schema and
        # creates the signing key, the others wait for the lock or find both done.
        for n, port in enumerate(ports, 1):
            data_dir = Path(tempfile.mkdtemp(prefix=f"dexpy-r{n}-", dir=tmp_path))
            config = deep_merge(
                default_config(port, data_dir, storage=storage),
                {"issuer": issuer, "web": {"http": f"127.0.0.1:{port}"}},
            )
            replicas.append(Replica(f"r{n}", port, LiveServer(port, data_dir, config, 1)))
        for replica in replicas:
            _wait_ready(replica)
        cluster = Cluster(issuer, replicas, lb, replicas[0].server.config_path)
        _wait_through_lb(cluster)
        yield cluster
    finally:
        for replica in replicas:
            replica.server.stop()
        lb.terminate()
        lb.wait(10)
        drop_schema()


def _wait_through_lb(cluster: Cluster, timeout: float = 15.0) -> None:
    """Until haproxy's health checks have seen every replica up (each answers once in turn)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(requests.RequestException):
            answers = [
                requests.get(cluster.issuer + "/healthz/ready", timeout=2).status_code
                for _ in range(6)
            ]
            if answers == [200] * 6:
                return
        time.sleep(0.2)
    pytest.fail("haproxy did not pass requests to the replicas")


class Load:
    """Full logins (authorize, password form, approval, code exchange) in ``threads`` loops
    through the load balancer, each recorded as (started, finished, ok, error)."""

    def __init__(self, run_one: Callable[[], None], threads: int) -> None:
        self.run_one = run_one
        self.threads = threads
        self.results: list[tuple[float, float, bool, str]] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._workers = [threading.Thread(target=self._loop, daemon=True) for _ in range(threads)]

    def _loop(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                self.run_one()
                outcome = (started, time.monotonic(), True, "")
            except Exception as exc:
                outcome = (started, time.monotonic(), False, f"{type(exc).__name__}: {exc}"[:300])
            with self._lock:
                self.results.append(outcome)

    def __enter__(self) -> Load:
        for worker in self._workers:
            worker.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for worker in self._workers:
            worker.join(60)
