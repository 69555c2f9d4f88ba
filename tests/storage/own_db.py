"""A PostgreSQL or MariaDB server of the test's own, which the test may pause (SIGSTOP).

Started by ``tests.services.postgres_server`` / ``mariadb_server`` on a free port, with its state
in a directory of its own, and stopped by its pid; never the shared servers on 5432/3306.
``paused()`` stops every process of that one instance (PostgreSQL's postmaster and its backends,
MariaDB's one process), so the server keeps its sockets open but answers nothing, like a hung
host; it resumes them on exit.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.services.mariadb_server import mariadb_server
from tests.services.postgres_server import postgres_server


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
    """A fresh server of ``kind`` (postgres | mysql) with an empty database, stopped on exit."""
    servers = {"postgres": postgres_server, "mysql": mariadb_server}
    with servers[kind]() as server:
        yield OwnServer(kind, server.port, server.url, server.pid)
