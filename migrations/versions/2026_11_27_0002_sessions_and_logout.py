"""sessions and back-channel logout: SSO sessions, logout delivery events, session ids on
auth requests, codes and refresh tokens, client auth/logout settings

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 00:00:01

Adds the ``session`` and ``logout_event`` tables, ``session_id`` to ``auth_request``,
``auth_code`` and ``refresh_token``, and four columns to ``client``
(``token_endpoint_auth_method``, ``jwks``, ``jwks_uri``, ``backchannel_logout_uri``), all NOT
NULL with the server default "" (the dataclass default), which existing rows get too. The
default keeps the previous release working during a rolling upgrade: its inserts do not name
these columns. (As first released this revision added them without a default; revision 0003
adds the default to databases migrated then. SQLite, PostgreSQL and MariaDB take the literal
default ''; MySQL itself takes only the expression default ('') on TEXT, from 8.0.13.)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
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


def key() -> sa.String:
    return sa.String(255)


def when() -> sa.types.TypeEngine:
    return sa.DateTime(timezone=False).with_variant(mysql.DATETIME(fsp=6), *MYSQL)


def text() -> sa.types.TypeEngine:
    return sa.Text().with_variant(mysql.MEDIUMTEXT(), *MYSQL)


def blob() -> sa.types.TypeEngine:
    return sa.LargeBinary().with_variant(mysql.MEDIUMBLOB(), *MYSQL)


# table -> (column, type) added NOT NULL with the server default ""
NEW_COLUMNS: dict[str, tuple[tuple[str, Callable[[], sa.types.TypeEngine]], ...]] = {
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
    """The server default '' in a form the database accepts on TEXT columns."""
    dialect = op.get_context().dialect
    if dialect.name in MYSQL and not getattr(dialect, "is_mariadb", False):
        return sa.text("('')")
    return ""


def _add_text_columns(
    table: str, columns: Sequence[tuple[str, Callable[[], sa.types.TypeEngine]]]
) -> None:
    for name, type_ in columns:
        op.add_column(
            table, sa.Column(name, type_(), nullable=False, server_default=empty_default())
        )


def upgrade() -> None:
    for table, columns in NEW_COLUMNS.items():
        _add_text_columns(table, columns)

    op.create_table(
        "session",
        sa.Column("id", key(), primary_key=True),
        sa.Column("secret_hash", key(), nullable=False),
        sa.Column("user_id", key(), nullable=False),
        sa.Column("claims", text(), nullable=False),
        sa.Column("connector_id", key(), nullable=False),
        sa.Column("auth_time", when(), nullable=False),
        sa.Column("created_at", when(), nullable=False),
        sa.Column("last_active", when(), nullable=False),
        sa.Column("expiry", when(), nullable=False),
        sa.Column("connector_data", blob(), nullable=True),
        sa.Column("clients", text(), nullable=False),
        sa.Column("approved_clients", text(), nullable=False),
        **TABLE_ARGS,
    )
    op.create_index("ix_session_user_id", "session", ["user_id"])
    op.create_index("ix_session_expiry", "session", ["expiry"])

    op.create_table(
        "logout_event",
        sa.Column("id", key(), primary_key=True),
        sa.Column("client_id", key(), nullable=False),
        sa.Column("uri", text(), nullable=False),
        sa.Column("sid", key(), nullable=False),
        sa.Column("sub", text(), nullable=False),
        sa.Column("created_at", when(), nullable=False),
        sa.Column("status", key(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt", when(), nullable=True),
        sa.Column("last_error", text(), nullable=False),
        **TABLE_ARGS,
    )
    op.create_index(
        "ix_logout_event_status_next_attempt", "logout_event", ["status", "next_attempt"]
    )


def downgrade() -> None:
    op.drop_table("logout_event")
    op.drop_table("session")
    for table, columns in NEW_COLUMNS.items():
        with op.batch_alter_table(table) as batch:
            for name, _ in reversed(columns):
                batch.drop_column(name)
