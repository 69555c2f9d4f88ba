"""initial schema: auth requests and codes, refresh tokens, passwords, clients, connectors,
signing keys, revoked access tokens

Revision ID: 0001
Revises:
Create Date: 2026-11-27 00:00:00

Datetimes are naive UTC (``DATETIME(6)`` on MySQL); JSON is text; MySQL tables are InnoDB,
utf8mb4 with a binary (case-sensitive) collation.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
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


def upgrade() -> None:
    op.create_table(
        "auth_request",
        sa.Column("id", key(), primary_key=True),
        sa.Column("client_id", key(), nullable=False),
        sa.Column("response_types", text(), nullable=False),
        sa.Column("scopes", text(), nullable=False),
        sa.Column("redirect_uri", text(), nullable=False),
        sa.Column("state", text(), nullable=False),
        sa.Column("nonce", text(), nullable=False),
        sa.Column("expiry", when(), nullable=False),
        sa.Column("force_approval_prompt", sa.Boolean(), nullable=False),
        sa.Column("logged_in", sa.Boolean(), nullable=False),
        sa.Column("claims", text(), nullable=True),
        sa.Column("connector_id", key(), nullable=False),
        sa.Column("connector_data", blob(), nullable=True),
        sa.Column("pkce", text(), nullable=False),
        sa.Column("browser_binding", key(), nullable=False),
        sa.Column("response_mode", key(), nullable=False),
        sa.Column("prompt", key(), nullable=False),
        sa.Column("max_age", sa.BigInteger(), nullable=True),
        sa.Column("login_hint", text(), nullable=False),
        sa.Column("auth_time", when(), nullable=True),
        **TABLE_ARGS,
    )
    op.create_index("ix_auth_request_expiry", "auth_request", ["expiry"])

    op.create_table(
        "auth_code",
        sa.Column("id", key(), primary_key=True),
        sa.Column("client_id", key(), nullable=False),
        sa.Column("redirect_uri", text(), nullable=False),
        sa.Column("nonce", text(), nullable=False),
        sa.Column("scopes", text(), nullable=False),
        sa.Column("claims", text(), nullable=False),
        sa.Column("connector_id", key(), nullable=False),
        sa.Column("expiry", when(), nullable=False),
        sa.Column("connector_data", blob(), nullable=True),
        sa.Column("pkce", text(), nullable=False),
        sa.Column("auth_time", when(), nullable=True),
        sa.Column("used_at", when(), nullable=True),
        sa.Column("issued_refresh_token_id", key(), nullable=False),
        sa.Column("issued_access_token_id", key(), nullable=False),
        sa.Column("issued_access_token_expiry", when(), nullable=True),
        **TABLE_ARGS,
    )
    op.create_index("ix_auth_code_expiry", "auth_code", ["expiry"])

    op.create_table(
        "refresh_token",
        sa.Column("id", key(), primary_key=True),
        sa.Column("token_hash", key(), nullable=False),
        sa.Column("client_id", key(), nullable=False),
        sa.Column("user_id", key(), nullable=False),
        sa.Column("scopes", text(), nullable=False),
        sa.Column("claims", text(), nullable=False),
        sa.Column("connector_id", key(), nullable=False),
        sa.Column("created_at", when(), nullable=False),
        sa.Column("last_used", when(), nullable=False),
        sa.Column("nonce", text(), nullable=False),
        sa.Column("obsolete_token_hash", key(), nullable=False),
        sa.Column("connector_data", blob(), nullable=True),
        sa.Column("auth_time", when(), nullable=True),
        sa.Column("expiry", when(), nullable=True),
        **TABLE_ARGS,
    )
    op.create_index("ix_refresh_token_client_id", "refresh_token", ["client_id"])
    op.create_index("ix_refresh_token_user_id", "refresh_token", ["user_id"])
    op.create_index("ix_refresh_token_expiry", "refresh_token", ["expiry"])

    op.create_table(
        "password",
        sa.Column("email", key(), primary_key=True),
        sa.Column("hash", sa.LargeBinary(), nullable=False),
        sa.Column("username", key(), nullable=False),
        sa.Column("user_id", key(), nullable=False),
        sa.Column("groups", text(), nullable=False),
        **TABLE_ARGS,
    )
    op.create_index("ix_password_user_id", "password", ["user_id"])

    op.create_table(
        "client",
        sa.Column("id", key(), primary_key=True),
        sa.Column("secret_hash", key(), nullable=False),
        sa.Column("redirect_uris", text(), nullable=False),
        sa.Column("trusted_peers", text(), nullable=False),
        sa.Column("public", sa.Boolean(), nullable=False),
        sa.Column("name", key(), nullable=False),
        sa.Column("logo_url", text(), nullable=False),
        sa.Column("allowed_connectors", text(), nullable=False),
        sa.Column("allowed_groups", text(), nullable=False),
        sa.Column("grant_types", text(), nullable=False),
        sa.Column("post_logout_redirect_uris", text(), nullable=False),
        **TABLE_ARGS,
    )

    op.create_table(
        "connector",
        sa.Column("id", key(), primary_key=True),
        sa.Column("type", key(), nullable=False),
        sa.Column("name", key(), nullable=False),
        sa.Column("config", text(), nullable=False),
        sa.Column("resource_version", key(), nullable=False),
        **TABLE_ARGS,
    )

    op.create_table(
        "keys",
        sa.Column("id", key(), primary_key=True),
        sa.Column("signing_key", text(), nullable=False),
        sa.Column("signing_key_pub", text(), nullable=False),
        sa.Column("verification_keys", text(), nullable=False),
        sa.Column("next_rotation", when(), nullable=False),
        **TABLE_ARGS,
    )

    op.create_table(
        "revoked_access_token",
        sa.Column("jti", key(), primary_key=True),
        sa.Column("expiry", when(), nullable=False),
        **TABLE_ARGS,
    )
    op.create_index("ix_revoked_access_token_expiry", "revoked_access_token", ["expiry"])


def downgrade() -> None:
    for table in (
        "revoked_access_token",
        "keys",
        "connector",
        "client",
        "password",
        "refresh_token",
        "auth_code",
        "auth_request",
    ):
        op.drop_table(table)
