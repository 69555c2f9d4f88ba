"""``dex-py audit export``: the audit log kept in storage (the ``audit`` section), as JSON
lines, oldest first, for a SIEM or an archive before ``audit.retention`` removes them."""

from __future__ import annotations

from datetime import UTC, datetime

import click

from dex_py.cli.common import fail, load_config_or_exit, storage_or_exit
from dex_py.management.audit import export_lines

__all__ = ["audit"]


def _moment(value: str | None, option: str) -> datetime | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        fail(f"{option}: not an ISO 8601 time (like 2026-12-04T10:00:00Z): {value!r}")
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@click.group()
def audit() -> None:
    """The audit log in storage."""


@audit.command("export")
@click.argument("config_file", type=click.Path(dir_okay=False))
@click.option("--since", default=None, help="Only records at or after this ISO 8601 time.")
@click.option("--until", default=None, help="Only records before this ISO 8601 time.")
@click.option("--event", default="", help="Only this event (login, admin, revocation, ...).")
@click.option("--actor", default="", help="Only records of this actor.")
@click.option("--limit", default=10000, show_default=True, help="At most this many (newest).")
def export(
    config_file: str, since: str | None, until: str | None, event: str, actor: str, limit: int
) -> None:
    """Print audit records as JSON lines, oldest first."""
    config = load_config_or_exit(config_file)
    low, high = _moment(since, "--since"), _moment(until, "--until")
    if limit < 1:
        fail("--limit: must be at least 1")
    with storage_or_exit(config) as storage:
        records = storage.list_audit_records(
            since=low, until=high, event=event, actor=actor, limit=limit
        )
    for line in export_lines(records):
        click.echo(line)
