"""rolling upgrades: server defaults for the columns 0002 added NOT NULL

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03 00:00:00

Revision 0002 as first released added seven NOT NULL columns without a server default, so the
previous release, still running during a rolling upgrade, failed every insert into
``auth_request``, ``auth_code``, ``refresh_token`` and ``client`` (it does not name the new
columns). 0002 now adds them with the default ""; this revision gives the same default to
databases migrated by the first 0002, and does nothing where the default is already there
(SQLite alters by copying the table, so a fresh install skips that). The downgrade keeps the
defaults: 0002 has them too now.

Every migration must be safe for the previous release still running during a rolling upgrade
(new columns nullable or with a server default; nothing the previous release reads or writes
renamed or dropped); ``tests/storage/test_rolling_upgrade.py`` checks each revision.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MYSQL = ("mysql", "mariadb")


def key() -> sa.types.TypeEngine:
    return sa.String(255)


def text() -> sa.types.TypeEngine:
    return sa.Text().with_variant(mysql.MEDIUMTEXT(), *MYSQL)


# table -> columns that 0002 added NOT NULL, each with its type
COLUMNS = {
    "auth_request": (("session_id", key),),
    "auth_code": (("session_id", key),),
    "refresh_token": (("session_id", key),),
    "client": (
        ("token_endpoint_auth_method", key),
        ("jwks", text),
        ("jwks_uri", text),
        ("backchannel_logout_uri", text),
    ),
}


def empty_default() -> str | sa.TextClause:
    """The server default '' in a form the database accepts on TEXT columns (MySQL itself,
    unlike MariaDB, takes only an expression default there, from 8.0.13)."""
    dialect = op.get_context().dialect
    if dialect.name in MYSQL and not getattr(dialect, "is_mariadb", False):
        return sa.text("('')")
    return ""


def _has_default(table: str) -> set[str]:
    """Columns of ``table`` that have a server default (none known in offline ``--sql`` mode)."""
    if op.get_context().as_sql:
        return set()
    return {c["name"] for c in sa.inspect(op.get_bind()).get_columns(table) if c.get("default")}


def upgrade() -> None:
    for table, columns in COLUMNS.items():
        has_default = _has_default(table)
        missing = [(name, type_) for name, type_ in columns if name not in has_default]
        if not missing:
            continue
        with op.batch_alter_table(table) as batch:
            for name, type_ in missing:
                batch.alter_column(
                    name,
                    existing_type=type_(),
                    existing_nullable=False,
                    server_default=empty_default(),
                )


def downgrade() -> None:
    pass  # 0002 gives these columns the same defaults now
