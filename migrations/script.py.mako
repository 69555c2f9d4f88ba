"""${message}

Revision ID: ${up_revision}
Revises: ${down_revision | comma,n}
Create Date: ${create_date}

Write explicit ``op`` calls (no autogenerate at run time). Columns must match
``dex_py/storage/models.py``; ``tests/storage/test_migrations.py`` compares them.

Rolling upgrades: the previous release keeps running against this schema until every replica
is replaced, so it must keep working. A new column is nullable or NOT NULL with a server
default that SQLite, PostgreSQL and MariaDB all accept (e.g. ``server_default=""``, the same
default in models.py); nothing the previous release reads or writes is renamed or dropped
(drop it a release later). ``tests/storage/test_rolling_upgrade.py`` checks every revision.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
${imports if imports else ""}

revision: str = ${repr(up_revision)}
down_revision: str | Sequence[str] | None = ${repr(down_revision)}
branch_labels: str | Sequence[str] | None = ${repr(branch_labels)}
depends_on: str | Sequence[str] | None = ${repr(depends_on)}


def upgrade() -> None:
    ${upgrades if upgrades else "pass"}


def downgrade() -> None:
    ${downgrades if downgrades else "pass"}
