"""The overview, on memory, SQLite and PostgreSQL: counts of live objects only, connectors'
state, the signing key's age, logins and failures per hour from the audit log, and a storage
outage reported instead of raised."""

from __future__ import annotations

import dataclasses
import json
from datetime import timedelta

import dex_py
from dex_py.clock import FrozenClock
from dex_py.config import StorageConfig
from dex_py.management import clients, overview, users
from dex_py.management.actor import Actor
from dex_py.management.client_rules import ClientSpec
from dex_py.management.users import UserSpec
from dex_py.services import Services
from dex_py.storage import open_storage
from dex_py.storage.base import AuditRecord
from tests.storage import factories


def audit_at(svc: Services, id: str, hours_ago: float, event: str, outcome: str) -> None:
    svc.storage.create_audit_record(
        AuditRecord(
            id=id,
            time=svc.clock.now() - timedelta(hours=hours_ago),
            event=event,
            outcome=outcome,
            details=json.dumps({}),
        )
    )


def test_counts_only_live_objects(svc: Services, actor: Actor, clock: FrozenClock) -> None:
    clients.create_client(svc, actor, ClientSpec(id="web", redirect_uris=("https://w.example/cb",)))
    users.create_user(svc, actor, UserSpec("jane@example.com", "jane", "a long passphrase"))
    now = clock.now()
    svc.storage.create_session(factories.session())
    svc.storage.create_session(factories.session(expiry=now))
    svc.storage.create_refresh_token(factories.refresh_token())
    svc.storage.create_refresh_token(factories.refresh_token(expiry=None))
    svc.storage.create_refresh_token(factories.refresh_token(expiry=now - timedelta(seconds=1)))
    counts = overview.counts(svc)
    assert counts == overview.Counts(
        clients=4,  # three from the config file and "web"
        static_clients=3,
        connectors=2,  # local (the password DB) and mock
        users=2,  # one from the config file and jane
        active_sessions=1,
        refresh_tokens=2,
    )


def test_logins_and_failures_per_hour(svc: Services) -> None:
    audit_at(svc, "a", 0, "login", "success")  # this hour
    audit_at(svc, "b", 0.5, "login", "success")  # 11:30, the hour before
    audit_at(svc, "c", 0.5, "login", "failure")
    audit_at(svc, "d", 1.9, "refresh_reuse", "failure")  # 10:06
    audit_at(svc, "e", 2, "code_replay", "failure")
    audit_at(svc, "f", 23, "login", "success")  # 13:00 yesterday: the first bucket
    audit_at(svc, "g", 23.01, "login", "success")  # too old
    audit_at(svc, "h", 1, "revocation", "failure")  # not counted
    audit_at(svc, "i", 1, "admin", "success")  # not counted
    activity = overview.activity(svc)
    assert len(activity.hours) == len(activity.logins) == len(activity.failures) == 24
    assert activity.hours[-1] == svc.clock.now().replace(minute=0)
    assert activity.hours[0] == activity.hours[-1] - timedelta(hours=23)
    assert activity.logins[-1] == 1 and activity.logins[-2] == 1 and activity.logins[0] == 1
    assert sum(activity.logins) == 3
    assert activity.failures[-2] == 1 and activity.failures[-3] == 2
    assert sum(activity.failures) == 3
    assert not activity.truncated
    failures = overview.recent_failures(svc)
    assert [v.id for v in failures] == ["c", "d", "e"]


def test_overview(svc: Services, clock: FrozenClock) -> None:
    clock.advance(hours=2)
    result = overview.overview(svc)
    assert result.version == dex_py.__version__
    assert result.storage_ok and result.storage_error == "" and result.storage_latency_ms >= 0
    assert result.counts is not None and result.counts.clients == 3
    assert result.keys is not None and result.keys.signing_key_age == timedelta(hours=2)
    assert result.activity is not None and sum(result.activity.logins) == 0
    states = {c.id: c for c in result.connectors}
    assert set(states) == {"local", "mock"}
    assert states["mock"].healthy and states["mock"].static and states["mock"].error == ""


def test_a_storage_outage_is_reported_not_raised(svc: Services) -> None:
    down = open_storage(
        StorageConfig("postgres", {"url": "postgresql://dex@127.0.0.1:1/dex"}), migrate=False
    )
    try:
        result = overview.overview(dataclasses.replace(svc, storage=down))
    finally:
        down.close()  # type: ignore[attr-defined]
    assert not result.storage_ok and result.storage_error == "StorageError"
    assert result.counts is None and result.keys is None and result.activity is None
    assert {c.id for c in result.connectors} == {"local", "mock"}
