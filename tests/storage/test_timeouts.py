"""Database timeouts (``dex_py.storage.timeouts``): settings and their validation, the session
settings every pooled connection gets, and a server that stops answering (SIGSTOP) making
storage calls fail within the timeouts instead of hanging, then recovering once it is back."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from dex_py.config import StorageConfig
from dex_py.storage import (
    StorageConfigError,
    StorageError,
    engine_url_for,
    make_engine,
    open_storage,
)
from dex_py.storage import models as m
from dex_py.storage.sql import SQLStorage
from dex_py.storage.timeouts import CLIENT_MARGIN, DEFAULTS
from tests.storage import factories as f
from tests.storage.conftest import SQL_BACKENDS
from tests.storage.own_db import OwnServer

NETWORK_BACKENDS = [b for b in SQL_BACKENDS if "sqlite" not in str(b)]
# Far above the timeouts below (1 s each, 3 s client deadline): only a hang reaches it.
HANG = 60.0


def test_defaults_are_set() -> None:
    url = engine_url_for(StorageConfig("postgres", {"host": "db", "database": "d"}))
    assert url.query["connect_timeout"] == str(DEFAULTS.connect)
    assert DEFAULTS.connect and DEFAULTS.statement and DEFAULTS.pool and DEFAULTS.busy
    engine = make_engine(StorageConfig("mysql", {"host": "db", "database": "d"}))
    try:
        assert engine.pool.timeout() == DEFAULTS.pool
    finally:
        engine.dispose()


def test_connect_timeout_of_a_url_is_kept() -> None:
    for conf in (
        {"url": "postgres://u@db/d?connect_timeout=17"},
        {"dsn": "host=db dbname=d connect_timeout=17"},
    ):
        assert engine_url_for(StorageConfig("postgres", conf)).query["connect_timeout"] == "17"
    conf = {"url": "postgres://u@db/d?connect_timeout=17", "connectionTimeout": 3}
    assert engine_url_for(StorageConfig("postgres", conf)).query["connect_timeout"] == "3"


def test_settings_and_zero_turns_off() -> None:
    conf = {"host": "db", "database": "d", "connectionTimeout": 0, "poolTimeout": 7}
    assert "connect_timeout" not in engine_url_for(StorageConfig("postgres", conf)).query
    engine = make_engine(StorageConfig("postgres", conf))
    try:
        assert engine.pool.timeout() == 7
    finally:
        engine.dispose()


@pytest.mark.parametrize("kind", ["postgres", "mysql", "sqlite3"])
def test_bad_timeouts_are_errors_with_key_paths(kind: str) -> None:
    bad = {"connectionTimeout": "soon", "statementTimeout": -1, "poolTimeout": 1.5}
    conf: dict[str, Any] = {"host": "db", "database": "d", "file": "x.db"}
    if kind == "sqlite3":
        bad = {"busyTimeout": "soon"}
    with pytest.raises(StorageConfigError) as info:
        engine_url_for(StorageConfig(kind, conf | bad))
    assert {path for path, _ in info.value.errors} == {f"storage.config.{k}" for k in bad}


def _session_timeout(conn: sa.Connection) -> float:
    """The server-side statement timeout of this session, in seconds."""
    if conn.dialect.name == "postgresql":
        return int(conn.exec_driver_sql("SHOW statement_timeout").scalar_one().rstrip("s"))
    if "mariadb" in str(conn.exec_driver_sql("SELECT VERSION()").scalar_one()).lower():
        return float(conn.exec_driver_sql("SELECT @@SESSION.max_statement_time").scalar_one())
    return int(conn.exec_driver_sql("SELECT @@SESSION.max_execution_time").scalar_one()) / 1000


@pytest.mark.parametrize("kind", NETWORK_BACKENDS)
def test_every_pooled_connection_has_the_statement_timeout(
    kind: str, fresh_config: Callable[[str], StorageConfig]
) -> None:
    cfg = fresh_config(kind)
    cfg = StorageConfig(cfg.type, cfg.config | {"statementTimeout": 3, "maxOpenConns": 3})
    storage = open_storage(cfg)  # migrates first, with its timeouts off
    assert isinstance(storage, SQLStorage)
    try:
        conns = [storage.engine.connect() for _ in range(3)]
        assert [_session_timeout(c) for c in conns] == [3, 3, 3]
        for c in conns:
            c.close()
    finally:
        storage.close()


@pytest.mark.parametrize("kind", NETWORK_BACKENDS)
def test_slow_statement_is_cancelled_by_the_server(
    kind: str, fresh_config: Callable[[str], StorageConfig]
) -> None:
    cfg = fresh_config(kind)
    storage = open_storage(StorageConfig(cfg.type, cfg.config | {"statementTimeout": 1}))
    assert isinstance(storage, SQLStorage)
    sleep = "SELECT pg_sleep(30)" if kind == "postgres" else "SELECT SLEEP(30) FROM DUAL"
    try:
        with storage.engine.connect() as conn:
            result = _bounded(lambda: conn.exec_driver_sql(sleep).all())
        assert isinstance(result, sa.exc.OperationalError), result  # (MySQL would return 1)
        storage.ping()  # the connection survived and the pool is fine
    finally:
        storage.close()


def _bounded(call: Callable[[], Any]) -> Any:
    """Run ``call`` in a thread; return its result or exception. Fails if it is still running
    after ``HANG`` seconds (the timeouts under test are a few seconds)."""
    outcome: list[Any] = []

    def run() -> None:
        try:
            outcome.append(call())
        except Exception as exc:
            outcome.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(HANG)
    assert not thread.is_alive(), "storage call hung on a paused database"
    return outcome[0]


@pytest.fixture
def paused_storage(pausable_server: OwnServer) -> Iterator[tuple[OwnServer, SQLStorage]]:
    conf = pausable_server.storage_config(
        connectionTimeout=1, statementTimeout=1, poolTimeout=1, maxOpenConns=2, maxIdleConns=2
    )
    storage = open_storage(StorageConfig(pausable_server.kind, conf))
    assert isinstance(storage, SQLStorage)
    yield pausable_server, storage
    storage.close()


@pytest.mark.xdist_group("own_db")  # one xdist worker starts the module's own servers
def test_paused_database_fails_fast_and_recovers(
    paused_storage: tuple[OwnServer, SQLStorage],
) -> None:
    server, storage = paused_storage
    client = f.client(id="app")
    storage.create_client(client)
    with server.paused():
        # a pooled connection (no liveness ping: just used), then new connections
        for call in (
            lambda: storage.get_client("app"),
            lambda: storage.update_client("app", lambda c: c),
            lambda: storage.create_refresh_token(f.refresh_token()),
        ):
            error = _bounded(call)
            assert isinstance(error, sa.exc.OperationalError | sa.exc.TimeoutError), repr(error)
        assert isinstance(_bounded(storage.ping), StorageError)
    assert _bounded(lambda: storage.get_client("app")) == client
    token = f.refresh_token()
    storage.create_refresh_token(token)
    assert storage.get_refresh_token(token.id) == token


@pytest.mark.parametrize("kind", NETWORK_BACKENDS)
def test_garbage_collection_may_outlast_the_statement_timeout(
    kind: str, fresh_config: Callable[[str], StorageConfig]
) -> None:
    """Housekeeping runs without the statement timeout (a large backlog takes a while), while
    requests keep it: both wait here on a row lock held longer than the timeouts."""
    cfg = fresh_config(kind)
    storage = open_storage(StorageConfig(cfg.type, cfg.config | {"statementTimeout": 1}))
    assert isinstance(storage, SQLStorage)
    expired = f.refresh_token(expiry=f.T0)
    storage.create_refresh_token(expired)
    holder = storage.engine.connect()
    try:

        def locked_for(seconds: float, call: Callable[[], Any]) -> Any:
            """``call()`` while another transaction holds ``expired``'s row lock."""
            with holder.begin():
                holder.execute(
                    sa.select(m.refresh_token.c.id)
                    .where(m.refresh_token.c.id == expired.id)
                    .with_for_update()
                ).all()
                timer = threading.Timer(seconds, holder.rollback)
                timer.start()
                try:
                    return _bounded(call)
                finally:
                    timer.join()

        held = 1 + CLIENT_MARGIN + 1.5  # past the server's and the client's timeout
        rewrite = lambda t: replace(t, nonce="changed")  # noqa: E731
        refused = locked_for(held, lambda: storage.update_refresh_token(expired.id, rewrite))
        assert isinstance(refused, sa.exc.OperationalError), refused
        collected = locked_for(held, lambda: storage.garbage_collect(f.T0 + timedelta(days=1)))
        assert not isinstance(collected, Exception), collected
        assert collected.refresh_tokens == 1
        assert storage.list_refresh_tokens() == []
    finally:
        holder.close()
        storage.close()


