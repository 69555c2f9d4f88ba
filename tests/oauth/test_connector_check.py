"""``check_chains`` (dex_py.oauth.connector_check) on the memory storage with a stub connector:
an outage keeps the chain, each chain is asked once per window, rotated upstream data is kept,
connectors that cannot refresh are not asked. The live behaviour (revocation seen by the
TokenReview webhook) is tested in tests/kube/test_connector_check.py."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import pytest

from connectors.base import ConnectorError, Identity, UserGone
from dex_py.oauth.connector_check import check_chains
from dex_py.storage.base import Claims, NotFoundError, RefreshToken
from tests.oauth.conftest import App

WINDOW = timedelta(minutes=5)


class _Refresher:
    def __init__(self) -> None:
        self.calls = 0
        self.answer: Any = None  # an Identity to return, or an exception to raise

    def refresh(self, scopes: Any, identity: Identity) -> Identity:
        self.calls += 1
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer or identity


class _Entry:
    available = True

    def __init__(self, refresher: _Refresher | None) -> None:
        self._refresher = refresher

    def refresher(self) -> _Refresher | None:
        return self._refresher


def _setup(app: App, refresher: _Refresher | None) -> tuple[SimpleNamespace, RefreshToken]:
    svc = app.svc
    now = app.clock.now()
    chain = RefreshToken(
        id="chain-1",
        token_hash="h",
        client_id="kubectl",
        scopes=("openid", "groups", "offline_access"),
        claims=Claims(user_id="u1", username="u", email="u@example.com", groups=("a", "b")),
        connector_id="stub",
        created_at=now,
        last_used=now,
        connector_data=b"upstream-1",
    )
    app.storage.create_refresh_token(chain)
    stub = SimpleNamespace(
        storage=app.storage,
        clock=app.clock,
        config=svc.config,
        teams=svc.teams,
        connectors=SimpleNamespace(get=lambda cid: _Entry(refresher) if cid == "stub" else None),
    )
    return stub, chain


def test_an_outage_keeps_the_chain(app: App) -> None:
    refresher = _Refresher()
    refresher.answer = ConnectorError("LDAP down")
    svc, chain = _setup(app, refresher)
    result = check_chains(svc, ["kubectl"], WINDOW)  # type: ignore[arg-type]
    assert (result.checked, result.revoked, result.failed) == (1, 0, 1)
    assert app.storage.get_refresh_token(chain.id) == chain


def test_gone_revokes_and_each_chain_is_asked_once_per_window(app: App) -> None:
    refresher = _Refresher()
    svc, chain = _setup(app, refresher)
    assert check_chains(svc, ["kubectl", "kubectl"], WINDOW).checked == 1  # type: ignore[arg-type]
    assert check_chains(svc, ["kubectl"], WINDOW).checked == 0  # type: ignore[arg-type]
    assert refresher.calls == 1
    app.clock.advance(WINDOW + timedelta(seconds=1))
    refresher.answer = UserGone("deleted")
    result = check_chains(svc, ["kubectl"], WINDOW)  # type: ignore[arg-type]
    assert (result.checked, result.revoked) == (1, 1)
    with pytest.raises(NotFoundError):
        app.storage.get_refresh_token(chain.id)


def test_new_upstream_data_is_kept_and_other_clients_are_not_checked(app: App) -> None:
    refresher = _Refresher()
    svc, chain = _setup(app, refresher)
    assert check_chains(svc, ["other-client"], WINDOW).checked == 0  # type: ignore[arg-type]
    current = Identity(
        user_id="u1",
        username="u",
        email="u@example.com",
        groups=("a", "b", "c"),  # a gained team narrows nothing
        connector_data=b"upstream-2",
    )
    refresher.answer = current
    result = check_chains(svc, ["kubectl"], WINDOW)  # type: ignore[arg-type]
    assert (result.checked, result.revoked) == (1, 0)
    stored = app.storage.get_refresh_token(chain.id)
    assert stored == replace(chain, connector_data=b"upstream-2")


def test_a_connector_that_cannot_refresh_is_not_asked(app: App) -> None:
    svc, chain = _setup(app, None)
    assert check_chains(svc, ["kubectl"], WINDOW).checked == 0  # type: ignore[arg-type]
    assert app.storage.get_refresh_token(chain.id) == chain
