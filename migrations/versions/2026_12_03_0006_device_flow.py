"""device flow: device requests and attempt counters

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 00:00:00

Adds two tables for the device authorization grant (RFC 8628, issue 10 item 1):

- ``device_request``: one row per device authorization, keyed by the SHA-256 of the device code
  (the code itself is never stored), with a unique index on the user code and an index on the
  expiry for garbage collection.
- ``attempt_counter``: fixed-window counters shared by every process and replica (wrong user
  codes per browser and per address), collected once their window has ended.

Rolling upgrade: the previous release neither reads nor writes these tables; it simply does not
serve the device flow. Nothing existing changes.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
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
_BLOB = sa.LargeBinary().with_variant(mysql.MEDIUMBLOB(), *MYSQL)


def _key() -> sa.String:
    return sa.String(255)


def _when() -> sa.types.TypeEngine:
    return sa.DateTime(timezone=False).with_variant(mysql.DATETIME(fsp=6), *MYSQL)


def upgrade() -> None:
    op.create_table(
        "device_request",
        sa.Column("id", _key(), primary_key=True),
        sa.Column("user_code", _key(), nullable=False),
        sa.Column("client_id", _key(), nullable=False),
        sa.Column("scopes", _TEXT, nullable=False),
        sa.Column("expiry", _when(), nullable=False),
        sa.Column("interval", sa.Integer(), nullable=False),
        sa.Column("last_poll", _when(), nullable=True),
        sa.Column("status", _key(), nullable=False),
        sa.Column("state_hash", _key(), nullable=False),
        sa.Column("claims", _TEXT, nullable=True),
        sa.Column("connector_id", _key(), nullable=False),
        sa.Column("connector_data", _BLOB, nullable=True),
        sa.Column("auth_time", _when(), nullable=True),
        sa.Column("session_id", _key(), nullable=False),
        sa.Column("nonce", _key(), nullable=False),
        sa.UniqueConstraint("user_code", name="uq_device_request_user_code"),
        **TABLE_ARGS,
    )
    op.create_index("ix_device_request_expiry", "device_request", ["expiry"])
    op.create_table(
        "attempt_counter",
        sa.Column("id", _key(), primary_key=True),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("expiry", _when(), nullable=False),
        **TABLE_ARGS,
    )
    op.create_index("ix_attempt_counter_expiry", "attempt_counter", ["expiry"])


def downgrade() -> None:
    op.drop_table("attempt_counter")
    op.drop_table("device_request")
