"""``ConnectorManager`` follows the connectors kept in storage: config ones first and winning
on an id clash, stored ones opened, re-opened when their record changes (the replaced one closed
at the next change, not under a request using it), dropped when deleted, kept as unavailable
with the error when they cannot be opened; a storage that cannot be read keeps what runs. The
counter is read at most once per second per process."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

import connectors as registry
from connectors.base import Scopes
from connectors.mock import MockPasswordConnector
from dex_py.config.loader import from_dict
from dex_py.connector_manager import ConnectorEntry, ConnectorManager, connector_version
from dex_py.storage.base import Connector, StorageError
from dex_py.storage.memory import MemoryStorage
from dex_py.storage.static import StaticOverlay
from tests.oauth.conftest import BASE_CONFIG

CLOSED: list[str] = []


class ClosingConnector(MockPasswordConnector):
    """``mockPassword`` that records its ``close``."""

    def close(self) -> None:
        CLOSED.append(self.connector_id)


def _pw(name: str = "Mock", password: str = "secret", type: str = "mockPassword") -> Any:
    return {"type": type, "name": name, "config": {"username": "u", "password": password}}


@pytest.fixture
def make() -> Callable[[], tuple[ConnectorManager, MemoryStorage]]:
    config = from_dict(BASE_CONFIG)
    managers: list[ConnectorManager] = []

    def factory() -> tuple[ConnectorManager, MemoryStorage]:
        raw = MemoryStorage()
        overlay = StaticOverlay(
            raw,
            connectors=[Connector(c.id, c.type, c.name, c.config) for c in config.connectors],
        )
        manager = ConnectorManager(config, {}, overlay)
        managers.append(manager)
        return manager, raw

    yield factory
    for m in managers:
        m.close()


def _logs_in(entry: ConnectorEntry, password: str) -> bool:
    connector = entry.password()
    assert connector is not None
    return connector.login(Scopes(), "u", password) is not None


def _ids(manager: ConnectorManager) -> list[str]:
    return [e.id for e in manager.all()]


def test_stored_connectors_are_opened_after_the_config_ones(make) -> None:
    manager, storage = make()
    assert _ids(manager) == ["local", "mock"]
    storage.create_connector(Connector(id="b-pw", **_pw()))
    storage.create_connector(Connector(id="a-pw", **_pw("A")))
    manager.refresh()
    assert _ids(manager) == ["local", "mock"]  # nobody bumped: nothing to look at
    storage.bump_generation()
    manager.refresh()
    assert _ids(manager) == ["local", "mock", "a-pw", "b-pw"]
    entry = manager.get("a-pw")
    assert entry is not None and entry.available and not entry.static
    assert entry.name == "A" and entry.kind == "password"
    assert entry.version == connector_version(storage.get_connector("a-pw"))
    assert manager.get("mock").static  # type: ignore[union-attr]


def test_a_stored_connector_never_hides_a_config_one(make) -> None:
    manager, storage = make()
    storage.create_connector(Connector(id="mock", **_pw("Impostor")))  # written around the overlay
    storage.create_connector(Connector(id="local", **_pw("Impostor")))
    storage.bump_generation()
    manager.refresh()
    assert manager.get("mock").name == "Example"  # type: ignore[union-attr]
    assert manager.get("local").name == "Email"  # type: ignore[union-attr]
    assert _ids(manager) == ["local", "mock"]


def test_changed_connectors_are_reopened_and_the_replaced_ones_closed_later(
    make, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(
        registry.BUILTIN, "closing", "tests.runtime_objects.test_connector_sync:ClosingConnector"
    )
    CLOSED.clear()
    manager, storage = make()
    storage.create_connector(Connector(id="pw", **_pw(type="closing")))
    storage.create_connector(Connector(id="same", **_pw(type="closing")))
    storage.bump_generation()
    manager.refresh()
    first, same = manager.get("pw"), manager.get("same")
    assert first is not None and _logs_in(first, "secret")

    storage.update_connector("pw", lambda c: replace(c, config={**c.config, "password": "new"}))
    storage.bump_generation()
    manager.refresh()
    second = manager.get("pw")
    assert second is not first and manager.get("same") is same  # only the changed one
    assert second is not None and _logs_in(second, "new")
    assert CLOSED == []  # a request may still be using the first one

    storage.delete_connector("pw")
    storage.bump_generation()
    manager.refresh()
    assert manager.get("pw") is None
    assert CLOSED == ["pw"]  # the first one, at the next change
    manager.close()
    assert sorted(CLOSED) == ["pw", "pw", "same"]


def test_a_connector_that_cannot_be_opened_is_kept_unavailable_with_its_error(make) -> None:
    manager, storage = make()
    storage.create_connector(Connector(id="bad", type="mockPassword", name="Bad", config={}))
    storage.create_connector(Connector(id="odd", type="no-such-type", name="Odd"))
    storage.bump_generation()
    manager.refresh()
    bad, odd = manager.get("bad"), manager.get("odd")
    assert bad is not None and not bad.available and "invalid config" in bad.error
    assert odd is not None and not odd.available and "unknown connector type" in odd.error
    assert not manager.healthy(bad)


def test_an_unreadable_storage_keeps_what_runs(
    make, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    manager, storage = make()
    storage.create_connector(Connector(id="pw", **_pw()))
    storage.bump_generation()
    manager.refresh()

    def down() -> int:
        raise StorageError("database unreachable")

    monkeypatch.setattr(storage, "generation", down)
    with caplog.at_level(logging.WARNING):
        manager.refresh()
    assert _ids(manager) == ["local", "mock", "pw"]
    assert "keeping the current ones" in caplog.text


def test_the_counter_is_read_at_most_once_a_second(make, monkeypatch: pytest.MonkeyPatch) -> None:
    manager, storage = make()
    reads: list[int] = []
    real = storage.generation

    def counted() -> int:
        reads.append(1)
        return real()

    monkeypatch.setattr(storage, "generation", counted)
    storage.create_connector(Connector(id="pw", **_pw()))
    storage.bump_generation()
    started = time.monotonic()
    while time.monotonic() - started < 0.5:
        manager.get("pw")
        manager.all()
    assert len(reads) <= 1
    time.sleep(max(0.0, started + 1.05 - time.monotonic()))
    assert manager.get("pw") is not None  # seen on the first lookup after the second
