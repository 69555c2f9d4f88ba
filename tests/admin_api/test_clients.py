"""``/clients`` of the admin API: the secret shown once, ETags and ``If-Match`` on every
change, config.yaml's clients read-only, and a created client usable at once."""

from __future__ import annotations

from datetime import timedelta

from tests.admin_api.conftest import ADMIN_ID, Api, assert_problem, basic
from tests.oauth.conftest import CLIENT_ID, ISSUER

NEW = {
    "id": "web",
    "name": "Web",
    "redirect_uris": ["https://web.example/callback"],
    "grant_types": ["authorization_code", "refresh_token", "client_credentials"],
}


def _create(api: Api, **fields: object) -> tuple[dict, str, str]:
    resp = api.post("/clients", json={**NEW, **fields})
    assert resp.status_code == 201, resp.get_json()
    body = resp.get_json()
    return body, body.pop("secret"), resp.headers["ETag"]


def test_create_answers_the_secret_once_and_it_works_at_once(api: Api) -> None:
    body, secret, etag = _create(api)
    assert body["id"] == "web" and body["has_secret"] is True and body["static"] is False
    assert etag == f'"{body["version"]}"'
    assert isinstance(secret, str) and len(secret) >= 32
    # the secret is nowhere else
    for resp in (api.get("/clients/web"), api.get("/clients")):
        assert secret not in resp.get_data(as_text=True)
        assert "secret" not in (resp.get_json().get("items") or [resp.get_json()])[0]
    assert api.get("/clients/web").headers["ETag"] == etag
    # the new client gets a token with its secret, without a restart
    token = api.http.post(
        "/dex/token", data={"grant_type": "client_credentials"}, headers=basic("web", secret)
    )
    assert token.status_code == 200, token.get_json()


def test_create_location_and_generated_id(api: Api) -> None:
    resp = api.post("/clients", json={"name": "No id", "public": True})
    assert resp.status_code == 201, resp.get_json()
    body = resp.get_json()
    assert body["id"] and body["secret"] is None and body["has_secret"] is False
    assert resp.headers["Location"].endswith(f"/admin/api/v1/clients/{body['id']}")


def test_create_reports_every_bad_field(api: Api) -> None:
    resp = api.post(
        "/clients",
        json={"id": "bad id!", "redirect_uris": "not-a-list", "public": "yes", "colour": 1},
    )
    body = assert_problem(resp, 400, "invalid-input")
    fields = {e["field"] for e in body["errors"]}
    assert {"redirect_uris", "public", "colour"} <= fields
    assert all(c.id != "bad id!" for c in api.app.storage.list_clients())
    # a body that passes the types but breaks the client rules: every rule at once
    resp = api.post("/clients", json={"id": "bad id!", "redirect_uris": ["javascript:x"]})
    body = assert_problem(resp, 400, "invalid-input")
    assert {"id", "redirect_uris[0]"} <= {e["field"] for e in body["errors"]}


def test_create_refuses_a_taken_id(api: Api) -> None:
    _create(api)
    assert_problem(api.post("/clients", json=NEW), 409, "already-exists")
    assert_problem(api.post("/clients", json={"id": CLIENT_ID}), 409, "already-exists")


def test_get_unknown_is_404(api: Api) -> None:
    assert_problem(api.get("/clients/nobody"), 404, "not-found")


def test_patch_needs_if_match_and_refuses_a_stale_etag(api: Api) -> None:
    _, _, etag = _create(api)
    assert_problem(api.patch("/clients/web", json={"name": "W"}), 428, "precondition-required")
    resp = api.patch("/clients/web", json={"name": "Renamed"}, headers={"If-Match": etag})
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json()["name"] == "Renamed"
    new_etag = resp.headers["ETag"]
    assert new_etag != etag
    # the old ETag is stale now: nothing is written
    stale = api.patch("/clients/web", json={"name": "Lost"}, headers={"If-Match": etag})
    assert_problem(stale, 412, "precondition-failed")
    assert api.get("/clients/web").get_json()["name"] == "Renamed"
    # a weak ETag never matches (RFC 9110 §13.1.1), * always does
    weak = api.patch("/clients/web", json={"name": "W"}, headers={"If-Match": "W/" + new_etag})
    assert_problem(weak, 412)
    star = api.patch("/clients/web", json={"name": "Star"}, headers={"If-Match": "*"})
    assert star.status_code == 200


def test_patch_merge_patch_null_resets_and_media_type(api: Api) -> None:
    _, _, etag = _create(api, logo_url="https://web.example/logo.png")
    resp = api.call(
        "PATCH",
        "/clients/web",
        data='{"logo_url": null}',
        headers={"If-Match": etag, "Content-Type": "application/merge-patch+json"},
    )
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json()["logo_url"] == ""
    bad = api.patch("/clients/web", json={"id": "other"}, headers={"If-Match": "*"})
    assert_problem(bad, 400, "invalid-input")
    assert_problem(api.patch("/clients/web", json={}, headers={"If-Match": "*"}), 400)


