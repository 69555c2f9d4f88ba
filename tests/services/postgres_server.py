"""A throwaway PostgreSQL server of the test's own, from Debian's server binaries
(``/usr/lib/postgresql/<version>/bin``, package ``postgresql``).

``initdb`` makes a cluster whose only role, ``postgres``, logs in without a password (``trust``:
the server listens on 127.0.0.1 only, its Unix socket sits in the state directory); the
postmaster then runs in the foreground with durability off (test data), one empty database is
created, and on exit the postmaster is stopped by its pid (SIGINT: fast shutdown) and the state
directory deleted. Never the machine's shared server on 5432.
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

from tests.services import free_port, missing_service
from tests.services.server_process import run_as, run_setup, server_process, state_directory

SERVER_ROOT = Path("/usr/lib/postgresql")
ROLE = "postgres"
SETTINGS = {
    "listen_addresses": "127.0.0.1",
    "max_connections": "200",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
}


@dataclass(frozen=True)
class PostgresServer:
    port: int
    database: str
    pid: int  # the postmaster; its backends are its children
    state_dir: Path

    @property
    def url(self) -> str:
        """SQLAlchemy URL (psycopg 3) of the database."""
        return f"postgresql+psycopg://{ROLE}@127.0.0.1:{self.port}/{self.database}"


def server_binaries() -> Path | None:
    """The newest installed ``/usr/lib/postgresql/<version>/bin`` with initdb and postgres."""
    found = [
        d / "bin"
        for d in SERVER_ROOT.glob("*")
        if d.name.isdigit()
        and (d / "bin" / "initdb").is_file()
        and (d / "bin" / "postgres").is_file()
    ]
    return max(found, key=lambda b: int(b.parent.name), default=None)


def _answers(port: int, database: str) -> bool:
    try:
        with psycopg.connect(
            host="127.0.0.1", port=port, user=ROLE, dbname=database, connect_timeout=2
        ):
            return True
    except psycopg.OperationalError:
        return False


@contextlib.contextmanager
def postgres_server(database: str = "test") -> Iterator[PostgresServer]:
    """Start a new PostgreSQL on a free loopback port with an empty ``database`` in it."""
    binaries = server_binaries()
    if binaries is None:
        missing_service("PostgreSQL", f"no server binaries under {SERVER_ROOT}/*/bin")
    user = run_as("PostgreSQL", "postgres")
    port = free_port()
    with state_directory("dexpy-postgres-", user) as state:
        data = state / "data"
        run_setup(
            [
                str(binaries / "initdb"),
                "-D",
                str(data),
                "-U",
                ROLE,
                "--auth=trust",
                "--encoding=UTF8",
                "--no-locale",
                "--no-sync",
            ],
            user,
            state,
            state / "initdb.log",
        )
        settings = [f"--{name}={value}" for name, value in SETTINGS.items()]
        argv = [str(binaries / "postgres"), "-D", str(data), "-p", str(port), "-k", str(state)]
        with server_process(
            argv + settings, user, state, lambda: _answers(port, "postgres"), signal.SIGINT
        ) as process:
            with psycopg.connect(
                host="127.0.0.1", port=port, user=ROLE, dbname="postgres", autocommit=True
            ) as conn:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
            yield PostgresServer(port, database, process.pid, state)
