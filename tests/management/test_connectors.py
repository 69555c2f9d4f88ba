"""Connectors managed at run time, on memory, SQLite and PostgreSQL: tested before they are
saved (a real OpenLDAP for LDAP), at once in the running server, config connectors read-only,
secrets redacted for display and kept when the placeholder comes back, versions, and an audit
record for every change."""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Iterator

import pytest

import connectors as registry
from connectors.mock import MockPasswordConnector
from dex_py.management import connectors
from dex_py.management.actor import Actor
from dex_py.management.connectors import REDACTED
from dex_py.management.errors import AlreadyExists, Conflict, Invalid, NotFound, ReadOnly
from dex_py.services import Services
from tests.connectors.ldap.conftest import LdapService
from tests.connectors.ldap.conftest import ldap_service as ldap_service  # the fixture
from tests.services import free_port

PW = {"username": "u", "password": "s3cret-value"}


def admin_records(svc: Services) -> list[dict]:
    records = svc.storage.list_audit_records(event="admin", limit=1000)
    return [{**dataclasses.asdict(r), "details": json.loads(r.details)} for r in reversed(records)]


def test_a_created_connector_runs_at_once(svc: Services, actor: Actor) -> None:
    before = svc.storage.generation()
    view = connectors.create_connector(svc, actor, "team-db", "local", "Team passwords", {})
    assert (view.id, view.type, view.name, view.static, view.state) == (
        "team-db",
        "local",
        "Team passwords",
        False,
        "ok",
    )
    assert svc.storage.generation() == before + 1  # other processes follow
    entry = svc.connectors.get("team-db")
    assert entry is not None and entry.available and entry.kind == "password"
    assert connectors.get_connector(svc, "team-db") == view
    listed = {v.id: v for v in connectors.list_connectors(svc)}
    assert sorted(listed) == ["local", "mock", "team-db"]
    assert listed["mock"].static and listed["local"].static and not listed["team-db"].static
    [record] = admin_records(svc)
    assert (record["object"], record["outcome"]) == ("connector:team-db", "success")
    assert record["details"]["action"] == "connector.create"


def test_bad_input_is_refused_with_every_problem_and_nothing_stored(
    svc: Services, actor: Actor
) -> None:
    with pytest.raises(Invalid) as e:
        connectors.create_connector(svc, actor, "bad id!", "local", " ", {})
    assert [field for field, _ in e.value.errors] == ["id", "name"]
    with pytest.raises(Invalid) as e:
        connectors.create_connector(svc, actor, "pw", "mockPassword", "Pw", {"username": "u"})
    assert e.value.errors == [("config.password", "required")]
    with pytest.raises(Invalid) as e:
        connectors.create_connector(svc, actor, "odd", "no-such-type", "Odd", {})
    assert e.value.errors[0][0] == "type"
    assert svc.storage.list_connectors() == [svc.storage.get_connector("mock")]
    assert svc.connectors.get("pw") is None
    assert [r["outcome"] for r in admin_records(svc)] == ["failure"] * 3
    assert all(r["details"]["reason"] == "Invalid" for r in admin_records(svc))


def test_config_connectors_are_read_only_and_their_ids_taken(svc: Services, actor: Actor) -> None:
    for taken in ("mock", "local"):
        with pytest.raises(AlreadyExists):
            connectors.create_connector(svc, actor, taken, "local", "Impostor", {})
        with pytest.raises(ReadOnly):
            connectors.update_connector(svc, actor, taken, name="Renamed")
        with pytest.raises(ReadOnly):
            connectors.delete_connector(svc, actor, taken)
    connectors.create_connector(svc, actor, "pw", "mockPassword", "Pw", PW)
    with pytest.raises(AlreadyExists):
        connectors.create_connector(svc, actor, "pw", "mockPassword", "Pw", PW)
    with pytest.raises(NotFound):
        connectors.get_connector(svc, "nothing")
    with pytest.raises(NotFound):
        connectors.delete_connector(svc, actor, "nothing")


