"""``open_storage`` / ``engine_url_for``: Dex's storage config keys, and errors naming key paths."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from dex_py.config import ConfigError, StorageConfig
from dex_py.storage import (
    MemoryStorage,
    StorageConfigError,
    engine_url_for,
    make_engine,
    open_storage,
    validate_storage_config,
)
from dex_py.storage.sql import SQLStorage


def errors_of(kind: str, conf: dict[str, Any]) -> list[tuple[str, str]]:
    with pytest.raises(StorageConfigError) as info:
        engine_url_for(StorageConfig(kind, conf))
    assert isinstance(info.value, ConfigError)
    return info.value.errors


def test_postgres_keys_as_in_dex() -> None:
    url = engine_url_for(
        StorageConfig(
            "postgres",
            {
                "host": "db.example.com:6543",
                "database": "dex",
                "user": "dex",
                "password": "p@ss:word/",
                "ssl": {"caFile": "/etc/ca.pem", "certFile": "/c.pem", "keyFile": "/k.pem"},
                "connectionTimeout": 5,
            },
        )
    )
    assert url.drivername == "postgresql+psycopg"
    assert (url.host, url.port, url.database, url.username) == (
        "db.example.com",
        6543,
        "dex",
        "dex",
    )
    assert url.password == "p@ss:word/"
    assert "p@ss" not in str(url)  # rendering hides the password
    assert url.query["sslmode"] == "verify-full"  # Dex's default
    assert url.query["sslrootcert"] == "/etc/ca.pem"
    assert (url.query["sslcert"], url.query["sslkey"]) == ("/c.pem", "/k.pem")
    assert url.query["connect_timeout"] == "5"


def test_postgres_explicit_port_socket_and_params() -> None:
    url = engine_url_for(
        StorageConfig(
            "postgres",
            {"host": "db", "port": "5433", "database": "dex", "ssl": {"mode": "disable"}},
        )
    )
    assert (url.host, url.port, url.query["sslmode"]) == ("db", 5433, "disable")
    url = engine_url_for(
        StorageConfig(
            "postgres",
            {"host": "/run/postgresql", "database": "dex", "params": {"application_name": "x"}},
        )
    )
    assert url.host is None and url.query["host"] == "/run/postgresql"
    assert url.query["application_name"] == "x"
    url = engine_url_for(StorageConfig("postgres", {"host": "[::1]:5544", "database": "d"}))
    assert (url.host, url.port) == ("::1", 5544)


def test_postgres_dsn_and_url() -> None:
    url = engine_url_for(
        StorageConfig(
            "postgres",
            {"dsn": "host=db port=5439 dbname=dex user=u password=pw sslmode=require"},
        )
    )
    assert (url.host, url.port, url.database, url.username, url.password) == (
        "db",
        5439,
        "dex",
        "u",
        "pw",
    )
    assert url.query["sslmode"] == "require"
    url = engine_url_for(StorageConfig("postgres", {"url": "postgres://u@db/dex"}))
    assert url.drivername == "postgresql+psycopg" and url.database == "dex"


def test_mysql_keys_as_in_dex() -> None:
    url = engine_url_for(
        StorageConfig(
            "mysql",
            {"host": "db", "port": 3307, "database": "dex", "user": "root", "password": "pw"},
        )
    )
    assert url.drivername == "mysql+pymysql"
    assert (url.host, url.port, url.database) == ("db", 3307, "dex")
    assert url.query["charset"] == "utf8mb4"
    url = engine_url_for(StorageConfig("mysql", {"url": "mysql://root@db:3306/dex"}))
    assert url.drivername == "mysql+pymysql" and url.query["charset"] == "utf8mb4"


def test_sqlite_file_and_memory() -> None:
    assert engine_url_for(StorageConfig("sqlite3", {"file": "/var/dex.db"})).database == (
        "/var/dex.db"
    )
    assert engine_url_for(StorageConfig("sqlite3", {"file": ":memory:"})).database is None


def test_memory_type() -> None:
    assert isinstance(open_storage(StorageConfig("memory", {})), MemoryStorage)


def test_unknown_type() -> None:
    errors = errors_of("cassandra", {})
    assert errors[0][0] == "storage.type"
    assert "cassandra" in errors[0][1]


def test_all_errors_reported_with_key_paths() -> None:
    errors = dict(errors_of("postgres", {"port": "abc", "ssl": {"mode": "sometimes"}}))
    assert errors["storage.config.host"] == "required"
    assert errors["storage.config.database"] == "required"
    assert "storage.config.port" in errors
    assert "storage.config.ssl.mode" in errors
    assert dict(errors_of("sqlite3", {})) == {"storage.config.file": "required"}
    assert "storage.config.host" in dict(errors_of("mysql", {"host": 3306, "database": "d"}))
    assert "storage.config.params.a b" in dict(
        errors_of("mysql", {"host": "h", "database": "d", "params": {"a b": "1"}})
    )


def test_bad_url_is_an_error_without_echoing_it() -> None:
    errors = errors_of("postgres", {"url": "mysql://u:topsecret@h/d"})
    assert errors[0][0] == "storage.config.url"
    assert "topsecret" not in str(errors)


def test_unknown_keys_are_warnings() -> None:
    warnings = validate_storage_config(
        StorageConfig("sqlite3", {"file": "x.db", "pasword": "oops"})
    )
    assert warnings == ["storage.config.pasword: unknown key, ignored"]


def test_pool_settings() -> None:
    engine = make_engine(
        StorageConfig(
            "postgres",
            {"host": "db", "database": "d", "maxOpenConns": 10, "maxIdleConns": 3},
        )
    )
    assert isinstance(engine.pool, sa.pool.QueuePool)
    assert engine.pool.size() == 3
    assert engine.pool._max_overflow == 7
    engine.dispose()


def test_sqlite_engine_uses_wal(tmp_path) -> None:
    storage = open_storage(StorageConfig("sqlite3", {"file": str(tmp_path / "dex.db")}))
    assert isinstance(storage, SQLStorage)
    with storage.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    storage.close()


@pytest.mark.mysql
def test_mysql_params_are_session_variables(fresh_config: Any) -> None:
    url = sa.make_url(fresh_config("mysql").config["url"])
    cfg = StorageConfig(
        "mysql",
        {
            "host": url.host,
            "port": url.port or 3306,
            "database": url.database,
            "user": url.username,
            "params": {"wait_timeout": "1234"},
        },
    )
    storage = open_storage(cfg)
    assert isinstance(storage, SQLStorage)
    with storage.engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT @@SESSION.wait_timeout").scalar() == 1234
    storage.close()


def test_sqlite_file_folder_is_created(tmp_path: Path) -> None:
    """The example config's ``var/dex.db`` must work on a fresh checkout."""
    from dex_py.config import StorageConfig
    from dex_py.storage import open_storage

    target = tmp_path / "new" / "nested" / "dex.db"
    storage = open_storage(StorageConfig(type="sqlite3", config={"file": str(target)}))
    try:
        storage.ping()
    finally:
        storage.close()
    assert target.exists()
