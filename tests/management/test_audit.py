"""The audit log read back, on memory, SQLite and PostgreSQL: stable cursor pagination (records
of one instant, records added between pages), every filter, bad input, and the export lines
``dex-py audit export`` prints."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from dex_py.management import audit
from dex_py.management.actor import Actor, record
from dex_py.management.errors import Invalid
from dex_py.services import Services
from dex_py.storage.base import AuditRecord

T = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def add(svc: Services, id: str, at: datetime, **fields: str) -> AuditRecord:
    details = {"action": fields.pop("action")} if "action" in fields else {}
    record = AuditRecord(
        id=id,
        time=at,
        event=fields.pop("event", "admin"),
        outcome=fields.pop("outcome", "success"),
        details=json.dumps(details),
        **fields,
    )
    svc.storage.create_audit_record(record)
    return record


def every_page(svc: Services, limit: int, **filters: object) -> list[list[str]]:
    pages: list[list[str]] = []
    cursor = ""
    while True:
        page = audit.query(svc, limit=limit, cursor=cursor, **filters)  # type: ignore[arg-type]
        pages.append([item.id for item in page.items])
        if not page.next_cursor:
            return pages
        cursor = page.next_cursor


def test_pages_cover_every_record_once_newest_first(svc: Services) -> None:
    # five records share one instant: the cursor must split them by id
    ids = []
    for i in range(12):
        at = T + timedelta(seconds=min(i, 5))
        ids.append(add(svc, f"r{i:02d}", at, actor="console:a").id)
    expected = [
        r.id
        for r in sorted(
            svc.storage.list_audit_records(limit=100), key=lambda r: (r.time, r.id), reverse=True
        )
    ]
    pages = every_page(svc, 5)
    assert [len(p) for p in pages] == [5, 5, 2]
    assert [i for p in pages for i in p] == expected
    assert sorted(expected) == sorted(ids)


def test_records_added_meanwhile_do_not_shift_the_next_page(svc: Services) -> None:
    for i in range(6):
        add(svc, f"r{i}", T + timedelta(seconds=i))
    first = audit.query(svc, limit=3)
    assert [v.id for v in first.items] == ["r5", "r4", "r3"]
    add(svc, "late", T + timedelta(minutes=5))
    add(svc, "r35", T + timedelta(seconds=3))  # same instant as the page's last record
    second = audit.query(svc, limit=3, cursor=first.next_cursor)
    assert [v.id for v in second.items] == ["r2", "r1", "r0"]
    assert second.next_cursor == ""


def test_filters(svc: Services) -> None:
    add(svc, "a", T, actor="console:ops", action="client.create", object="client:web")
    add(
        svc,
        "b",
        T + timedelta(seconds=1),
        actor="api:bot",
        action="client.delete",
        object="client:web",
    )
    add(
        svc,
        "c",
        T + timedelta(seconds=2),
        actor="console:ops",
        action="user.create",
        object="user:j@x",
    )
    add(svc, "d", T + timedelta(seconds=3), event="login", outcome="failure", object="j@x")

    def ids(**filters: object) -> list[str]:
        return [v.id for v in audit.query(svc, **filters).items]  # type: ignore[arg-type]

    assert ids() == ["d", "c", "b", "a"]
    assert ids(actor="console:ops") == ["c", "a"]
    assert ids(event="login") == ["d"]
    assert ids(action="client.create") == ["a"]
    assert ids(action="client.") == ["b", "a"]
    assert ids(action="client") == []
    assert ids(object="client:web") == ["b", "a"]
    assert ids(object="user") == ["c"]
    assert ids(since=T + timedelta(seconds=1), until=T + timedelta(seconds=3)) == ["c", "b"]
    assert ids(actor="console:ops", action="user.", object="user:j@x") == ["c"]
    view = audit.query(svc, event="login").items[0]
    assert (view.outcome, view.action, view.details) == ("failure", "", {})


def test_python_side_filters_page_through_many_records(svc: Services) -> None:
    for i in range(450):
        action = "key.rotate" if i % 90 == 0 else "client.update"
        add(svc, f"r{i:03d}", T + timedelta(seconds=i), action=action)
    pages = every_page(svc, 2, action="key.rotate")
    assert pages == [["r360", "r270"], ["r180", "r090"], ["r000"]]


def test_bad_input_is_invalid(svc: Services) -> None:
    for kwargs, field in (
        ({"limit": 0}, "limit"),
        ({"limit": 501}, "limit"),
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"cursor": "!!!"}, "cursor"),
        ({"since": datetime(2026, 1, 1)}, "since"),
    ):
        with pytest.raises(Invalid) as caught:
            audit.query(svc, **kwargs)  # type: ignore[arg-type]
        assert [f for f, _ in caught.value.errors] == [field]


def test_export_lines_oldest_first(svc: Services) -> None:
    add(svc, "a", T, actor="cli:root", action="user.create", object="user:j@x")
    add(svc, "b", T + timedelta(seconds=1), event="login", client="web", ip="192.0.2.1")
    lines = [json.loads(line) for line in audit.export_lines(svc.storage.list_audit_records())]
    assert lines == [
        {
            "id": "a",
            "time": "2026-01-01T12:00:00Z",
            "event": "admin",
            "outcome": "success",
            "actor": "cli:root",
            "object": "user:j@x",
            "client": "",
            "connector": "",
            "ip": "",
            "details": {"action": "user.create"},
        },
        {
            "id": "b",
            "time": "2026-01-01T12:00:01Z",
            "event": "login",
            "outcome": "success",
            "actor": "",
            "object": "",
            "client": "web",
            "connector": "",
            "ip": "192.0.2.1",
            "details": {},
        },
    ]


def test_an_admin_change_is_not_kept_when_the_audit_section_says_store_false(
    svc: Services,
) -> None:
    actor = Actor("api", "automation")
    record(svc, actor, "client.delete", "client", "kept")
    svc.audit_policy = replace(svc.audit_policy, store=False)
    record(svc, actor, "client.delete", "client", "not-kept")
    assert [r.object for r in svc.storage.list_audit_records()] == ["client:kept"]
