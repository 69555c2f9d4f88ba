"""Schema migrations through alembic's programmatic API (``dex-py db upgrade``, and on serve).

Scripts live in ``migrations/`` (found with ``dex_py.resources.resource_dir``). Several
processes may start at once (gunicorn workers, replicas), so an upgrade runs under a database
lock: ``pg_advisory_lock`` on PostgreSQL, ``GET_LOCK`` on MySQL, ``BEGIN IMMEDIATE`` on SQLite.
The first process migrates; the others wait, then find the schema at head and do nothing.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection, Engine

from dex_py.config.model import StorageConfig
from dex_py.resources import resource_dir
from dex_py.storage.engine import (
    SQLITE_LOCK_OPTION,
    describe_url,
    error_reason,
    install_sqlite_hooks,
    make_engine,
)
from dex_py.storage.settings import StorageConfigError
from dex_py.storage.timeouts import without_timeouts

log = logging.getLogger(__name__)

LOCK_TIMEOUT = 300  # seconds to wait for another process's migration (MySQL GET_LOCK)


class MigrationError(Exception):
    """The schema could not be brought to the current revision (the message names the database,
    never its password)."""


def alembic_config() -> AlembicConfig:
    """An alembic config pointing at dex-py's migration scripts."""
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(resource_dir("migrations")))
    # New revisions (``alembic revision`` with this config) get date-prefixed file names.
    cfg.set_main_option("file_template", "%%(year)d_%%(month).2d_%%(day).2d_%%(rev)s_%%(slug)s")
    return cfg


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise MigrationError("no migration scripts found")
    return head


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at (None: never migrated)."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(cfg: StorageConfig) -> str:
    """Migrate the database of ``cfg`` to head; returns the head revision ("" for memory and
    etcd, which have no schema)."""
    if cfg.type in ("memory", "etcd"):
        return ""
    try:
        engine = make_engine(cfg)
    except StorageConfigError as exc:
        raise MigrationError(f"invalid storage config: {exc}") from exc
    try:
        return upgrade_engine(engine)
    finally:
        engine.dispose()


def upgrade_engine(engine: Engine) -> str:
    """Migrate ``engine``'s database to head under a cross-process lock; returns the head."""
    install_sqlite_hooks(engine)
    where = describe_url(engine.url)
    for attempt in range(SQLITE_LOCK_RETRIES + 1):
        try:
            before, after = _upgrade_locked(engine)
            break
        except MigrationError:
            raise
        except sa.exc.OperationalError as exc:
            # SQLite answers "database is locked" at once, without waiting on the busy timeout,
            # when processes opening a brand-new file race to switch it to WAL; try again.
            if (
                engine.dialect.name == "sqlite"
                and "locked" in str(exc)
                and (attempt < SQLITE_LOCK_RETRIES)
            ):
                time.sleep(0.2 * (attempt + 1))
                continue
            raise MigrationError(
                f"cannot migrate {where}: database unreachable or locked: {error_reason(exc)}"
            ) from exc
        except sa.exc.SQLAlchemyError as exc:
            raise MigrationError(f"cannot migrate {where}: {error_reason(exc)}") from exc
    if before != after:
        log.info("migrated %s from %s to %s", where, before or "empty", after)
    return after or head_revision()


SQLITE_LOCK_RETRIES = 5


def _upgrade_locked(engine: Engine) -> tuple[str | None, str | None]:
    with engine.connect() as conn, without_timeouts(conn), _migration_lock(conn):
        before = MigrationContext.configure(conn).get_current_revision()
        cfg = alembic_config()
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
        conn.commit()
        after = MigrationContext.configure(conn).get_current_revision()
        conn.commit()
    return before, after


@contextmanager
def _migration_lock(conn: Connection) -> Iterator[None]:
    name = conn.dialect.name
    if name == "postgresql":
        key = sa.text("SELECT hashtext('dex_py.migrate:' || coalesce(current_schema(), ''))")
        lock_id = conn.execute(key).scalar_one()
        conn.execute(sa.text("SELECT pg_advisory_lock(:k)"), {"k": lock_id})
        conn.commit()
        try:
            yield
        finally:
            conn.rollback()
            conn.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": lock_id})
            conn.commit()
    elif name in ("mysql", "mariadb"):
        lock_name = sa.text("SELECT CONCAT('dex_py.migrate:', COALESCE(DATABASE(), ''))")
        lock = conn.execute(lock_name).scalar_one()[:64]
        got = conn.execute(sa.text("SELECT GET_LOCK(:n, :t)"), {"n": lock, "t": LOCK_TIMEOUT})
        if got.scalar_one() != 1:
            raise MigrationError(
                f"another process held the migration lock of {describe_url(conn.engine.url)} "
                f"for {LOCK_TIMEOUT}s"
            )
        conn.commit()
        try:
            yield
        finally:
            conn.rollback()
            conn.execute(sa.text("SELECT RELEASE_LOCK(:n)"), {"n": lock})
            conn.commit()
    elif name == "sqlite":
        # The whole migration runs in one BEGIN IMMEDIATE transaction (SQLite DDL is
        # transactional); other processes wait on the busy timeout.
        conn.execution_options(**{SQLITE_LOCK_OPTION: True})
        conn.begin()
        yield
    else:
        yield
