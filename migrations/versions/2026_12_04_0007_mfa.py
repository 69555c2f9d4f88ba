"""second factors: the mfa_state table and auth_request.acr_values

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 00:00:00

Adds what multi-factor authentication (issue 13 item 1, ``dex_py.mfa``) stores:

- ``mfa_state``: one row per user (keyed by the user's ``sub``) with the TOTP secret, whether
  it was confirmed, the time step of the last accepted code, the WebAuthn credentials (JSON)
  and the SHA-256 digests of the unused recovery codes (JSON).
- ``auth_request.acr_values``: the ``acr_values`` of the authorization request, so a request
  demanding MFA cannot be answered without it. Server default '' (no demand).

Rolling upgrade: the previous release does not read the new table; it writes auth requests
without the new column, which then reads back as ''.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
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


def _key() -> sa.String:
    return sa.String(255)


def _when() -> sa.types.TypeEngine:
    return sa.DateTime(timezone=False).with_variant(mysql.DATETIME(fsp=6), *MYSQL)


def _empty_default() -> str | sa.TextClause:
    """The server default '' in a form the database accepts on TEXT columns (MySQL itself,
    unlike MariaDB, takes only an expression default there, from 8.0.13)."""
    dialect = op.get_context().dialect
    if dialect.name in MYSQL and not getattr(dialect, "is_mariadb", False):
        return sa.text("('')")
    return ""


def upgrade() -> None:
    op.create_table(
        "mfa_state",
        sa.Column("id", _key(), primary_key=True),
        sa.Column("totp_secret", _key(), nullable=False),
        sa.Column("totp_confirmed", sa.Boolean(), nullable=False),
        sa.Column("totp_last_step", sa.BigInteger(), nullable=False),
        sa.Column("webauthn_credentials", _TEXT, nullable=False),
        sa.Column("recovery_code_hashes", _TEXT, nullable=False),
        sa.Column("updated_at", _when(), nullable=True),
        **TABLE_ARGS,
    )
    op.add_column(
        "auth_request",
        sa.Column("acr_values", _TEXT, nullable=False, server_default=_empty_default()),
    )


def downgrade() -> None:
    with op.batch_alter_table("auth_request") as batch:
        batch.drop_column("acr_values")
    op.drop_table("mfa_state")
