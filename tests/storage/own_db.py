"""A PostgreSQL or MariaDB server of the test's own, which the test may pause (SIGSTOP).

Started with ``../shared/tools/pg-up.sh`` / ``mariadb-up.sh`` on a free port and stopped with the
matching ``*-down.sh``; never the shared servers on 5432/3306. ``paused()`` stops every process of
that one instance (PostgreSQL's postmaster and its backends, MariaDB's one process), so the
server keeps its sockets open but answers nothing, like a hung host; it resumes them on exit.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.live import REPO_ROOT
from tests.services import free_port, missing_service

TOOLS = REPO_ROOT.parent / "shared" / "tools"
SCRIPTS = {"postgres": ("pg-up.sh", "pg-down.sh"), "mysql": ("mariadb-up.sh", "mariadb-down.sh")}


@dataclass
class OwnServer:
    kind: str  # postgres | mysql
    port: int
    url: str
    pid: int

    def storage_config(self, **extra: Any) -> dict[str, Any]:
        """``storage.config`` for this server (TLS off: it listens on loopback only)."""
        conf: dict[str, Any] = {"url": self.url}
        if self.kind == "postgres":
            conf["ssl"] = {"mode": "disable"}
        return conf | extra

    def _pids(self) -> list[int]:
        """The server's main process and its children (PostgreSQL backends)."""
        children = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            with contextlib.suppress(OSError, ValueError, IndexError):
                fields = stat.read_text().rsplit(")", 1)[1].split()
                if int(fields[1]) == self.pid:
                    children.append(int(stat.parent.name))
        return [self.pid, *children]

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        pids = self._pids()
        for pid in pids:
            os.kill(pid, signal.SIGSTOP)
        try:
            yield
        finally:
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGCONT)


@contextlib.contextmanager
def own_server(kind: str) -> Iterator[OwnServer]:
    up, down = SCRIPTS[kind]
    if not (TOOLS / up).exists():
        missing_service(kind, f"{TOOLS / up} not found")
    port = free_port()
    run = subprocess.run(
        ["bash", str(TOOLS / up), str(port)], capture_output=True, text=True, check=False
    )
    if run.returncode != 0:
        missing_service(kind, f"{up} failed: {run.stderr.strip()[-500:]}")
    env = dict(line.split("=", 1) for line in run.stdout.splitlines() if "=" in line)
    pid = int(env["PG_PID"] if kind == "postgres" else env["MARIADB_PID"])
    try:
        yield OwnServer(kind, port, env["DATABASE_URL"], pid)
    finally:
        subprocess.run(["bash", str(TOOLS / down), str(port)], capture_output=True, check=False)
