"""consent per scope: scopes approved per client in a session; approval skipped per client

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03 00:00:00

Adds to ``session`` the scopes the user approved, per client (``approvals``, JSON), and the
connector scopes its identity was fetched with (``connector_scopes``, JSON), both nullable: the
previous release, still running during a rolling upgrade, inserts sessions without them, and
the new code reads NULL as "nothing approved / fetched with no connector scopes" (so the user is
asked again, never silently given more). Adds ``client.skip_approval`` NOT NULL with the server
default false, so the previous release's client inserts keep working. Nothing is renamed or
dropped; ``approved_clients`` stays and is still written.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SESSION_COLUMNS = ("approvals", "connector_scopes")


def text() -> sa.types.TypeEngine:
    return sa.Text().with_variant(mysql.MEDIUMTEXT(), "mysql", "mariadb")


def upgrade() -> None:
    for name in SESSION_COLUMNS:
        op.add_column("session", sa.Column(name, text(), nullable=True))
    op.add_column(
        "client",
        sa.Column("skip_approval", sa.Boolean(), nullable=False, server_default=sa.false()),
    )


def downgrade() -> None:
    with op.batch_alter_table("client") as batch:
        batch.drop_column("skip_approval")
    with op.batch_alter_table("session") as batch:
        for name in reversed(SESSION_COLUMNS):
            batch.drop_column(name)
