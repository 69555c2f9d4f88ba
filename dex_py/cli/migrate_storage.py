"""``dex-py migrate-storage FROM_CONFIG TO_CONFIG``: copy clients, passwords, connectors, signing
keys, sessions and refresh tokens from the storage of one config file into the storage of another
(any two of SQLite, PostgreSQL, MySQL and etcd), for instance when moving to etcd or off it. The
copy itself is ``storage.copy`` (idempotent: run it again to bring the target up to date).

Only the storages are read: clients, passwords and connectors defined in a config file stay in
that file. The target's schema is created or upgraded first; the source is opened as it is.
"""

from __future__ import annotations

import click

from dex_py.cli.common import fail, load_config_or_exit


@click.command("migrate-storage")
@click.argument("from_config", type=click.Path(dir_okay=False))
@click.argument("to_config", type=click.Path(dir_okay=False))
def migrate_storage(from_config: str, to_config: str) -> None:
    """Copy what lasts from the storage of FROM_CONFIG into that of TO_CONFIG."""
    from sqlalchemy.exc import SQLAlchemyError

    from dex_py.config import ConfigError
    from dex_py.storage import StorageError, error_reason, open_storage
    from dex_py.storage.copy import copy_storage
    from dex_py.storage.migrate import MigrationError

    source_config = load_config_or_exit(from_config).storage
    target_config = load_config_or_exit(to_config).storage
    for path, cfg in ((from_config, source_config), (to_config, target_config)):
        if cfg.type == "memory":
            fail(f"{path}: storage type memory lives inside one server process; nothing to copy")
    if source_config == target_config:
        fail("FROM_CONFIG and TO_CONFIG name the same storage")
    opened = []
    try:
        source = open_storage(source_config, migrate=False)
        opened.append(source)
        target = open_storage(target_config, migrate=True)
        opened.append(target)
        source.ping()
        target.ping()
        report = copy_storage(source, target)
    except ConfigError as exc:
        fail("; ".join(f"{key}: {message}" for key, message in exc.errors))
    except (MigrationError, StorageError) as exc:
        fail(f"storage: {exc}")
    except SQLAlchemyError as exc:  # e.g. a source never migrated: dex-py db upgrade FROM_CONFIG
        fail(f"storage: {error_reason(exc)}")
    finally:
        for storage in opened:
            storage.close()
    for line in report.lines():
        click.echo(line)
    click.echo(f"copied {source_config.type} -> {target_config.type}")
