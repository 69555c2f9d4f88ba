"""Revision 0005 (sealed refresh successor, retired refresh secrets) and the previous release:
during a rolling upgrade, code that does not know the new columns still inserts and rotates
refresh tokens in the new schema, and the new code reads those rows with the defaults. The
downgrade to 0004 keeps the chains."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest
import sqlalchemy as sa
from alembic import command

from dex_py.config import StorageConfig
from dex_py.storage import migrate, open_storage
from dex_py.storage import models as m
from dex_py.storage.base import RefreshToken
from dex_py.storage.codec import RowCodec
from dex_py.storage.engine import make_engine
from tests.storage import factories as f
from tests.storage.conftest import SQL_BACKENDS
from tests.storage.test_migration_0002 import alembic_at, revision_of

NEW_COLUMNS = ("successor_sealed", "retired_token_hashes")


def previous_release_row(token: RefreshToken) -> dict[str, object]:
    """The row the 0004 code writes: every column but the ones 0005 adds."""
    row = RowCodec(RefreshToken).encode(token) | {"user_id": token.claims.user_id}
    return {k: v for k, v in row.items() if k not in NEW_COLUMNS}


@pytest.mark.parametrize("kind", SQL_BACKENDS)
def test_previous_release_writes_refresh_tokens_in_the_new_schema(
    kind: str, fresh_config: Callable[[str], StorageConfig]
) -> None:
    cfg = fresh_config(kind)
    storage = open_storage(cfg)
    engine = make_engine(cfg)
    token = f.refresh_token()
    rotated = replace(token, token_hash="d" * 64, obsolete_token_hash=token.token_hash)
    try:
        rt = m.refresh_token
        with engine.begin() as conn:
            conn.execute(rt.insert(), previous_release_row(token))
        expected = replace(token, successor_sealed="", retired_token_hashes=())
        assert storage.get_refresh_token(token.id) == expected
        with engine.begin() as conn:  # the previous release rotates it
            conn.execute(rt.update().where(rt.c.id == token.id), previous_release_row(rotated))
        assert storage.get_refresh_token(token.id) == replace(
            rotated, successor_sealed="", retired_token_hashes=()
        )
    finally:
        engine.dispose()
        storage.close()


@pytest.mark.parametrize("kind", SQL_BACKENDS)
def test_downgrade_to_0004_and_back_keeps_refresh_tokens(
    kind: str, fresh_config: Callable[[str], StorageConfig]
) -> None:
    cfg = fresh_config(kind)
    storage = open_storage(cfg)
    token = f.refresh_token()
    storage.create_refresh_token(token)
    storage.close()
    engine = make_engine(cfg)
    try:
        with alembic_at(engine) as acfg:
            command.downgrade(acfg, "0004")
        assert revision_of(engine) == "0004"
        columns = {c["name"] for c in sa.inspect(engine).get_columns("refresh_token")}
        assert not columns & set(NEW_COLUMNS)
        migrate.upgrade(cfg)
    finally:
        engine.dispose()
    storage = open_storage(cfg, migrate=False)
    try:
        expected = replace(token, successor_sealed="", retired_token_hashes=())
        assert storage.get_refresh_token(token.id) == expected
    finally:
        storage.close()
