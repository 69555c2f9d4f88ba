"""Seeds a dex-py PostgreSQL database for ``scale.py``: users (local ``password`` rows and a
browser session each), clients, refresh tokens (expired: garbage collection's backlog),
revoked access tokens and auth codes, streamed with ``COPY``.

Rows are what dex-py itself writes: each object is a ``dex_py.storage.base`` dataclass encoded
by the storage's own ``Entity.row`` (claims, scopes and lists as its JSON, ids like
``secrets.token_urlsafe(16)``, secrets as SHA-256 hex digests, naive UTC datetimes). The
million refresh tokens vary id, digests, user, client, session and times from one encoded
template per user, which is what makes the seeding take seconds rather than minutes.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import random
import secrets
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from dex_py.clients import secret_digest
from dex_py.storage import models as m
from dex_py.storage.base import AuthCode, Claims, Client, Password, RefreshToken, Session
from dex_py.storage.sql_entities import AUTH_CODE, CLIENT, PASSWORD, REFRESH, SESSION

# One client whose secret the EXPLAIN capture knows (a client looked up in storage, not config).
KNOWN_CLIENT_ID, KNOWN_CLIENT_SECRET = "scale-client-00000", "scale-known-client-secret"
SCOPES = ("openid", "email", "profile", "groups", "offline_access")


@dataclass(frozen=True)
class Sizes:
    tokens: int
    users: int
    clients: int
    revoked: int
    auth_codes: int


def _naive(row: dict[str, Any]) -> dict[str, Any]:
    """Datetimes as the ``UTCDateTime`` column stores them: naive UTC."""
    return {
        k: v.astimezone(UTC).replace(tzinfo=None) if isinstance(v, datetime) else v
        for k, v in row.items()
    }


def _copy(conn: psycopg.Connection[Any], table: Any, rows: Iterable[Any]) -> int:
    """COPY ``rows`` (dicts by column name, or lists in column order) into ``table``."""
    cols = [c.name for c in table.columns]
    quoted = ", ".join(f'"{c}"' for c in cols)
    count = 0
    with conn.cursor() as cur, cur.copy(f"COPY {table.name} ({quoted}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row([row[c] for c in cols] if isinstance(row, dict) else row)
            count += 1
    return count


@contextlib.contextmanager
def _secondary_indexes_rebuilt(conn: psycopg.Connection[Any], table: str) -> Iterator[None]:
    """Load without ``table``'s secondary indexes, then create them again exactly as they were
    (their definitions from ``pg_indexes``): a million rows go in several times faster."""
    rows = conn.execute(
        "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s AND indexname NOT IN "
        "(SELECT conname FROM pg_constraint WHERE contype = 'p')",
        (table,),
    ).fetchall()
    for name, _ in rows:
        conn.execute(f'DROP INDEX "{name}"')
    conn.commit()
    yield
    for _, definition in rows:
        conn.execute(definition)
    conn.commit()


def _user_claims(i: int) -> Claims:
    return Claims(
        user_id=f"{i:08x}-5c1e-4b7a-9f00-{i:012x}",
        username=f"user{i}",
        preferred_username=f"user{i}",
        email=f"user{i}@example.com",
        email_verified=True,
        groups=("staff", f"team-{i % 50}"),
    )


def _clients(n: int) -> Iterator[dict[str, Any]]:
    for i in range(n):
        secret = KNOWN_CLIENT_SECRET if i == 0 else secrets.token_urlsafe(32)
        yield CLIENT.row(
            Client(
                id=f"scale-client-{i:05d}",
                secret_hash=secret_digest(secret),
                redirect_uris=(f"https://app{i}.example.com/callback",),
                name=f"Scale app {i}",
                post_logout_redirect_uris=(f"https://app{i}.example.com/",),
            )
        )


def _users(n: int, password_hash: bytes, now: datetime) -> Iterator[tuple[dict, dict]]:
    """(password row, session row) per user."""
    for i in range(n):
        claims = _user_claims(i)
        password = Password(claims.email, password_hash, claims.username, claims.user_id)
        session = Session(
            id=f"sess{i:08d}" + secrets.token_urlsafe(8),
            secret_hash=hashlib.sha256(secrets.token_bytes(32)).hexdigest(),
            claims=claims,
            connector_id="local",
            auth_time=now - timedelta(hours=1),
            created_at=now - timedelta(hours=1),
            last_active=now - timedelta(minutes=5),
            expiry=now + timedelta(hours=23),
            clients=(f"scale-client-{i % 10:05d}",),
        )
        yield _naive(PASSWORD.row(password)), _naive(SESSION.row(session))


_PLACEHOLDERS = Claims("@UID@", "@NAME@", "@NAME@", "@NAME@@example.com", True, ("staff", "@TEAM@"))


def _claims_json(i: int, template: str) -> str:
    """``_user_claims(i)`` as ``RowCodec`` encodes it, from the encoding of ``_PLACEHOLDERS``."""
    uid, name, team = _user_claims(i).user_id, f"user{i}", f"team-{i % 50}"
    return template.replace("@UID@", uid).replace("@NAME@", name).replace("@TEAM@", team)


def _refresh_tokens(sizes: Sizes, sessions: list[str], now: datetime) -> Iterator[list[Any]]:
    """``sizes.tokens`` chains, all expired, as rows in ``refresh_token``'s column order."""
    rng = random.Random(9)
    cols = [c.name for c in m.refresh_token.columns]
    at = {name: i for i, name in enumerate(cols)}
    sample = RefreshToken(
        id="",
        token_hash="",
        client_id="",
        scopes=SCOPES,
        claims=_PLACEHOLDERS,
        connector_id="local",
        created_at=now,
        last_used=now,
    )
    base = _naive(REFRESH.row(sample))
    claims0 = base["claims"]
    for u in (0, 1, 12345, sizes.users - 1):  # the shortcut encodes exactly as the storage does
        want = REFRESH.row(replace(sample, claims=_user_claims(u)))["claims"]
        assert _claims_json(u, claims0) == want, (u, want)
    template = [base[c] for c in cols]
    users = [(_claims_json(u, claims0), _user_claims(u).user_id) for u in range(sizes.users)]
    i_id, i_hash, i_obsolete, i_retired, i_sealed, i_claims, i_user, i_session, i_client = (
        at[c] for c in ("id", "token_hash", "obsolete_token_hash", "retired_token_hashes",
                        "successor_sealed", "claims", "user_id", "session_id", "client_id")
    )  # fmt: skip
    i_created, i_used, i_auth, i_expiry = (
        at[c] for c in ("created_at", "last_used", "auth_time", "expiry")
    )
    naive_now = now.astimezone(UTC).replace(tzinfo=None)
    b64, randrange, urandom = base64.urlsafe_b64encode, rng.randrange, os.urandom
    day, second = timedelta(days=1), timedelta(seconds=1)
    # Rows go in roughly in expiry order, as a real table fills: a chain created earlier
    # (and not used since) expires earlier. Expiries from 30 days to a minute ago.
    oldest, span = naive_now - 30 * day, (30 * 86400 - 3600) / sizes.tokens
    for n in range(sizes.tokens):
        raw = urandom(16 + 3 * 32 + 54)
        u = randrange(sizes.users)
        expiry = oldest + (n * span + randrange(0, 3600)) * second
        last_used = expiry - 30 * day
        row = template.copy()
        row[i_id] = b64(raw[:16]).rstrip(b"=").decode()  # secrets.token_urlsafe(16)
        row[i_hash] = raw[16:48].hex()  # the shape of a SHA-256 hex digest
        row[i_obsolete] = raw[48:80].hex()
        row[i_retired] = f'["{raw[80:112].hex()}"]'
        row[i_sealed] = b64(raw[112:]).decode()  # nonce, sealed secret and tag
        row[i_claims], row[i_user] = users[u]
        row[i_session] = sessions[u]
        row[i_client] = f"scale-client-{randrange(sizes.clients):05d}"
        row[i_created] = row[i_auth] = last_used - randrange(0, 60) * day
        row[i_used] = last_used
        row[i_expiry] = expiry
        yield row


