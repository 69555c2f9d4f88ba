"""Storage: the ``Storage`` protocol, its backends, and ``open_storage`` to pick one from config.

``open_storage(cfg)`` builds the backend named by ``storage.type`` (``sqlite3``, ``postgres``,
``mysql``, ``etcd``, ``memory``; keys as in Dex, see ``storage.settings``) and, for SQL
backends, migrates the schema first. Engines connect lazily and hand a forked child a fresh
pool, so the storage may be created before gunicorn forks its workers. Wrap the result in
``StaticOverlay`` to add the config file's clients, passwords and connectors.
"""

from __future__ import annotations

import sqlalchemy as sa

from dex_py.config.model import StorageConfig
from dex_py.storage.base import (
    AlreadyExistsError,
    NotFoundError,
    ReadOnlyError,
    Storage,
    StorageError,
)
from dex_py.storage.engine import error_reason, make_engine
from dex_py.storage.etcd_client import EtcdUnavailable
from dex_py.storage.memory import MemoryStorage
from dex_py.storage.redis_attempts import RedisAttemptsUnavailable
from dex_py.storage.settings import StorageConfigError, engine_url_for, validate_storage_config
from dex_py.storage.static import StaticOverlay

# A database that is down, stopped answering within its timeouts, or has no free pooled
# connection, no etcd endpoint that answers, or a Redis of bruteForce.redis that does not: the
# web layer answers these with 503 (``error_handlers``).
DATABASE_UNAVAILABLE = (
    sa.exc.OperationalError,
    sa.exc.TimeoutError,
    EtcdUnavailable,
    RedisAttemptsUnavailable,  # bruteForce.redis
)

__all__ = [
    "DATABASE_UNAVAILABLE",
    "AlreadyExistsError",
    "MemoryStorage",
    "NotFoundError",
    "ReadOnlyError",
    "StaticOverlay",
    "Storage",
    "StorageConfigError",
    "StorageError",
    "engine_url_for",
    "error_reason",
    "make_engine",
    "open_storage",
    "validate_storage_config",
]


def open_storage(cfg: StorageConfig, *, migrate: bool = True) -> Storage:
    """The storage backend of ``cfg``; SQL schemas are upgraded to head unless ``migrate`` is
    False. Raises ``StorageConfigError`` for a bad section, ``migrate.MigrationError`` when the
    database cannot be reached or migrated."""
    if cfg.type == "memory":
        validate_storage_config(cfg)
        return MemoryStorage()
    if cfg.type == "etcd":
        from dex_py.storage.etcd import EtcdStorage
        from dex_py.storage.settings import parse_etcd

        return EtcdStorage(parse_etcd(cfg)[0])
    from dex_py.storage.sql import SQLStorage

    engine = make_engine(cfg)  # transactional: migrations must be all or nothing
    if migrate:
        from dex_py.storage.migrate import upgrade_engine

        try:
            upgrade_engine(engine)
        except BaseException:
            engine.dispose()
            raise
    if engine.dialect.name == "postgresql":  # requests: autocommit unless they write
        engine.dispose()
        engine = make_engine(cfg, autocommit_default=True)
    return SQLStorage(engine)
