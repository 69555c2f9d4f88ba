"""``dex-py keys``: inspect and rotate the signing keys in the configured storage.

``rotate`` forces a rotation now through the same compare-and-swap the servers use, so it is
safe while replicas run: they pick up the new key within their refresh interval, and the old
public key stays published until every token it signed has expired.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import click

from dex_py.cli.common import admin_audit, fail, load_config_or_exit

if TYPE_CHECKING:
    from dex_py.config import Config
    from dex_py.storage.base import Storage

__all__ = ["keys"]

_CONFIG_ARG = click.argument("config_file", type=click.Path(dir_okay=False))


@contextmanager
def _open(config_file: str) -> Iterator[tuple[Config, Storage]]:
    from dex_py.storage import open_storage

    config = load_config_or_exit(config_file)
    if config.storage.type == "memory":
        fail("storage type is memory: keys live only inside the running server")
    storage = open_storage(config.storage)
    try:
        yield config, storage
    finally:
        storage.close()


@click.group()
def keys() -> None:
    """Signing key commands."""


@keys.command("rotate")
@_CONFIG_ARG
def rotate(config_file: str) -> None:
    """Rotate the signing key now (safe while servers run)."""
    from dex_py.clock import Clock
    from dex_py.jose.jwk import KeyStoreError, kid_of
    from dex_py.jose.keys import manager_from_config
    from dex_py.storage.base import NotFoundError

    with _open(config_file) as (config, storage):
        try:
            previous = kid_of(storage.get_keys().signing_key)
        except NotFoundError:
            previous = ""
        try:
            kid = manager_from_config(storage, Clock(), config).rotate_now()
        except KeyStoreError as exc:
            fail(str(exc))
        admin_audit(config, storage, "keys.rotate", kid=kid, retired=previous)
    if previous:
        click.echo(f"rotated: signing key {kid} (retired {previous})")
    else:
        click.echo(f"created signing key {kid}")


@keys.command("list")
@_CONFIG_ARG
def list_keys(config_file: str) -> None:
    """List the signing key and the retired keys still published."""
    from dex_py.clock import Clock
    from dex_py.jose.keys import key_infos
    from dex_py.storage.base import NotFoundError

    with _open(config_file) as (_config, storage):
        try:
            row = storage.get_keys()
        except NotFoundError:
            click.echo("no signing keys yet (created when the server starts)")
            return
    infos = key_infos(row, Clock().now())
    width = max([len(i.kid) for i in infos] + [3])
    click.echo(f"{'KID':<{width}}  {'ALG':<5}  {'STATUS':<7}  EXPIRY")
    for info in infos:
        when = info.expiry.isoformat(timespec="seconds")
        click.echo(f"{info.kid:<{width}}  {info.alg:<5}  {info.status:<7}  {when}")
