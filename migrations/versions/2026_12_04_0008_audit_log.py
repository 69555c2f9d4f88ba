"""the audit log: the audit_record table

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04 16:40:00

Adds the audit log of issue 12 item 3 (``Storage.create_audit_record``): one row per security
event or admin change (time, event, outcome, actor, object, client, connector, address, JSON
details), listed newest first, by event or in a time range, and deleted after
``audit.retention``.

Rolling upgrade: the previous release neither reads nor writes the new table.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
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
    op.create_table(
        "audit_record",
        sa.Column("id", sa.String(255), primary_key=True),
        sa.Column("time", _WHEN, nullable=False),
        sa.Column("event", sa.String(255), nullable=False),
        sa.Column("outcome", sa.String(255), nullable=False),
        sa.Column("actor", _TEXT, nullable=False),
        sa.Column("object", _TEXT, nullable=False),
        sa.Column("client", _TEXT, nullable=False),
        sa.Column("connector", _TEXT, nullable=False),
        sa.Column("ip", sa.String(255), nullable=False),
        sa.Column("details", _TEXT, nullable=False),
        **TABLE_ARGS,
    )
    op.create_index("ix_audit_record_time", "audit_record", ["time"])
    op.create_index("ix_audit_record_event_time", "audit_record", ["event", "time"])


def downgrade() -> None:
    op.drop_index("ix_audit_record_event_time", "audit_record")
    op.drop_index("ix_audit_record_time", "audit_record")
    op.drop_table("audit_record")
