"""tokens: access tokens linked to their grant, stored jti replay cache

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03 00:00:00

Placeholder reserved for token lifecycle fixes; filled in by that change. Every migration must be safe
for the previous release still running during a rolling upgrade (new columns nullable or
with a server default; nothing the previous release reads or writes renamed or dropped).
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
