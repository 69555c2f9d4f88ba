"""tokens: one successor per refresh, retired refresh secrets

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03 00:00:00

Adds two columns to ``refresh_token`` (issue 7, items 7 and 8):

- ``successor_sealed``: the chain's current secret, AES-GCM sealed under a key derived from the
  previous secret, so a retry presenting the previous secret within ``reuseInterval`` gets the
  same successor (never stored in the clear). ``VARCHAR(255) NOT NULL DEFAULT ''``.
- ``retired_token_hashes``: JSON list of the digests of the last rotated-out secrets, so only
  their reuse revokes the chain. Nullable text (MySQL cannot give TEXT a literal default); a
  NULL reads as the empty list.

Rolling upgrade: the previous release neither reads nor writes these columns; its inserts get
the server default / NULL, and a chain it rotates just has no usable sealed successor (a retry
then rotates again, the previous behaviour). Access tokens are linked to their grant through a
claim and the existing ``revoked_access_token`` table, and client-assertion ``jti``s use that
table's unique key, so neither needs a schema change.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "refresh_token",
        sa.Column("successor_sealed", sa.String(255), nullable=False, server_default=""),
    )
    op.add_column(
        "refresh_token",
        sa.Column(
            "retired_token_hashes",
            sa.Text().with_variant(mysql.MEDIUMTEXT(), "mysql", "mariadb"),
            nullable=True,
        ),
    )


def downgrade() -> None:
    with op.batch_alter_table("refresh_token") as batch:
        batch.drop_column("retired_token_hashes")
        batch.drop_column("successor_sealed")
