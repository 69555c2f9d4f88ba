"""``dex-py passwords``: manage users of the built-in password database (``enablePasswordDB``).

Users added here live in storage; users from the config's ``staticPasswords`` are listed too
but are read-only. Passwords are read from a hidden, confirmed prompt or from standard input
(``--password-stdin``) and stored only as bcrypt hashes; hashes are never printed.
"""

from __future__ import annotations

import sys
import uuid
from typing import TYPE_CHECKING

import click

from dex_py.cli.common import admin_audit, fail, load_config_or_exit, storage_or_exit

if TYPE_CHECKING:
    from dex_py.config import Config

__all__ = ["passwords"]

_CONFIG_ARG = click.argument("config_file", type=click.Path(dir_okay=False))
_EMAIL_OPT = click.option("--email", required=True, help="The user's e-mail address (login name).")
_STDIN_OPT = click.option(
    "--password-stdin", is_flag=True, help="Read the password from standard input."
)


def _load(config_file: str) -> Config:

    config = load_config_or_exit(config_file)
    if not config.enable_password_db:
        click.echo(
            "warning: enablePasswordDB is false; these users cannot log in until it is enabled",
            err=True,
        )
    return config


def _is_static(config: Config, email: str) -> bool:
    return any(p.email.lower() == email for p in config.static_passwords)


def _read_password(from_stdin: bool) -> bytes:
    """Read, check and hash a new password; exit 1 if it breaks the policy."""
    from dex_py.passwords import hash_password

    if from_stdin:
        plain = sys.stdin.readline().rstrip("\r\n")
    else:
        plain = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        return hash_password(plain)
    except ValueError as exc:
        fail(str(exc))


def _normalise_email(email: str) -> str:
    email = email.strip().lower()
    if not email:
        fail("--email must not be empty")
    return email


@click.group()
def passwords() -> None:
    """Manage users of the password database."""


@passwords.command("add")
@_CONFIG_ARG
@_EMAIL_OPT
@click.option("--username", required=True, help="Display name.")
@click.option("--user-id", default=None, help="Stable user id (default: a random UUID).")
@click.option("--group", "groups", multiple=True, help="Group membership; repeat for several.")
@_STDIN_OPT
def add(
    config_file: str,
    email: str,
    username: str,
    user_id: str | None,
    groups: tuple[str, ...],
    password_stdin: bool,
) -> None:
    """Add a user to the password database of CONFIG_FILE."""
    from dex_py.storage.base import AlreadyExistsError, Password

    email = _normalise_email(email)
    if not username.strip():
        fail("--username must not be empty")
    config = _load(config_file)
    if _is_static(config, email):
        fail(f"{email} is already defined in staticPasswords of {config_file}")
    password_hash = _read_password(password_stdin)
    record = Password(
        email=email,
        hash=password_hash,
        username=username,
        user_id=user_id or str(uuid.uuid4()),
        groups=tuple(groups),
    )
    with storage_or_exit(config) as storage:
        try:
            storage.create_password(record)
        except AlreadyExistsError:
            fail(f"a user with e-mail {email} already exists")
        admin_audit(config, storage, "passwords.add", email=email, user=record.user_id)
    click.echo(f"added {email} (user id {record.user_id})")


@passwords.command("list")
@_CONFIG_ARG
def list_(config_file: str) -> None:
    """List the users of CONFIG_FILE's password database (never their hashes)."""
    config = _load(config_file)
    rows = [
        (p.email.lower(), p.username, p.user_id, ",".join(p.groups) or "-", "config")
        for p in config.static_passwords
    ]
    with storage_or_exit(config) as storage:
        rows += [
            (p.email, p.username, p.user_id, ",".join(p.groups) or "-", "storage")
            for p in sorted(storage.list_passwords(), key=lambda p: p.email)
        ]
    if not rows:
        click.echo("no users")
        return
    header = ("EMAIL", "USERNAME", "USER ID", "GROUPS", "SOURCE")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


@passwords.command("delete")
@_CONFIG_ARG
@_EMAIL_OPT
def delete(config_file: str, email: str) -> None:
    """Delete a user from CONFIG_FILE's password database."""
    from dex_py.storage.base import NotFoundError

    email = _normalise_email(email)
    config = _load(config_file)
    if _is_static(config, email):
        fail(f"{email} is a static password from {config_file} and cannot be deleted here")
    with storage_or_exit(config) as storage:
        try:
            storage.delete_password(email)
        except NotFoundError:
            fail(f"no user with e-mail {email}")
        admin_audit(config, storage, "passwords.delete", email=email)
    click.echo(f"deleted {email}")


@passwords.command("passwd")
@_CONFIG_ARG
@_EMAIL_OPT
@_STDIN_OPT
def passwd(config_file: str, email: str, password_stdin: bool) -> None:
    """Change a user's password in CONFIG_FILE's password database."""
    import dataclasses

    from dex_py.storage.base import NotFoundError

    email = _normalise_email(email)
    config = _load(config_file)
    if _is_static(config, email):
        fail(f"{email} is a static password from {config_file} and cannot be changed here")
    with storage_or_exit(config) as storage:
        try:
            storage.get_password(email)
        except NotFoundError:
            fail(f"no user with e-mail {email}")
        password_hash = _read_password(password_stdin)
        try:
            storage.update_password(email, lambda p: dataclasses.replace(p, hash=password_hash))
        except NotFoundError:
            fail(f"no user with e-mail {email}")
        admin_audit(config, storage, "passwords.passwd", email=email)
    click.echo(f"changed the password of {email}")
