"""A throwaway MariaDB server of the test's own, from Debian's ``mariadb-server`` package
(``mariadb-install-db`` and ``/usr/sbin/mariadbd``).

``mariadb-install-db`` writes the system tables into the state directory; ``mariadbd`` then runs
in the foreground, reading no option files (``--no-defaults``: nothing from /etc/mysql), on
127.0.0.1 and a Unix socket in the state directory, with InnoDB's durability off (test data).
Over that socket ``root`` (no password, socket only) creates one empty database and one user who
may use it from 127.0.0.1 with a password, as an application connects. On exit the server is
stopped by its pid (SIGTERM: clean shutdown) and the state directory deleted. Never the
machine's shared server on 3306.
"""

from __future__ import annotations

import contextlib
import secrets
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pymysql

from tests.services import free_port, missing_service
from tests.services.server_process import run_as, run_setup, server_process, state_directory

SERVER = Path("/usr/sbin/mariadbd")
APP_USER = "dexpy"
OPTIONS = [
    "--bind-address=127.0.0.1",
    "--skip-name-resolve",
    "--innodb-buffer-pool-size=64M",
    "--innodb-flush-log-at-trx-commit=0",
    "--innodb-doublewrite=0",
    "--character-set-server=utf8mb4",
    "--collation-server=utf8mb4_unicode_ci",
]


@dataclass(frozen=True)
class MariaDBServer:
    port: int
    database: str
    user: str
    password: str
    pid: int
    state_dir: Path

    @property
    def url(self) -> str:
        """SQLAlchemy URL (PyMySQL) of the database, as its application user."""
        return (
            f"mysql+pymysql://{self.user}:{self.password}@127.0.0.1:{self.port}/{self.database}"
            "?charset=utf8mb4"
        )


def _root(socket: Path) -> pymysql.Connection:
    return pymysql.connect(unix_socket=str(socket), user="root", connect_timeout=2)


def _answers(socket: Path) -> bool:
    try:
        _root(socket).close()
        return True
    except pymysql.err.OperationalError:
        return False


@contextlib.contextmanager
def mariadb_server(database: str = "test") -> Iterator[MariaDBServer]:
    """Start a new MariaDB on a free loopback port with an empty ``database`` and its user."""
    install_db = shutil.which("mariadb-install-db")
    if install_db is None or not SERVER.is_file():
        missing_service("MariaDB", f"needs mariadb-install-db and {SERVER} (mariadb-server)")
    user = run_as("MariaDB", "mysql")
    port = free_port()
    password = secrets.token_urlsafe(16)
    with state_directory("dexpy-mariadb-", user) as state:
        data, socket = state / "data", state / "mariadbd.sock"
        run_setup(
            [install_db, "--no-defaults", f"--datadir={data}", "--skip-test-db",
             "--auth-root-authentication-method=normal"],
            user, state, state / "install-db.log",
        )  # fmt: skip
        argv = [
            str(SERVER), "--no-defaults", f"--datadir={data}", f"--socket={socket}",
            f"--pid-file={state / 'mariadbd.pid'}", f"--tmpdir={state}", f"--port={port}",
            *OPTIONS,
        ]  # fmt: skip
        with server_process(argv, user, state, lambda: _answers(socket)) as process:
            conn = _root(socket)
            try:
                with conn.cursor() as cursor:
                    cursor.execute(f"CREATE DATABASE `{database}`")
                    cursor.execute(
                        f"CREATE USER '{APP_USER}'@'127.0.0.1' IDENTIFIED BY %s", (password,)
                    )
                    cursor.execute(f"GRANT ALL ON `{database}`.* TO '{APP_USER}'@'127.0.0.1'")
            finally:
                conn.close()
            yield MariaDBServer(port, database, APP_USER, password, process.pid, state)
