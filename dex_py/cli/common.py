"""What every ``dex-py`` command shares: loading the config or exiting, opening the storage or
exiting, failing in one line, and the audit line of an admin action (``admin_audit``)."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, NoReturn

import click

from dex_py.config import Config, ConfigError
from dex_py.config.loader import load

if TYPE_CHECKING:
    from dex_py.storage.base import Storage


def fail(message: str) -> NoReturn:
    """Print ``error: message`` on stderr and exit 1."""
    click.echo(f"error: {message}", err=True)
    sys.exit(1)


def load_config_or_exit(
    path: str, overrides: Mapping[str, str] | None = None, *, echo_warnings: bool = True
) -> Config:
    """Load and validate ``path`` (with ``overrides``, see ``config.loader.load``); on any
    problem print every error and exit 1. Warnings are printed unless ``echo_warnings`` is
    false (``serve`` logs them itself, in the configured log format)."""
    try:
        config = load(path, overrides)
    except ConfigError as exc:
        exit_with_config_errors(path, exc)
    if echo_warnings:
        for warning in config.warnings:
            click.echo(f"warning: {warning}", err=True)
    return config


def exit_with_config_errors(path: str, exc: ConfigError) -> NoReturn:
    """Print every error of ``exc`` with its key path on stderr and exit 1."""
    click.echo(f"error: invalid config {path}:", err=True)
    for key_path, message in exc.errors:
        click.echo(f"  {key_path}: {message}", err=True)
    sys.exit(1)


@contextmanager
def storage_or_exit(config: Config) -> Iterator[Storage]:
    """The configured storage (migrated), closed after the block; a clear error and exit 1
    when it cannot be opened."""
    from dex_py.config import ConfigError
    from dex_py.storage import StorageError, open_storage
    from dex_py.storage.migrate import MigrationError

    try:
        storage = open_storage(config.storage)
    except ConfigError as exc:
        fail("; ".join(f"{path}: {message}" for path, message in exc.errors))
    except (MigrationError, StorageError) as exc:
        fail(f"cannot open storage: {exc}")
    try:
        yield storage
    finally:
        storage.close()


def admin_audit(config: Config, storage: Storage, action: str, **fields: str) -> None:
    """One audit line (``dex_py.audit``, event ``admin``) for a change an operator made from the
    command line, in the config's log format, also kept in the audit log of ``storage`` (the
    one the command already has open; unless ``audit.store: false``); ``actor`` is
    ``cli:<operating-system user>``."""
    import getpass

    from dex_py.config.audit_log import SECTION, AuditPolicy
    from dex_py.ops.audit import audit
    from dex_py.ops.logs import setup_logging

    setup_logging(config.logger)
    try:
        actor = "cli:" + getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (a container's arbitrary user)
        actor = f"cli:uid:{os.getuid()}"
    details: dict[str, Any] = {"action": action, "actor": actor, **fields}
    keep = AuditPolicy.from_config(config.extensions.get(SECTION)).store
    audit("admin", storage=storage if keep else None, **details)
