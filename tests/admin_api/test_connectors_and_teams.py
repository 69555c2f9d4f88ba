"""``/connectors``, ``/connector-tests`` and ``/teams`` of the admin API: a connector tested
before it is stored and usable at once, its secrets redacted, config.yaml's read-only; team
rules replaced under their ETag and applied to the explanation at once."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from tests.admin_api.conftest import Api, assert_problem
from tests.oauth.conftest import auth_params

MOCK_PW: dict[str, Any] = {
    "id": "extra",
    "type": "mockPassword",
    "name": "Extra",
    "config": {"username": "kilgore", "password": "trout-secret"},
}


def test_create_redacts_secrets_and_the_connector_works(api: Api) -> None:
    resp = api.post("/connectors", json=MOCK_PW)
    assert resp.status_code == 201, resp.get_json()
    body = resp.get_json()
    assert body["config"]["password"] != "trout-secret" and body["config"]["username"] == "kilgore"
    assert "trout-secret" not in resp.get_data(as_text=True)
    assert resp.headers["Location"].endswith("/connectors/extra")
    assert api.get("/connectors/extra").headers["ETag"] == resp.headers["ETag"]
    ids = [c["id"] for c in api.get("/connectors").get_json()["items"]]
    assert ids == sorted(ids) and {"extra", "mock", "local"} <= set(ids)
    # the new connector is on the login page at once
    chooser = api.http.get("/dex/auth?" + urlencode(auth_params()))
    assert "/auth/extra" in chooser.get_data(as_text=True)


def test_create_refusals(api: Api) -> None:
    missing = assert_problem(api.post("/connectors", json={"config": []}), 400, "invalid-input")
    assert {e["field"] for e in missing["errors"]} >= {"id", "type", "name", "config"}
    unknown_type = api.post("/connectors", json={**MOCK_PW, "type": "nonesuch"})
    assert_problem(unknown_type, 400, "invalid-input")
    assert_problem(api.post("/connectors", json={**MOCK_PW, "id": "mock"}), 409, "already-exists")
    assert api.get("/connectors/extra").status_code == 404  # nothing half-written


def test_update_keeps_redacted_secrets_and_needs_if_match(api: Api) -> None:
    created = api.post("/connectors", json=MOCK_PW)
    etag, shown = created.headers["ETag"], created.get_json()["config"]
    assert_problem(api.patch("/connectors/extra", json={"name": "X"}), 428)
    renamed = api.put(
        "/connectors/extra",
        json={"type": "mockPassword", "name": "Renamed", "config": shown},
        headers={"If-Match": etag},
    )
    assert renamed.status_code == 200, renamed.get_json()
    stored = api.app.storage.get_connector("extra")
    assert stored.config["password"] == "trout-secret" and stored.name == "Renamed"
    stale = api.patch("/connectors/extra", json={"name": "Lost"}, headers={"If-Match": etag})
    assert_problem(stale, 412)
    bad = api.patch("/connectors/extra", json={"name": 5}, headers={"If-Match": "*"})
    assert_problem(bad, 400, "invalid-input")
    assert_problem(api.patch("/connectors/extra", json={}, headers={"If-Match": "*"}), 400)


def test_config_connectors_are_read_only_and_delete(api: Api) -> None:
    for cid in ("mock", "local"):
        resp = api.delete(f"/connectors/{cid}", headers={"If-Match": "*"})
        assert_problem(resp, 409, "read-only")
    etag = api.post("/connectors", json=MOCK_PW).headers["ETag"]
    assert_problem(api.delete("/connectors/extra"), 428)
    assert api.delete("/connectors/extra", headers={"If-Match": etag}).status_code == 204
    assert_problem(api.get("/connectors/extra"), 404)


def test_connection_test_stores_nothing(api: Api) -> None:
    before = api.app.storage.list_connectors()
    ok = api.post("/connector-tests", json={"type": "mockPassword", "config": MOCK_PW["config"]})
    assert ok.status_code == 200 and ok.get_json() == {"ok": True}
    bad = api.post("/connector-tests", json={"type": "ldap", "config": {"host": ""}})
    assert_problem(bad, 400, "invalid-input")
    assert api.app.storage.list_connectors() == before


def test_team_rules_replaced_under_their_etag_and_explained(api: Api) -> None:
    got = api.get("/teams/rules")
    assert got.status_code == 200
    etag = got.headers["ETag"]
    rules = [{"exact": "admins", "team": "platform"}]
    assert_problem(api.put("/teams/rules", json={"rules": rules}), 428)
    put = api.put("/teams/rules", json={"rules": rules}, headers={"If-Match": etag})
    assert put.status_code == 200, put.get_json()
    assert put.headers["ETag"] != etag
    assert [r["rule"] for r in put.get_json()["rules"] if not r["static"]] == rules
    stale = api.put("/teams/rules", json={"rules": []}, headers={"If-Match": etag})
    assert_problem(stale, 412)
    explained = api.post("/teams/explain", json={"connector_id": "local", "groups": ["admins"]})
    assert explained.status_code == 200, explained.get_json()
    assert explained.get_json()["teams"] == ["platform"]
    [decision] = explained.get_json()["decisions"]
    assert decision["outcome"] == "rule" and decision["matches"][0]["stored"] is True


def test_team_rules_refusals(api: Api) -> None:
    invalid_rule = api.put(
        "/teams/rules", json={"rules": [{"regex": "("}]}, headers={"If-Match": "*"}
    )
    body = assert_problem(invalid_rule, 400, "invalid-input")
    assert body["errors"][0]["field"].startswith("rules[0]")
    assert_problem(api.put("/teams/rules", json={"rules": "x"}, headers={"If-Match": "*"}), 400)
    assert_problem(api.post("/teams/explain", json={"connector_id": "nope", "groups": []}), 404)
    assert_problem(api.post("/teams/explain", json={"groups": [1]}), 400, "invalid-input")
