"""``/audit`` of the admin API: the API's own changes are in the audit log with their actor,
found by each filter, paged without gaps or repeats, and exported as JSON lines."""

from __future__ import annotations

import json

from tests.admin_api.conftest import ADMIN_ID, Api, assert_problem


def _make_changes(api: Api, n: int = 3) -> None:
    for i in range(n):
        assert api.post("/clients", json={"id": f"c{i}", "public": True}).status_code == 201
    assert (
        api.post(
            "/users", json={"email": "j@example.com", "username": "j", "password": "pw-pw-pw"}
        ).status_code
        == 201
    )


def test_query_by_actor_action_object_and_time(api: Api) -> None:
    _make_changes(api)
    times = {r.object: r.time for r in api.app.storage.list_audit_records(event="admin")}
    everything = api.get("/audit?event=admin").get_json()["items"]
    assert [e["action"] for e in everything[:4]] == [
        "user.create",
        "client.create",
        "client.create",
        "client.create",
    ]
    assert all(e["actor"] == f"api:{ADMIN_ID}" for e in everything)
    by_object = api.get("/audit?object=client:c1").get_json()["items"]
    assert [e["object"] for e in by_object] == ["client:c1"]
    assert len(api.get("/audit?object=client").get_json()["items"]) == 3
    assert len(api.get("/audit?action=user.").get_json()["items"]) == 1
    assert api.get("/audit?actor=api:someone-else").get_json()["items"] == []
    since, until = times["client:c1"].isoformat(), times["client:c2"].isoformat()
    window = api.get("/audit", query_string={"since": since, "until": until, "object": "client"})
    assert [e["object"] for e in window.get_json()["items"]] == ["client:c1"]


def test_pages_have_no_gaps_or_repeats(api: Api) -> None:
    _make_changes(api, 5)
    seen: list[str] = []
    query = {"event": "admin", "limit": "2"}
    while True:
        resp = api.get("/audit", query_string=query)
        body = resp.get_json()
        seen += [e["id"] for e in body["items"]]
        if not body["next"]:
            assert "Link" not in resp.headers
            break
        assert "cursor=" in resp.headers["Link"]
        query["cursor"] = body["next"]
    assert len(seen) == len(set(seen)) == 6


def test_bad_filters_are_400(api: Api) -> None:
    for query in ("since=yesterday", "until=2026-01-01T00:00:00", "cursor=nonsense", "limit=0"):
        assert_problem(api.get("/audit?" + query), 400, "invalid-input")


def test_export_as_json_lines(api: Api) -> None:
    _make_changes(api)
    resp = api.get("/audit/export?event=admin")
    assert resp.status_code == 200
    assert resp.mimetype == "application/jsonl"
    assert resp.headers["Cache-Control"] == "no-store"
    lines = [json.loads(line) for line in resp.get_data(as_text=True).splitlines()]
    assert [line["object"] for line in lines] == [
        "client:c0",
        "client:c1",
        "client:c2",
        "user:j@example.com",
    ]
    assert all(line["time"].endswith("Z") for line in lines)
    assert "pw-pw-pw" not in resp.get_data(as_text=True)
    limited = api.get("/audit/export?event=admin&limit=1").get_data(as_text=True)
    assert json.loads(limited)["object"] == "user:j@example.com"  # the newest
    assert_problem(api.get("/audit/export?limit=0"), 400)
