"""consent per scope: scopes approved per client in a session

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03 00:00:00

Placeholder reserved for consent per scope; filled in by that change. Every migration must be safe
for the previous release still running during a rolling upgrade (new columns nullable or
with a server default; nothing the previous release reads or writes renamed or dropped).
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
