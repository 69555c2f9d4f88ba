"""Backends for the session store suite: memory, SQLite (a temp file), PostgreSQL, MariaDB
and Redis, the real servers of tests/services.py. Each test gets its own SQL table (dropped
afterwards) or its own Redis key prefix (its keys deleted afterwards)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis
import sqlalchemy as sa

from dex_py.proxy.store import open_store
from dex_py.proxy.store_base import SessionStore, StoreSettings
from tests.services import MYSQL_URL, POSTGRES_URL, require_service

REDIS_URL = os.environ.get("DEXPY_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")

SHARED = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
    pytest.param("mysql", id="mysql", marks=pytest.mark.mysql),
    pytest.param("redis", id="redis"),
]
ALL = [pytest.param("memory", id="memory"), *SHARED]
SQL = SHARED[:3]


@dataclass(frozen=True)
class Backend:
    name: str
    settings: StoreSettings

    def open(self) -> SessionStore:
        return open_store(self.settings)

    @property
    def is_sql(self) -> bool:
        return self.settings.kind == "sql"


def _server_url(kind: str) -> str:
    url = {"postgres": POSTGRES_URL, "mysql": MYSQL_URL, "redis": REDIS_URL}[kind]
    parsed = sa.make_url(url)  # parses redis:// as well
    require_service(kind, parsed.host or "127.0.0.1", parsed.port or 0)
    return url


@contextmanager
def backend_for(kind: str, tmp_path: Path) -> Iterator[Backend]:
    """A fresh, isolated namespace on ``kind``; removed on exit."""
    tag = uuid.uuid4().hex[:12]
    table = f"proxy_sessions_{tag}"
    if kind == "memory":
        yield Backend(kind, StoreSettings("memory"))
    elif kind == "sqlite":
        yield Backend(kind, StoreSettings("sql", f"sqlite:///{tmp_path}/sessions.db", table=table))
    elif kind in ("postgres", "mysql"):
        url = _server_url(kind)
        try:
            yield Backend(kind, StoreSettings("sql", url, table=table))
        finally:
            engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
            with engine.begin() as conn:
                conn.execute(sa.text(f"DROP TABLE IF EXISTS {table}"))
            engine.dispose()
    elif kind == "redis":
        url = _server_url(kind)
        prefix = f"dexpy-test-{tag}:"
        try:
            yield Backend(kind, StoreSettings("redis", url, key_prefix=prefix))
        finally:
            with redis.Redis.from_url(url) as client:
                for key in client.scan_iter(match=f"{prefix}*"):
                    client.delete(key)
    else:
        raise ValueError(kind)


@pytest.fixture(params=ALL)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    with backend_for(str(request.param), tmp_path) as made:
        yield made


@pytest.fixture(params=SHARED)
def shared_backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    """Backends that several processes share (not memory)."""
    with backend_for(str(request.param), tmp_path) as made:
        yield made


@pytest.fixture(params=SQL)
def sql_backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    with backend_for(str(request.param), tmp_path) as made:
        yield made


@pytest.fixture
def redis_backend(tmp_path: Path) -> Iterator[Backend]:
    with backend_for("redis", tmp_path) as made:
        yield made
