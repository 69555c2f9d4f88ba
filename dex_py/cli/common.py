"""What every ``dex-py`` command shares: loading the config or exiting, and failing in one line."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import NoReturn

import click

from dex_py.config import Config, ConfigError
from dex_py.config.loader import load


def fail(message: str) -> NoReturn:
    """Print ``error: message`` on stderr and exit 1."""
    click.echo(f"error: {message}", err=True)
    sys.exit(1)


def load_config_or_exit(path: str, overrides: Mapping[str, str] | None = None) -> Config:
    """Load and validate ``path`` (with ``overrides``, see ``config.loader.load``); on any
    problem print every error and exit 1."""
    try:
        config = load(path, overrides)
    except ConfigError as exc:
        exit_with_config_errors(path, exc)
    for warning in config.warnings:
        click.echo(f"warning: {warning}", err=True)
    return config


def exit_with_config_errors(path: str, exc: ConfigError) -> NoReturn:
    """Print every error of ``exc`` with its key path on stderr and exit 1."""
    click.echo(f"error: invalid config {path}:", err=True)
    for key_path, message in exc.errors:
        click.echo(f"  {key_path}: {message}", err=True)
    sys.exit(1)
