"""The server under test for the benchmarks: its storage backends (a SQLite file, or a fresh
PostgreSQL database), its config file (``write_config``) and ``dex-py serve`` itself in its own
process group (``Server``), with the constants the load scripts share (the static client, the
password-DB user, wrk's path).
"""

from __future__ import annotations

import base64
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import requests
import yaml

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
WRK = "/usr/bin/wrk"
CLIENT_ID, CLIENT_SECRET = "example-app", "ZXhhbXBsZS1hcHAtc2VjcmV0"
REDIRECT_URI = "http://127.0.0.1:5555/callback"
EMAIL, PASSWORD = "admin@example.com", "password"
PASSWORD_HASH = "$2a$10$2b2cU8CPhOTaGrs1HRQuAueS7JTT5ZHsHSzYiFPm1leZck7Mc8T4W"  # bcrypt cost 10
# The TokenReview webhook's caller token (kube-apiserver's webhook kubeconfig holds it).
KUBE_CALLER = "bench-tokenreview-caller-0123456789"
BASIC = "Basic " + base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
PG_DSN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
PG_DB = "dexpy_bench"
GRANT_TYPES = ["authorization_code", "refresh_token", "password", "client_credentials"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- storage backends ----------------------------------------------------------------------------


@contextlib.contextmanager
def sqlite_storage(tmp: Path) -> Iterator[dict[str, Any]]:
    yield {"type": "sqlite3", "config": {"file": str(tmp / "dex.sqlite3")}}


@contextlib.contextmanager
def postgres_storage(tmp: Path) -> Iterator[dict[str, Any]]:
    import psycopg

    try:
        conn = psycopg.connect(PG_DSN, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        sys.exit(f"PostgreSQL is needed for the postgres backend ({PG_DSN}): {exc}")
    with conn:
        conn.execute(f"DROP DATABASE IF EXISTS {PG_DB} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {PG_DB}")
    try:
        yield {
            "type": "postgres",
            "config": {
                "host": "127.0.0.1",
                "port": 5432,
                "database": PG_DB,
                "user": "postgres",
                "ssl": {"mode": "disable"},
            },
        }
    finally:
        with psycopg.connect(PG_DSN, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {PG_DB} WITH (FORCE)")


BACKENDS = {"sqlite": sqlite_storage, "postgres": postgres_storage}


# --- the server ----------------------------------------------------------------------------------


def write_config(
    tmp: Path, port: int, storage: dict[str, Any], signing: str, engine: str = "granian"
) -> Path:
    """``config.yaml`` in ``tmp``: the static client ``example-app`` may use the code, refresh,
    password and client_credentials grants; approval is skipped for it (a confidential
    client), so ``GET /auth`` with an SSO session answers with a code at once; codes live an
    hour, so a pool made for one run can serve the next ones. The TokenReview webhook is on for
    ``example-app``'s tokens, called with ``KUBE_CALLER``."""
    config = {
        "server": {"engine": engine, "shutdownDelay": "0s"},
        "issuer": f"http://127.0.0.1:{port}/dex",
        "storage": storage,
        "web": {"http": f"127.0.0.1:{port}"},
        "logger": {"level": "info"},
        "oauth2": {
            "passwordConnector": "local",
            "skipApprovalScreen": True,
            "grantTypes": GRANT_TYPES,
        },
        "expiry": {"authCodes": "1h"},
        "signing": {"algorithm": signing},
        "staticClients": [
            {
                "id": CLIENT_ID,
                "secret": CLIENT_SECRET,
                "name": "Example App",
                "redirectURIs": [REDIRECT_URI],
                "grantTypes": GRANT_TYPES,
            }
        ],
        "kubernetes": {"tokenReview": {"audiences": [CLIENT_ID], "callerTokens": [KUBE_CALLER]}},
        "enablePasswordDB": True,
        "staticPasswords": [
            {
                "email": EMAIL,
                "hash": PASSWORD_HASH,
                "username": "admin",
                "userID": "08a8684b-db88-4b73-90a9-3cd1661f5466",
            }
        ],
    }
    path = tmp / "config.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


class Server:
    """``dex-py serve CONFIG`` in its own process group; the process is the master."""

    name = "dex-py serve"

    def __init__(self, config: Path, port: int, workers: int, log_path: Path) -> None:
        self.base = f"http://127.0.0.1:{port}/dex"
        self.workers = workers
        self.log_path = log_path
        cmd = [str(REPO_ROOT / ".venv" / "bin" / "dex-py"), "serve", str(config)]
        self.spawn([*cmd, "--workers", str(workers)], REPO_ROOT)

    def spawn(self, cmd: list[str], cwd: Path, env: dict[str, str] | None = None) -> None:
        """Start ``cmd`` in a new session (its own process group), output to ``log_path``."""
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                cmd, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip

    def is_ready(self) -> bool:
        healthy = requests.get(self.base + "/healthz", timeout=2).status_code == 200
        return healthy and len(self.worker_pids()) >= self.workers  # all workers up

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                sys.exit(f"{self.name} exited:\n{self.log_path.read_text()[-3000:]}")
            with contextlib.suppress(requests.RequestException):
                if self.is_ready():
                    return
            time.sleep(0.2)
        self.stop()
        sys.exit(f"{self.name} not ready after {timeout:.0f}s:\n{self.log_path.read_text()}")

    def worker_pids(self) -> list[int]:
        pid = self.proc.pid
        children: list[int] = []
        with contextlib.suppress(OSError):
            for task in os.listdir(f"/proc/{pid}/task"):
                text = Path(f"/proc/{pid}/task/{task}/children").read_text()
                children += [int(p) for p in text.split()]
        return sorted(children)

    def stop(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(20)
