"""``EXPLAIN (ANALYZE, BUFFERS)`` of dex-py's hot queries on the seeded database (``scale.py``).

The statements are not written by hand: they are captured (SQLAlchemy ``before_cursor_execute``)
while an in-process app built from the server's own config answers a password grant with a
client kept in storage, a refresh grant and ``/userinfo``, while storage reads and locks an auth
code and a browser session the way the code flow does, and while garbage collection's batch
statements (``storage.sql_entities.expired_keys`` / ``delete_expired``) run over the expired
backlog. Each distinct statement is then explained with the parameters it ran with, inside a
transaction that is rolled back (``ANALYZE`` executes it; an ``INSERT`` is only planned). A
plan with a ``Seq Scan`` is flagged.
"""

from __future__ import annotations

import base64
import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import sqlalchemy as sa

from dex_py.app import create_app
from dex_py.config.loader import load
from dex_py.storage import models as m
from dex_py.storage import open_storage
from dex_py.storage.sql import SQLStorage
from dex_py.storage.sql_entities import GC_TABLES, delete_expired, expired_keys

Captured = tuple[str, str, dict[str, Any]]  # (step, SQL, parameters)


class Recorder:
    """Every statement run on ``engine``, labelled with the step that ran it."""

    def __init__(self, engine: sa.Engine) -> None:
        self.step = ""
        self.statements: list[Captured] = []
        sa.event.listen(engine, "before_cursor_execute", self._record)

    def _record(self, conn: Any, cursor: Any, statement: str, params: Any, *_: Any) -> None:
        if isinstance(params, dict) and self.step:
            self.statements.append((self.step, statement, dict(params)))

    @contextlib.contextmanager
    def labelled(self, step: str) -> Iterator[None]:
        self.step = step
        try:
            yield
        finally:
            self.step = ""


def capture(config_path: Path, client_id: str, secret: str, email: str, password: str,
            gc_batch: int) -> list[Captured]:  # fmt: skip
    """Run the hot paths once against the database of ``config_path``; return what they ran."""
    config = load(config_path)
    storage = open_storage(config.storage, migrate=False)
    assert isinstance(storage, SQLStorage)
    rec = Recorder(storage.engine)
    try:
        app = create_app(config, storage=storage)
        http = app.test_client()
        basic = "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()
        scope = "openid email offline_access"
        form = {"grant_type": "password", "username": email, "password": password, "scope": scope}
        with rec.labelled("password grant (client and password lookup, new refresh token)"):
            body = http.post("/dex/token", data=form, headers={"Authorization": basic}).json
        if not body or "refresh_token" not in body:
            raise SystemExit(f"EXPLAIN capture: password grant failed: {body}")
        form = {"grant_type": "refresh_token", "refresh_token": body["refresh_token"]}
        with rec.labelled("refresh grant (lock, rotate and update the chain)"):
            refreshed = http.post("/dex/token", data=form, headers={"Authorization": basic})
        if refreshed.status_code != 200:
            raise SystemExit(f"EXPLAIN capture: refresh grant failed: {refreshed.text[:300]}")
        bearer = {"Authorization": f"Bearer {body['access_token']}"}
        with rec.labelled("userinfo (revoked access token lookup)"):
            if http.get("/dex/userinfo", headers=bearer).status_code != 200:
                raise SystemExit("EXPLAIN capture: /userinfo failed")
        with storage.engine.connect() as conn:
            code_id = conn.execute(sa.select(m.auth_code.c.id).limit(1)).scalar_one()
            session_id = conn.execute(sa.select(m.session.c.id).limit(1)).scalar_one()
        with rec.labelled("auth code lookup and redemption lock (code flow)"):
            storage.get_auth_code(code_id)
            storage.update_auth_code(code_id, lambda c: c)
        with rec.labelled("browser session lookup and lock (SSO)"):
            storage.get_session(session_id)
            storage.update_session(session_id, lambda s: s)
        now = datetime.now(UTC)
        gc_step = "garbage collection batch (keys via the expiry index, then DELETE)"
        with rec.labelled(gc_step), storage.engine.connect() as conn, conn.begin() as tx:
            for _, table, key in GC_TABLES:
                keys = list(conn.execute(expired_keys(table, key, now, gc_batch)).scalars())
                if keys:
                    conn.execute(delete_expired(table, key, keys, now))
            tx.rollback()
    finally:
        storage.close()
    return rec.statements


def _distinct(captured: list[Captured]) -> list[Captured]:
    seen: set[str] = set()
    out = []
    for step, sql, params in captured:
        if sql not in seen and not sql.lstrip().upper().startswith(("BEGIN", "COMMIT", "SET")):
            seen.add(sql)
            out.append((step, sql, params))
    return out


def _shown(params: dict[str, Any]) -> str:
    """Parameters, long ones (digests, JSON, key lists) shortened."""
    parts = []
    for name, value in list(params.items())[:6]:
        text = repr(value)
        parts.append(f"{name}={text[:40] + '...' if len(text) > 43 else text}")
    more = f", ... ({len(params)} parameters)" if len(params) > 6 else ""
    return ", ".join(parts) + more


def _cut(line: str, width: int = 400) -> str:
    """A long line (a DELETE of a batch's 2,000 keys, and its plan) shortened."""
    return line if len(line) <= width else line[:width] + f"... ({len(line):,} characters)"


def explain(dsn: str, captured: list[Captured], header: str) -> tuple[str, list[str]]:
    """The EXPLAIN report, and the statements whose plan has a sequential scan."""
    lines, seq_scans = [header, ""], []
    with psycopg.connect(dsn) as conn:
        for step, sql, params in _distinct(captured):
            # an INSERT of values plans nothing worth running (and its row exists already)
            insert = sql.lstrip().upper().startswith("INSERT")
            with conn.cursor() as cur:
                cur.execute(("EXPLAIN " if insert else "EXPLAIN (ANALYZE, BUFFERS) ") + sql, params)
                plan = [row[0] for row in cur.fetchall()]
            conn.rollback()
            if any("Seq Scan" in line for line in plan):
                seq_scans.append(sql)
            lines += [f"-- {step}", f"-- {_cut(' '.join(sql.split()))}"]
            lines += [f"-- parameters: {_shown(params)}", *map(_cut, plan), ""]
    return "\n".join(lines) + "\n", seq_scans
