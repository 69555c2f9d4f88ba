"""``dex-py users``: operator actions on user accounts. ``unlock`` lifts the brute-force limits
(``bruteForce``, ``dex_py.login_guard``) of one account on one connector, at every address."""

from __future__ import annotations

import click

from dex_py.cli.common import load_config_or_exit, storage_or_exit

__all__ = ["users"]


@click.group()
def users() -> None:
    """User account commands."""


@users.command("unlock")
@click.argument("config_file", type=click.Path(dir_okay=False))
@click.option("--connector", "connector_id", required=True, help="The connector id (e.g. local).")
@click.option("--username", required=True, help="The name the user logs in with.")
def unlock(config_file: str, connector_id: str, username: str) -> None:
    """Remove the failed-login counts of one account, so it may log in again at once."""
    from dex_py.clock import Clock
    from dex_py.config.brute_force import SECTION, BruteForcePolicy
    from dex_py.login_guard import LoginGuard

    config = load_config_or_exit(config_file)
    policy = BruteForcePolicy.from_config(config.extensions.get(SECTION))
    with storage_or_exit(config) as storage:
        removed = LoginGuard(storage, Clock(), policy).unlock(connector_id, username)
    click.echo(f"unlocked {username} on {connector_id} ({removed} count(s) removed)")