def _auth_codes(n: int, now: datetime) -> Iterator[dict[str, Any]]:
    for i in range(n):
        yield _naive(
            AUTH_CODE.row(
                AuthCode(
                    id=secrets.token_urlsafe(16),
                    client_id=f"scale-client-{i % 100:05d}",
                    redirect_uri=f"https://app{i % 100}.example.com/callback",
                    nonce=secrets.token_urlsafe(8),
                    scopes=SCOPES,
                    claims=_user_claims(i),
                    connector_id="local",
                    expiry=now + timedelta(minutes=10),
                )
            )
        )


def seed(dsn: str, sizes: Sizes, password_hash: bytes) -> dict[str, float]:
    """Fill the (migrated) database at ``dsn``; returns seconds per table."""
    now = datetime.now(UTC)
    took: dict[str, float] = {}
    with psycopg.connect(dsn) as conn:

        def timed(name: str, table: Any, rows: Iterable[Any]) -> None:
            start = time.monotonic()
            _copy(conn, table, rows)
            conn.commit()
            took[name] = time.monotonic() - start

        timed("client", m.client, _clients(sizes.clients))
        users = list(_users(sizes.users, password_hash, now))
        timed("password", m.password, (p for p, _ in users))
        timed("session", m.session, (s for _, s in users))
        sessions = [s["id"] for _, s in users]
        del users
        with _secondary_indexes_rebuilt(conn, "refresh_token"):
            timed("refresh_token", m.refresh_token, _refresh_tokens(sizes, sessions, now))
        revoked = (
            {"jti": secrets.token_urlsafe(16), "expiry": (now + timedelta(hours=1)).replace(
                tzinfo=None)}
            for _ in range(sizes.revoked)
        )  # fmt: skip
        timed("revoked_access_token", m.revoked_access_token, revoked)
        timed("auth_code", m.auth_code, _auth_codes(sizes.auth_codes, now))
    with psycopg.connect(dsn, autocommit=True) as conn:
        start = time.monotonic()
        conn.execute("VACUUM ANALYZE")
        took["vacuum analyze"] = time.monotonic() - start
    return took


def known_user(i: int = 0) -> Claims:
    """The claims of seeded user ``i`` (its password is the bench's ``PASSWORD``)."""
    return _user_claims(i)


__all__ = ["KNOWN_CLIENT_ID", "KNOWN_CLIENT_SECRET", "Sizes", "known_user", "seed"]