def test_secrets_are_redacted_and_the_placeholder_keeps_them(svc: Services, actor: Actor) -> None:
    view = connectors.create_connector(svc, actor, "pw", "mockPassword", "Pw", PW)
    assert view.config == {"username": "u", "password": REDACTED}
    assert "s3cret-value" not in repr(view) and "s3cret-value" not in str(admin_records(svc))
    changed = connectors.update_connector(
        svc,
        actor,
        "pw",
        name="Renamed",
        config={"username": "u2", "password": REDACTED},
        expected_version=view.version,
    )
    assert svc.storage.get_connector("pw").config == {"username": "u2", "password": "s3cret-value"}
    assert changed.name == "Renamed" and changed.version != view.version
    entry = svc.connectors.get("pw")
    assert entry is not None and entry.name == "Renamed"  # re-opened here at once
    with pytest.raises(Conflict):  # the version read before the change
        connectors.update_connector(svc, actor, "pw", name="Lost", expected_version=view.version)
    with pytest.raises(Invalid) as e:  # a placeholder where nothing is stored
        connectors.update_connector(svc, actor, "pw", config={**PW, "apiToken": REDACTED})
    assert e.value.errors[0][0] == "config.apiToken"
    assert svc.storage.get_connector("pw").name == "Renamed"


def test_a_change_that_fails_its_test_is_not_saved(svc: Services, actor: Actor) -> None:
    view = connectors.create_connector(svc, actor, "pw", "mockPassword", "Pw", PW)
    with pytest.raises(Invalid):
        connectors.update_connector(svc, actor, "pw", config={"username": "u"})
    assert connectors.get_connector(svc, "pw") == view


def test_delete(svc: Services, actor: Actor) -> None:
    view = connectors.create_connector(svc, actor, "pw", "mockPassword", "Pw", PW)
    with pytest.raises(Conflict):
        connectors.delete_connector(svc, actor, "pw", expected_version="stale")
    connectors.delete_connector(svc, actor, "pw", expected_version=view.version)
    assert svc.connectors.get("pw") is None
    assert "pw" not in [v.id for v in connectors.list_connectors(svc)]
    assert [r["details"]["action"] for r in admin_records(svc)][-1] == "connector.delete"


class SlowConnector(MockPasswordConnector):
    """``mockPassword`` whose upstream takes 5 s to answer."""

    def check(self) -> None:
        time.sleep(5)


@pytest.fixture
def slow_type(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setitem(registry.BUILTIN, "slow", "tests.management.test_connectors:SlowConnector")
    yield "slow"


def test_testing_a_connector_takes_bounded_time(
    svc: Services, actor: Actor, slow_type: str
) -> None:
    svc.connectors.TRIAL_TIMEOUT = 0.5
    started = time.monotonic()
    with pytest.raises(Invalid) as e:
        connectors.create_connector(svc, actor, "slow", slow_type, "Slow", PW)
    assert time.monotonic() - started < 3
    assert e.value.errors == [("connection", "no answer within 0.5 s")]
    assert svc.connectors.get("slow") is None


def test_an_ldap_connector_is_tested_against_the_directory(
    svc: Services, actor: Actor, ldap_service: LdapService
) -> None:
    down = ldap_service.config("plain", host=f"127.0.0.1:{free_port()}")
    with pytest.raises(Invalid) as e:
        connectors.test_connector(svc, "ldap", down)
    assert e.value.errors[0][0] == "connection"
    wrong_password = ldap_service.config("starttls", bindPW="not-the-password")
    with pytest.raises(Invalid):
        connectors.create_connector(svc, actor, "ldap", "ldap", "Directory", wrong_password)
    with pytest.raises(NotFound):
        connectors.get_connector(svc, "ldap")

    view = connectors.create_connector(
        svc, actor, "ldap", "ldap", "Directory", ldap_service.config("starttls")
    )
    assert view.state == "ok" and view.config["bindPW"] == REDACTED
    entry = svc.connectors.get("ldap")
    assert entry is not None and entry.kind == "password"
