"""Backends for the storage conformance suite.

``storage`` is parametrized over memory, SQLite (temp file), PostgreSQL, MySQL and etcd. Each
test session (each xdist worker) gets its own PostgreSQL schema and MySQL database, migrated once
and dropped at the end, and its own etcd (``tests.etcd_server``, started on first use, a key
namespace per storage); every test starts from empty tables or an empty namespace.
``fresh_config`` makes a brand-new, unmigrated namespace for migration tests.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from dex_py.config import StorageConfig
from dex_py.storage import open_storage
from dex_py.storage.base import Storage
from dex_py.storage.etcd import EtcdStorage
from dex_py.storage.memory import MemoryStorage
from dex_py.storage.models import ALL_TABLES
from dex_py.storage.sql import SQLStorage
from tests.etcd_server import etcd_server
from tests.services import MYSQL_URL, POSTGRES_URL, require_service
from tests.storage.own_db import OwnServer, own_server

SQL_BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
    pytest.param("mysql", id="mysql", marks=pytest.mark.mysql),
]
ETCD_BACKEND = pytest.param("etcd", id="etcd", marks=pytest.mark.etcd)
ALL_BACKENDS = [pytest.param("memory", id="memory"), *SQL_BACKENDS, ETCD_BACKEND]


def _require(kind: str) -> None:
    if kind == "postgres":
        require_service("PostgreSQL", "127.0.0.1", sa.make_url(POSTGRES_URL).port or 5432)
    elif kind == "mysql":
        require_service("MySQL", "127.0.0.1", sa.make_url(MYSQL_URL).port or 3306)


class Namespaces:
    """Creates isolated databases (SQLite file, PG schema, MySQL database) and drops them."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self._drops: list[Callable[[], None]] = []
        self._stack = contextlib.ExitStack()
        self._etcd_url = ""

    def etcd_url(self) -> str:
        """This session's etcd, started on first use."""
        if not self._etcd_url:
            self._etcd_url = self._stack.enter_context(etcd_server(self.tmp / "etcd"))
        return self._etcd_url

    def create(self, kind: str) -> StorageConfig:
        _require(kind)
        name = f"dexpy_{uuid.uuid4().hex[:16]}"
        if kind == "etcd":
            return StorageConfig("etcd", {"endpoints": [self.etcd_url()], "namespace": f"{name}/"})
        if kind == "sqlite":
            return StorageConfig("sqlite3", {"file": str(self.tmp / f"{name}.db")})
        if kind == "postgres":
            self._admin(POSTGRES_URL, f'CREATE SCHEMA "{name}"', f'DROP SCHEMA "{name}" CASCADE')
            return StorageConfig(
                "postgres", {"url": POSTGRES_URL, "params": {"options": f"-csearch_path={name}"}}
            )
        if kind == "mysql":
            self._admin(MYSQL_URL, f"CREATE DATABASE `{name}`", f"DROP DATABASE `{name}`")
            url = sa.make_url(MYSQL_URL).set(database=name)
            return StorageConfig("mysql", {"url": url.render_as_string(hide_password=False)})
        raise ValueError(kind)

    def _admin(self, url: str, create: str, drop: str) -> None:
        engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
        with engine.begin() as conn:
            conn.execute(sa.text(create))

        def dropper() -> None:
            with engine.begin() as conn:
                conn.execute(sa.text(drop))
            engine.dispose()

        self._drops.append(dropper)

    def drop_all(self) -> None:
        for drop in reversed(self._drops):
            drop()
        self._stack.close()


@pytest.fixture(scope="session")
def namespaces(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Namespaces]:
    ns = Namespaces(tmp_path_factory.mktemp("storage"))
    yield ns
    ns.drop_all()


@pytest.fixture(scope="session")
def session_configs(namespaces: Namespaces) -> dict[str, StorageConfig]:
    """One migrated namespace per SQL backend, created on first use."""
    return {}


def _session_config(
    kind: str, namespaces: Namespaces, cache: dict[str, StorageConfig]
) -> StorageConfig:
    _require(kind)
    if kind not in cache:
        cfg = namespaces.create(kind)
        open_storage(cfg, migrate=True).close()
        cache[kind] = cfg
    return cache[kind]


@pytest.fixture
def fresh_config(namespaces: Namespaces) -> Callable[[str], StorageConfig]:
    """``fresh_config(kind)``: a new, empty (unmigrated) namespace."""
    return namespaces.create


@pytest.fixture(params=ALL_BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(params=SQL_BACKENDS)
def sql_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def open_clean_etcd(cfg: StorageConfig) -> EtcdStorage:
    """The etcd storage of ``cfg`` with its namespace emptied."""
    storage = open_storage(cfg, migrate=False)
    assert isinstance(storage, EtcdStorage)
    storage.client.delete_prefix(storage.t.namespace)
    return storage


def _open_clean(cfg: StorageConfig) -> SQLStorage:
    storage = open_storage(cfg, migrate=False)
    assert isinstance(storage, SQLStorage)
    with storage.engine.begin() as conn:
        for table in ALL_TABLES:
            conn.execute(table.delete())
    return storage


@pytest.fixture
def backend_config(
    backend: str, namespaces: Namespaces, session_configs: dict[str, StorageConfig]
) -> StorageConfig | None:
    """The config behind ``storage`` (None for memory)."""
    if backend == "memory":
        return None
    return _session_config(backend, namespaces, session_configs)


@pytest.fixture
def storage(backend_config: StorageConfig | None) -> Iterator[Storage]:
    """An empty storage of each backend."""
    if backend_config is None:
        yield MemoryStorage()
        return
    s = (
        open_clean_etcd(backend_config)
        if backend_config.type == "etcd"
        else _open_clean(backend_config)
    )
    yield s
    s.close()


@pytest.fixture
def pg(namespaces: Namespaces, session_configs: dict[str, StorageConfig]) -> Iterator[SQLStorage]:
    """An empty PostgreSQL storage, opened as ``dex-py serve`` opens it."""
    storage = _open_clean(_session_config("postgres", namespaces, session_configs))
    yield storage
    storage.close()


@pytest.fixture
def sql_config(
    sql_backend: str, namespaces: Namespaces, session_configs: dict[str, StorageConfig]
) -> Iterator[StorageConfig]:
    """A migrated, emptied SQL namespace (for tests that open storage in other processes)."""
    cfg = _session_config(sql_backend, namespaces, session_configs)
    _open_clean(cfg).close()
    yield cfg


@pytest.fixture(params=[*SQL_BACKENDS, ETCD_BACKEND])
def shared_config(
    request: pytest.FixtureRequest,
    namespaces: Namespaces,
    session_configs: dict[str, StorageConfig],
) -> StorageConfig:
    """An empty storage that several processes share: an emptied SQL namespace, or a fresh etcd
    namespace (for tests that open the storage in other processes)."""
    kind = str(request.param)
    if kind == "etcd":
        return namespaces.create("etcd")
    cfg = _session_config(kind, namespaces, session_configs)
    _open_clean(cfg).close()
    return cfg


@pytest.fixture(
    scope="module",
    params=[
        pytest.param("postgres", marks=pytest.mark.postgres),
        pytest.param("mysql", marks=pytest.mark.mysql),
    ],
)
def pausable_server(request: pytest.FixtureRequest) -> Iterator[OwnServer]:
    """A PostgreSQL / MariaDB server of this module's own, which tests may pause (SIGSTOP)."""
    with own_server(str(request.param)) as server:
        yield server