@pytest.mark.parametrize("kind", NETWORK_BACKENDS)
def test_no_free_pooled_connection_answers_503(
    kind: str, fresh_config: Callable[[str], StorageConfig]
) -> None:
    """Every pooled connection busy past ``poolTimeout``: the storage call gives up, and the
    request answers 503 (JSON on the token endpoint, a page on the authorization endpoint)."""
    from dex_py.app import create_app
    from dex_py.clock import FrozenClock
    from dex_py.config.loader import from_dict
    from tests.oauth.conftest import BASE_CONFIG, CLIENT_ID, CLIENT_SECRET, REDIRECT

    cfg = fresh_config(kind)
    conf = cfg.config | {"maxOpenConns": 1, "maxIdleConns": 1, "poolTimeout": 1}
    storage = open_storage(StorageConfig(cfg.type, conf))
    assert isinstance(storage, SQLStorage)
    app = create_app(from_dict(BASE_CONFIG), clock=FrozenClock(), storage=storage)
    client = app.test_client()
    try:
        with storage.engine.connect():  # the only connection, held
            assert isinstance(_bounded(lambda: storage.get_client("x")), sa.exc.TimeoutError)
            token = client.post(
                "/dex/token",
                data={"grant_type": "authorization_code", "code": "c", "redirect_uri": REDIRECT},
                auth=(CLIENT_ID, CLIENT_SECRET),
            )
            assert token.status_code == 503
            assert token.get_json()["error"] == "temporarily_unavailable"
            page = client.get(
                "/dex/auth",
                query_string={
                    "client_id": CLIENT_ID,
                    "redirect_uri": REDIRECT,
                    "response_type": "code",
                    "scope": "openid",
                    "connector_id": "mock",
                },
            )
            assert page.status_code == 503 and page.mimetype == "text/html"
        # the connection is back: the same request reaches the grant again
        again = client.post(
            "/dex/token",
            data={"grant_type": "authorization_code", "code": "c", "redirect_uri": REDIRECT},
            auth=(CLIENT_ID, CLIENT_SECRET),
        )
        assert again.status_code == 400 and again.get_json()["error"] == "invalid_grant"
    finally:
        storage.close()
