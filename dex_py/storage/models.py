"""SQLAlchemy Core tables of the SQL storage backends (SQLite, PostgreSQL, MySQL/MariaDB).

One ``metadata`` holds every table; alembic's ``alembic_version`` is managed by alembic itself.
Column names are the field names of the dataclasses in ``storage.base`` (``storage.codec`` maps
between them); nested values (claims, PKCE, lists, connector config) are JSON text, bytes are
``LargeBinary``. The schema is created by the migrations in ``migrations/versions``, never by
``metadata.create_all``; ``tests/storage`` checks that both agree, server defaults included.
A column added after the first release is nullable or has a server default, so the release
before it can still insert rows during a rolling upgrade (``tests/storage/test_rolling_upgrade``).

Datetimes are stored as naive UTC (``UTCDateTime``) and always come back timezone-aware UTC, so
a database without time zones (MySQL ``DATETIME``) and a session time zone cannot shift them.
MySQL gets microsecond precision (``DATETIME(6)``), utf8mb4 and a binary collation, so ids that
differ only in case stay distinct, as they do on the other databases.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import mysql
from sqlalchemy.engine import Dialect

KEYS_ROW_ID = "keys"

# MySQL: utf8mb4 so any Unicode fits; binary collation so keys compare case-sensitively.
MYSQL_TABLE_ARGS: dict[str, Any] = {
    "mysql_engine": "InnoDB",
    "mysql_charset": "utf8mb4",
    "mysql_collate": "utf8mb4_bin",
    "mariadb_engine": "InnoDB",
    "mariadb_charset": "utf8mb4",
    "mariadb_collate": "utf8mb4_bin",
}


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """A datetime stored as naive UTC and returned aware UTC.

    Binding a naive datetime is refused: every datetime in dex-py is aware, and guessing a zone
    for a naive one would silently shift expiries.
    """

    impl = sa.DateTime
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> sa.types.TypeEngine[Any]:
        if dialect.name in ("mysql", "mariadb"):
            return dialect.type_descriptor(mysql.DATETIME(fsp=6))
        return dialect.type_descriptor(sa.DateTime(timezone=False))

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r} given to storage; use an aware UTC one")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is not None:  # a driver that returned it aware anyway
            return value.astimezone(UTC)
        return value.replace(tzinfo=UTC)


def _key() -> sa.String:
    """A key or indexed string: VARCHAR(255) fits a MySQL utf8mb4 index."""
    return sa.String(255)


# Long free text and JSON: MEDIUMTEXT on MySQL (TEXT stops at 64 KiB).
LongText = sa.Text().with_variant(mysql.MEDIUMTEXT(), "mysql", "mariadb")
# Opaque connector data: MEDIUMBLOB on MySQL (BLOB stops at 64 KiB).
Blob = sa.LargeBinary().with_variant(mysql.MEDIUMBLOB(), "mysql", "mariadb")

# The server default of text columns added after the first release: '' (the dataclass default).
EMPTY = sa.text("''")
FALSE = sa.text("'0'")  # a boolean's default as every backend reflects it (PostgreSQL: false)

metadata = sa.MetaData()

auth_request = sa.Table(
    "auth_request",
    metadata,
    sa.Column("id", _key(), primary_key=True),
    sa.Column("client_id", _key(), nullable=False),
    sa.Column("response_types", LongText, nullable=False),
    sa.Column("scopes", LongText, nullable=False),
    sa.Column("redirect_uri", LongText, nullable=False),
    sa.Column("state", LongText, nullable=False),
    sa.Column("nonce", LongText, nullable=False),
    sa.Column("expiry", UTCDateTime(), nullable=False, index=True),
    sa.Column("force_approval_prompt", sa.Boolean(), nullable=False),
    sa.Column("logged_in", sa.Boolean(), nullable=False),
    sa.Column("claims", LongText, nullable=True),
    sa.Column("connector_id", _key(), nullable=False),
    sa.Column("connector_data", Blob, nullable=True),
    sa.Column("pkce", LongText, nullable=False),
    sa.Column("browser_binding", _key(), nullable=False),
    sa.Column("response_mode", _key(), nullable=False),
    sa.Column("prompt", _key(), nullable=False),
    sa.Column("max_age", sa.BigInteger(), nullable=True),
    sa.Column("login_hint", LongText, nullable=False),
    sa.Column("auth_time", UTCDateTime(), nullable=True),
    sa.Column("session_id", _key(), nullable=False, server_default=EMPTY),
    # 0007: OIDC acr_values as requested
    sa.Column("acr_values", LongText, nullable=False, server_default=EMPTY),
    **MYSQL_TABLE_ARGS,
)

auth_code = sa.Table(
    "auth_code",
    metadata,
    sa.Column("id", _key(), primary_key=True),
    sa.Column("client_id", _key(), nullable=False),
    sa.Column("redirect_uri", LongText, nullable=False),
    sa.Column("nonce", LongText, nullable=False),
    sa.Column("scopes", LongText, nullable=False),
    sa.Column("claims", LongText, nullable=False),
    sa.Column("connector_id", _key(), nullable=False),
    sa.Column("expiry", UTCDateTime(), nullable=False, index=True),
    sa.Column("connector_data", Blob, nullable=True),
    sa.Column("pkce", LongText, nullable=False),
    sa.Column("auth_time", UTCDateTime(), nullable=True),
    sa.Column("used_at", UTCDateTime(), nullable=True),
    sa.Column("issued_refresh_token_id", _key(), nullable=False),
    sa.Column("issued_access_token_id", _key(), nullable=False),
    sa.Column("issued_access_token_expiry", UTCDateTime(), nullable=True),
    sa.Column("session_id", _key(), nullable=False, server_default=EMPTY),
    **MYSQL_TABLE_ARGS,
)

refresh_token = sa.Table(
    "refresh_token",
    metadata,
    sa.Column("id", _key(), primary_key=True),
    sa.Column("token_hash", _key(), nullable=False),
    sa.Column("client_id", _key(), nullable=False, index=True),
    # Copy of claims.user_id, so tokens can be listed per user.
    sa.Column("user_id", _key(), nullable=False, index=True),
    sa.Column("scopes", LongText, nullable=False),
    sa.Column("claims", LongText, nullable=False),
    sa.Column("connector_id", _key(), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("last_used", UTCDateTime(), nullable=False),
    sa.Column("nonce", LongText, nullable=False),
    sa.Column("obsolete_token_hash", _key(), nullable=False),
    sa.Column("connector_data", Blob, nullable=True),
    sa.Column("auth_time", UTCDateTime(), nullable=True),
    sa.Column("expiry", UTCDateTime(), nullable=True, index=True),
    sa.Column("session_id", _key(), nullable=False, server_default=EMPTY),
    # 0005; server default and NULL so the previous release can still insert rows
    sa.Column("successor_sealed", _key(), nullable=False, server_default=EMPTY),
    sa.Column("retired_token_hashes", LongText, nullable=True),
    **MYSQL_TABLE_ARGS,
)

password = sa.Table(
    "password",
    metadata,
    sa.Column("email", _key(), primary_key=True),
    sa.Column("hash", sa.LargeBinary(), nullable=False),
    sa.Column("username", _key(), nullable=False),
    sa.Column("user_id", _key(), nullable=False, index=True),
    sa.Column("groups", LongText, nullable=False),
    **MYSQL_TABLE_ARGS,
)

client = sa.Table(
    "client",
    metadata,
    sa.Column("id", _key(), primary_key=True),
    sa.Column("secret_hash", _key(), nullable=False),
    sa.Column("redirect_uris", LongText, nullable=False),
    sa.Column("trusted_peers", LongText, nullable=False),
    sa.Column("public", sa.Boolean(), nullable=False),
    sa.Column("name", _key(), nullable=False),
    sa.Column("logo_url", LongText, nullable=False),
    sa.Column("allowed_connectors", LongText, nullable=False),
    sa.Column("allowed_groups", LongText, nullable=False),
    sa.Column("grant_types", LongText, nullable=False),
    sa.Column("post_logout_redirect_uris", LongText, nullable=False),
    sa.Column("token_endpoint_auth_method", _key(), nullable=False, server_default=EMPTY),
    sa.Column("jwks", LongText, nullable=False, server_default=EMPTY),
    sa.Column("jwks_uri", LongText, nullable=False, server_default=EMPTY),
    sa.Column("backchannel_logout_uri", LongText, nullable=False, server_default=EMPTY),
    sa.Column("skip_approval", sa.Boolean(), nullable=False, server_default=FALSE),
    # 0009: secret rotation (the replaced secret's digest, accepted until its expiry)
    sa.Column("previous_secret_hash", _key(), nullable=False, server_default=EMPTY),
    sa.Column("previous_secret_expiry", UTCDateTime(), nullable=True),
    **MYSQL_TABLE_ARGS,
)

connector = sa.Table(
    "connector",
    metadata,
    sa.Column("id", _key(), primary_key=True),
    sa.Column("type", _key(), nullable=False),
    sa.Column("name", _key(), nullable=False),
    sa.Column("config", LongText, nullable=False),
    sa.Column("resource_version", _key(), nullable=False),
    **MYSQL_TABLE_ARGS,
)

keys = sa.Table(
    "keys",
    metadata,
    sa.Column("id", _key(), primary_key=True),  # always KEYS_ROW_ID: one row
    sa.Column("signing_key", LongText, nullable=False),
    sa.Column("signing_key_pub", LongText, nullable=False),
    sa.Column("verification_keys", LongText, nullable=False),
    sa.Column("next_rotation", UTCDateTime(), nullable=False),
    **MYSQL_TABLE_ARGS,
)

revoked_access_token = sa.Table(
    "revoked_access_token",
    metadata,
    sa.Column("jti", _key(), primary_key=True),
    sa.Column("expiry", UTCDateTime(), nullable=False, index=True),
    **MYSQL_TABLE_ARGS,
)

session = sa.Table(
    "session",
    metadata,
    sa.Column("id", _key(), primary_key=True),
    sa.Column("secret_hash", _key(), nullable=False),
    # Copy of claims.user_id, so sessions can be listed (and ended) per user.
    sa.Column("user_id", _key(), nullable=False, index=True),
    sa.Column("claims", LongText, nullable=False),
    sa.Column("connector_id", _key(), nullable=False),
    sa.Column("auth_time", UTCDateTime(), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("last_active", UTCDateTime(), nullable=False),
    sa.Column("expiry", UTCDateTime(), nullable=False, index=True),
    sa.Column("connector_data", Blob, nullable=True),
    sa.Column("clients", LongText, nullable=False),
    sa.Column("approved_clients", LongText, nullable=False),
    # Nullable: rows written by the release before 0004 have none (read back as empty).
    sa.Column("approvals", LongText, nullable=True),
    sa.Column("connector_scopes", LongText, nullable=True),
    **MYSQL_TABLE_ARGS,
)

logout_event = sa.Table(
    "logout_event",
    metadata,
    sa.Column("id", _key(), primary_key=True),
    sa.Column("client_id", _key(), nullable=False),
    sa.Column("uri", LongText, nullable=False),
    sa.Column("sid", _key(), nullable=False),
    sa.Column("sub", LongText, nullable=False),  # Dex's encoded sub can outgrow 255 characters
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("status", _key(), nullable=False),
    sa.Column("attempts", sa.Integer(), nullable=False),
    sa.Column("next_attempt", UTCDateTime(), nullable=True),
    sa.Column("last_error", LongText, nullable=False),
    # The delivery queue's query: pending events due by now, oldest due first.
    sa.Index("ix_logout_event_status_next_attempt", "status", "next_attempt"),
    **MYSQL_TABLE_ARGS,
)

# 0006: the device flow (RFC 8628). ``id`` is the SHA-256 of the device code.
device_request = sa.Table(
    "device_request",
    metadata,
    sa.Column("id", _key(), primary_key=True),
    sa.Column("user_code", _key(), nullable=False),
    sa.Column("client_id", _key(), nullable=False),
    sa.Column("scopes", LongText, nullable=False),
    sa.Column("expiry", UTCDateTime(), nullable=False, index=True),
    sa.Column("interval", sa.Integer(), nullable=False),
    sa.Column("last_poll", UTCDateTime(), nullable=True),
    sa.Column("status", _key(), nullable=False),
    sa.Column("state_hash", _key(), nullable=False),
    sa.Column("claims", LongText, nullable=True),
    sa.Column("connector_id", _key(), nullable=False),
    sa.Column("connector_data", Blob, nullable=True),
    sa.Column("auth_time", UTCDateTime(), nullable=True),
    sa.Column("session_id", _key(), nullable=False),
    sa.Column("nonce", _key(), nullable=False),
    sa.UniqueConstraint("user_code", name="uq_device_request_user_code"),
    **MYSQL_TABLE_ARGS,
)

# 0006: rate-limit counters shared by every process (wrong user codes, per browser and address)
attempt_counter = sa.Table(
    "attempt_counter",
    metadata,
    sa.Column("id", _key(), primary_key=True),
    sa.Column("count", sa.Integer(), nullable=False),
    sa.Column("expiry", UTCDateTime(), nullable=False, index=True),
    **MYSQL_TABLE_ARGS,
)

# 0007: each user's second factors (dex_py.mfa), keyed by the user's sub
mfa_state = sa.Table(
    "mfa_state",
    metadata,
    sa.Column("id", _key(), primary_key=True),
    sa.Column("totp_secret", _key(), nullable=False),
    sa.Column("totp_confirmed", sa.Boolean(), nullable=False),
    sa.Column("totp_last_step", sa.BigInteger(), nullable=False),
    sa.Column("webauthn_credentials", LongText, nullable=False),
    sa.Column("recovery_code_hashes", LongText, nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=True),
    **MYSQL_TABLE_ARGS,
)

# 0009: runtime-managed objects. ``change_counter`` holds one row (``COUNTER_ROW_ID``) that
# every change to clients, connectors, passwords or settings increments, so other processes
# notice; ``setting`` holds small JSON values (stored team rules) with a version.
COUNTER_ROW_ID = "objects"
change_counter = sa.Table(
    "change_counter",
    metadata,
    sa.Column("id", _key(), primary_key=True),
    sa.Column("value", sa.BigInteger(), nullable=False),
    **MYSQL_TABLE_ARGS,
)

setting = sa.Table(
    "setting",
    metadata,
    sa.Column("id", _key(), primary_key=True),
    sa.Column("value", LongText, nullable=False),  # JSON
    sa.Column("version", sa.BigInteger(), nullable=False),
    **MYSQL_TABLE_ARGS,
)


# 0008: the audit log (security events and admin changes), listed newest first, by event or actor.
audit_record = sa.Table(
    "audit_record",
    metadata,
    sa.Column("id", _key(), primary_key=True),
    sa.Column("time", UTCDateTime(), nullable=False),
    sa.Column("event", _key(), nullable=False),
    sa.Column("outcome", _key(), nullable=False),
    sa.Column("actor", LongText, nullable=False),
    sa.Column("object", LongText, nullable=False),
    sa.Column("client", LongText, nullable=False),
    sa.Column("connector", LongText, nullable=False),
    sa.Column("ip", _key(), nullable=False),
    sa.Column("details", LongText, nullable=False),
    sa.Index("ix_audit_record_time", "time"),
    sa.Index("ix_audit_record_event_time", "event", "time"),
    **MYSQL_TABLE_ARGS,
)

ALL_TABLES: tuple[sa.Table, ...] = (
    auth_request,
    auth_code,
    refresh_token,
    password,
    client,
    connector,
    keys,
    revoked_access_token,
    session,
    logout_event,
    device_request,
    attempt_counter,
    mfa_state,
    change_counter,
    setting,
    audit_record,
)
