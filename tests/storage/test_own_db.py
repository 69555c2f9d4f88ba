"""The tests' own database servers (``tests.storage.own_db``): a fresh, empty database on a port
of their own, reachable with the URL given, served by an unprivileged user when the tests run as
root, and gone without a trace (no process, no state directory) once the test is done."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.services.mariadb_server import mariadb_server
from tests.services.postgres_server import postgres_server
from tests.storage.own_db import own_server

pytestmark = pytest.mark.xdist_group("own_db")

WHO_AND_WHERE = {
    "postgres": "SELECT current_user, current_database(), current_setting('fsync')",
    "mysql": "SELECT current_user(), database(), @@innodb_flush_log_at_trx_commit",
}


def _owner(pid: int) -> int:
    return Path(f"/proc/{pid}").stat().st_uid


@pytest.mark.parametrize(
    "kind",
    [
        pytest.param("postgres", marks=pytest.mark.postgres),
        pytest.param("mysql", marks=pytest.mark.mysql),
    ],
)
def test_own_server_serves_an_empty_database_then_leaves_nothing(kind: str) -> None:
    with own_server(kind) as server:
        assert server.port not in (5432, 3306)
        engine = sa.create_engine(server.url, poolclass=sa.pool.NullPool)
        with engine.connect() as conn:
            user, database, durability = conn.execute(sa.text(WHO_AND_WHERE[kind])).one()
            tables = sa.inspect(conn).get_table_names()
        engine.dispose()
        assert (database, tables, str(durability)) == (
            "test",
            [],
            "off" if kind == "postgres" else "0",
        )
        assert user.startswith("postgres" if kind == "postgres" else "dexpy@")
        if os.geteuid() == 0:
            assert _owner(server.pid) != 0, "a database server runs as root"
        pid = server.pid
    assert not Path(f"/proc/{pid}").exists(), "the server outlived the test"


@pytest.mark.postgres
@pytest.mark.mysql
def test_servers_state_directories_are_deleted() -> None:
    with postgres_server() as pg, mariadb_server() as maria:
        dirs = [pg.state_dir, maria.state_dir]
        assert all(d.is_dir() for d in dirs)
        assert (pg.state_dir / f".s.PGSQL.{pg.port}").exists()  # its socket: not in /var/run
    assert not any(d.exists() for d in dirs)