def test_put_replaces_every_setting(api: Api) -> None:
    _, _, etag = _create(api, logo_url="https://web.example/logo.png")
    resp = api.put(
        "/clients/web",
        json={"name": "Only name", "redirect_uris": ["https://web.example/cb2"]},
        headers={"If-Match": etag},
    )
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert body["logo_url"] == "" and body["grant_types"] == []
    assert body["redirect_uris"] == ["https://web.example/cb2"]
    mismatch = api.put("/clients/web", json={"id": "x"}, headers={"If-Match": "*"})
    assert_problem(mismatch, 400, "invalid-input")


def test_config_clients_are_listed_read_only(api: Api) -> None:
    got = api.get(f"/clients/{CLIENT_ID}")
    assert got.status_code == 200 and got.get_json()["static"] is True
    etag = got.headers["ETag"]
    for resp in (
        api.patch(f"/clients/{CLIENT_ID}", json={"name": "x"}, headers={"If-Match": etag}),
        api.put(f"/clients/{CLIENT_ID}", json={"name": "x"}, headers={"If-Match": etag}),
        api.delete(f"/clients/{CLIENT_ID}", headers={"If-Match": etag}),
    ):
        assert_problem(resp, 409, "read-only")


def test_delete(api: Api) -> None:
    _, _, etag = _create(api)
    assert_problem(api.delete("/clients/web"), 428)
    assert_problem(api.delete("/clients/web", headers={"If-Match": '"0000"'}), 412)
    assert api.get("/clients/web").status_code == 200
    resp = api.delete("/clients/web", headers={"If-Match": etag})
    assert resp.status_code == 204 and resp.data == b""
    assert_problem(api.get("/clients/web"), 404)
    assert_problem(api.delete("/clients/web", headers={"If-Match": "*"}), 404)


def test_the_audit_log_names_the_api_client(api: Api) -> None:
    _create(api)
    records = api.app.storage.list_audit_records(event="admin")
    assert any(r.actor == f"api:{ADMIN_ID}" and r.object == "client:web" for r in records)


def test_pagination_with_cursor_and_link(api: Api) -> None:
    for i in range(5):
        api.post("/clients", json={"id": f"c{i}", "public": True})
    seen: list[str] = []
    url = "/clients?limit=3"
    pages = 0
    while url:
        resp = api.get(url, headers={"Host": "evil.example"})
        assert resp.status_code == 200
        body = resp.get_json()
        assert len(body["items"]) <= 3
        seen += [c["id"] for c in body["items"]]
        pages += 1
        if body["next"]:
            link = resp.headers["Link"]
            assert link.endswith('>; rel="next"') and "cursor=" in link
            assert link.startswith(f"<{ISSUER}/admin/api/v1/clients?")  # not the Host header
            url = link[1 : link.index(">")].split("/admin/api/v1", 1)[1]
        else:
            assert "Link" not in resp.headers
            url = ""
    assert seen == sorted(seen) and len(seen) == len(set(seen))
    assert {"c0", "c1", "c2", "c3", "c4", CLIENT_ID, ADMIN_ID} <= set(seen)
    assert pages >= 3


def test_bad_pagination_parameters(api: Api) -> None:
    for query in ("limit=0", "limit=201", "limit=x", "cursor=%%%", "cursor=bm90LWpzb24"):
        body = assert_problem(api.get("/clients?" + query), 400, "invalid-input")
        assert body["errors"][0]["field"] in ("limit", "cursor")


def _cc_status(api: Api, client_id: str, secret: str) -> int:
    resp = api.http.post(
        "/dex/token", data={"grant_type": "client_credentials"}, headers=basic(client_id, secret)
    )
    return resp.status_code


def test_rotate_the_secret_with_a_grace_period(api: Api) -> None:
    _, old, etag = _create(api)
    resp = api.post("/clients/web/secret", json={"grace_period": 3600})
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    new = body["secret"]
    assert new != old and body["previous_secret_expiry"] is not None
    assert resp.headers["ETag"] != etag
    assert _cc_status(api, "web", new) == 200
    assert _cc_status(api, "web", old) == 200  # still, during the grace period
    api.app.clock.advance(timedelta(hours=1, seconds=1))
    assert _cc_status(api, "web", old) == 401
    assert _cc_status(api, "web", new) == 200
    assert new not in api.get("/clients/web").get_data(as_text=True)


def test_rotate_without_grace_and_refusals(api: Api) -> None:
    _, old, etag = _create(api)
    stale = api.post("/clients/web/secret", headers={"If-Match": '"0000"'})
    assert_problem(stale, 412)
    resp = api.post("/clients/web/secret", headers={"If-Match": etag})
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json()["previous_secret_expiry"] is None
    assert _cc_status(api, "web", old) == 401
    for bad in (
        {"grace_period": -1},
        {"grace_period": "1h"},
        {"grace_period": 31 * 86400},
        {"x": 1},
    ):
        assert_problem(api.post("/clients/web/secret", json=bad), 400, "invalid-input")
    assert_problem(api.post("/clients/nobody/secret"), 404)
    assert_problem(api.post(f"/clients/{CLIENT_ID}/secret"), 409, "read-only")
    public = api.post("/clients", json={"id": "pub", "public": True})
    assert public.status_code == 201
    assert_problem(api.post("/clients/pub/secret"), 400, "invalid-input")
