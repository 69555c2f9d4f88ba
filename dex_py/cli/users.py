"""``dex-py users``: operator actions on user accounts. ``unlock`` lifts the brute-force limits
(``bruteForce``, ``dex_py.login_guard``) of one account on one connector, at every address;
``reset-mfa`` removes a user's second factors (``dex_py.mfa``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from dex_py.cli.common import admin_audit, fail, load_config_or_exit, storage_or_exit

if TYPE_CHECKING:
    from dex_py.config import Config
    from dex_py.storage.base import Storage

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
    from dex_py.login_guard import LoginGuard, attempt_counter

    config = load_config_or_exit(config_file)
    policy = BruteForcePolicy.from_config(config.extensions.get(SECTION))
    with storage_or_exit(config) as storage:
        counter = attempt_counter(storage, policy)
        removed = LoginGuard(counter, Clock(), policy).unlock(connector_id, username)
        admin_audit(config, storage, "users.unlock", connector=connector_id, user=username)
    click.echo(f"unlocked {username} on {connector_id} ({removed} count(s) removed)")


@users.command("reset-mfa")
@click.argument("config_file", type=click.Path(dir_okay=False))
@click.argument("user")
@click.option(
    "--connector",
    "connector_id",
    default="",
    help="Take USER as this connector's user id (default: an email of the password database, "
    "or the sub claim of the user's ID tokens).",
)
def reset_mfa(config_file: str, user: str, connector_id: str) -> None:
    """Remove a user's second factors (TOTP, passkeys, recovery codes) and second-factor lock,
    e.g. after a lost phone. If a second factor is required of them, they enrol again at their
    next login."""
    from dex_py.clock import Clock
    from dex_py.config.brute_force import SECTION, BruteForcePolicy
    from dex_py.login_guard import SecondFactorGuard, attempt_counter
    from dex_py.storage.base import NotFoundError

    config = load_config_or_exit(config_file)
    policy = BruteForcePolicy.from_config(config.extensions.get(SECTION))
    with storage_or_exit(config) as storage:
        key = _mfa_key(config, storage, user, connector_id)
        try:
            storage.delete_mfa_state(key)
            found = True
        except NotFoundError:
            found = False
        SecondFactorGuard(attempt_counter(storage, policy), Clock(), policy).reset(key)
        if found:
            admin_audit(config, storage, "users.reset-mfa", user=user)
    if not found:
        fail(f"no second factor stored for {user}")
    click.echo(f"second factors of {user} removed")


def _mfa_key(config: Config, storage: Storage, user: str, connector_id: str) -> str:
    """The storage key of ``user``'s second factors (their ``sub``)."""
    from dex_py.config.model import LOCAL_CONNECTOR_ID
    from dex_py.jose.tokens import decode_sub
    from dex_py.second_factor import user_key_of
    from dex_py.storage.base import NotFoundError

    if connector_id:
        return user_key_of(user, connector_id)
    if "@" in user:
        for static in config.static_passwords:
            if static.email.lower() == user.lower():
                return user_key_of(static.user_id, LOCAL_CONNECTOR_ID)
        try:
            return user_key_of(storage.get_password(user).user_id, LOCAL_CONNECTOR_ID)
        except NotFoundError:
            fail(f"no user with email {user} in the password database (use --connector)")
    try:
        decode_sub(user)
    except ValueError:
        fail(f"{user} is neither an email of the password database nor a sub (use --connector)")
    return user
