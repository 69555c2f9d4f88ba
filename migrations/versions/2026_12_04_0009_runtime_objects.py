"""runtime-managed objects: the change counter, settings, and client secret rotation

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04 17:30:00

Adds what issue 12 item 1 stores for objects changed at run time:

- ``change_counter``: one row (``objects``) incremented after every change to clients,
  connectors, passwords or settings, so every worker and replica notices (``Storage.generation``).
- ``setting``: small JSON values by key with a version for optimistic concurrency (the team
  rules kept in storage).
- ``client.previous_secret_hash`` and ``client.previous_secret_expiry``: the secret a rotation
  replaced, still accepted until its expiry. Server default '' and NULL (no previous secret).

Rolling upgrade: the previous release reads and writes neither table; it writes clients
without the new columns, which then read back as "no previous secret".
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MYSQL = ("mysql", "mariadb")
TABLE_ARGS = {
    "mysql_engine": "InnoDB",
    "mysql_charset": "utf8mb4",
    "mysql_collate": "utf8mb4_bin",
    "mariadb_engine": "InnoDB",
    "mariadb_charset": "utf8mb4",
    "mariadb_collate": "utf8mb4_bin",
}
_TEXT = sa.Text().with_variant(mysql.MEDIUMTEXT(), *MYSQL)
_WHEN = sa.DateTime(timezone=False).with_variant(mysql.DATETIME(fsp=6), *MYSQL)


def upgrade() -> None:
    counter = op.create_table(
        "change_counter",
        sa.Column("id", sa.String(255), primary_key=True),
        sa.Column("value", sa.BigInteger(), nullable=False),
        **TABLE_ARGS,
    )
    op.bulk_insert(counter, [{"id": "objects", "value": 0}])
    op.create_table(
        "setting",
        sa.Column("id", sa.String(255), primary_key=True),
        sa.Column("value", _TEXT, nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        **TABLE_ARGS,
    )
    op.add_column(
        "client",
        sa.Column("previous_secret_hash", sa.String(255), nullable=False, server_default=""),
    )
    op.add_column("client", sa.Column("previous_secret_expiry", _WHEN, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("client") as batch:
        batch.drop_column("previous_secret_expiry")
        batch.drop_column("previous_secret_hash")
    op.drop_table("setting")
    op.drop_table("change_counter")
