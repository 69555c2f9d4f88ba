"""Refresh token updates on PostgreSQL without the row lock (``_update_optimistic``): a read,
then one ``UPDATE`` that only matches while the columns it changes still hold what was read.

Each test has a second writer change the row between the read and the write (``fn`` runs
outside any lock there, so the writer goes through on another pooled connection)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta

import pytest
import sqlalchemy as sa

from dex_py.storage.base import RefreshToken
from dex_py.storage.sql import SQLStorage
from dex_py.storage.sql_transactions import SWAP_ATTEMPTS
from tests.storage import factories as f

pytestmark = pytest.mark.postgres


def _rotated(t: RefreshToken, secret: str) -> RefreshToken:
    return replace(
        t,
        token_hash=secret,
        obsolete_token_hash=t.token_hash,
        last_used=t.last_used + timedelta(seconds=1),
    )


def _update_with_writes_in_between(
    pg: SQLStorage,
    token_id: str,
    fn: Callable[[RefreshToken], RefreshToken],
    meanwhile: Callable[[int], Callable[[RefreshToken], RefreshToken]],
    times: int = 1,
) -> tuple[RefreshToken, list[RefreshToken]]:
    """``pg.update_refresh_token(token_id, fn)`` while another writer applies
    ``meanwhile(n)`` after each of the first ``times`` reads; returns the result and what
    ``fn`` saw, call by call."""
    seen: list[RefreshToken] = []

    def judged(old: RefreshToken) -> RefreshToken:
        seen.append(old)
        if len(seen) <= times:
            pg.update_refresh_token(token_id, meanwhile(len(seen)))
        return fn(old)

    return pg.update_refresh_token(token_id, judged), seen


def test_a_write_in_between_makes_fn_judge_again_on_what_it_wrote(pg: SQLStorage) -> None:
    token = f.refresh_token()
    pg.create_refresh_token(token)
    result, seen = _update_with_writes_in_between(
        pg,
        token.id,
        lambda old: _rotated(old, old.token_hash + "-next"),
        lambda _: lambda t: _rotated(t, "winner"),
    )
    assert [t.token_hash for t in seen] == [token.token_hash, "winner"]
    assert result.token_hash == "winner-next" and result.obsolete_token_hash == "winner"
    assert pg.get_refresh_token(token.id) == result


def test_a_column_changed_meanwhile_but_not_by_fn_is_kept(pg: SQLStorage) -> None:
    token = f.refresh_token()
    pg.create_refresh_token(token)
    renamed = f.claims(user_id=token.claims.user_id, username="renamed")
    result, seen = _update_with_writes_in_between(
        pg,
        token.id,
        lambda old: _rotated(old, "next"),
        lambda _: lambda t: replace(t, claims=renamed),
    )
    assert len(seen) == 1  # the claims are not among the columns the rotation writes
    assert result.claims == renamed and result.token_hash == "next"
    assert pg.get_refresh_token(token.id) == result


def test_null_columns_are_compared_too(pg: SQLStorage) -> None:
    token = f.refresh_token(expiry=None)
    pg.create_refresh_token(token)
    day = token.last_used + timedelta(days=1)
    result, seen = _update_with_writes_in_between(
        pg,
        token.id,
        lambda old: replace(old, expiry=old.expiry or day + timedelta(days=1)),
        lambda _: lambda t: replace(t, expiry=day),
    )
    assert len(seen) == 2 and result.expiry == day  # judged again: an expiry was set meanwhile


def test_a_row_that_keeps_changing_is_updated_under_the_lock(pg: SQLStorage) -> None:
    token = f.refresh_token()
    pg.create_refresh_token(token)
    result, seen = _update_with_writes_in_between(
        pg,
        token.id,
        lambda old: _rotated(old, "mine"),
        lambda n: lambda t: _rotated(t, f"other-{n}"),
        times=SWAP_ATTEMPTS,
    )
    assert len(seen) == SWAP_ATTEMPTS + 1  # the last time under the lock, with no writer
    assert result.obsolete_token_hash == f"other-{SWAP_ATTEMPTS}"
    assert pg.get_refresh_token(token.id) == result


def test_a_rotation_is_two_statements_without_a_transaction(pg: SQLStorage) -> None:
    token = f.refresh_token()
    pg.create_refresh_token(token)
    sent: list[str] = []

    def record(conn: object, cursor: object, statement: str, *rest: object) -> None:
        sent.append(statement)

    sa.event.listen(sa.Engine, "before_cursor_execute", record)  # every engine of the storage
    try:
        pg.update_refresh_token(token.id, lambda t: _rotated(t, "next"))
    finally:
        sa.event.remove(sa.Engine, "before_cursor_execute", record)
    assert [s.split()[0] for s in sent] == ["SELECT", "UPDATE"]
    assert "FOR UPDATE" not in sent[0]
