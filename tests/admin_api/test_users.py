"""``/users`` of the admin API: password users created, changed and deleted at run time; the
password write-only; users from config.yaml read-only."""

from __future__ import annotations

from tests.admin_api.conftest import Api, assert_problem, basic
from tests.oauth.conftest import CLIENT_ID, CLIENT_SECRET

NEW = {"email": "Jane@Example.com", "username": "jane", "password": "correct horse battery"}


def _password_login(api: Api, email: str, password: str) -> int:
    resp = api.http.post(
        "/dex/token",
        data={"grant_type": "password", "username": email, "password": password, "scope": "openid"},
        headers=basic(CLIENT_ID, CLIENT_SECRET),
    )
    return resp.status_code


def test_create_get_list_and_log_in_at_once(api: Api) -> None:
    resp = api.post("/users", json={**NEW, "groups": ["dev"]})
    assert resp.status_code == 201, resp.get_json()
    body = resp.get_json()
    assert body["email"] == "jane@example.com" and body["groups"] == ["dev"]
    assert "password" not in body and "hash" not in body
    assert resp.headers["Location"].endswith("/users/jane@example.com")
    assert resp.headers["ETag"] == f'"{body["version"]}"'
    got = api.get("/users/jane@example.com")
    assert got.get_json() == body and NEW["password"] not in got.get_data(as_text=True)
    listed = api.get("/users").get_json()["items"]
    assert [u["email"] for u in listed] == ["admin@example.com", "jane@example.com"]
    assert listed[0]["static"] is True
    assert _password_login(api, "jane@example.com", NEW["password"]) == 200


def test_create_refusals(api: Api) -> None:
    body = assert_problem(api.post("/users", json={"email": "x"}), 400, "invalid-input")
    assert {e["field"] for e in body["errors"]} >= {"username", "password"}
    short = api.post("/users", json={**NEW, "password": ""})
    assert "password" in {e["field"] for e in assert_problem(short, 400)["errors"]}
    taken = api.post("/users", json={**NEW, "email": "admin@example.com"})
    assert_problem(taken, 409, "already-exists")


def test_patch_password_and_groups_with_if_match(api: Api) -> None:
    created = api.post("/users", json=NEW)
    etag = created.headers["ETag"]
    assert_problem(api.patch("/users/jane@example.com", json={"groups": ["a"]}), 428)
    resp = api.patch(
        "/users/jane@example.com",
        json={"groups": ["ops"], "password": "another long passphrase"},
        headers={"If-Match": etag},
    )
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json()["groups"] == ["ops"]
    assert _password_login(api, "jane@example.com", NEW["password"]) != 200
    assert _password_login(api, "jane@example.com", "another long passphrase") == 200
    stale = api.patch("/users/jane@example.com", json={"username": "j"}, headers={"If-Match": etag})
    assert_problem(stale, 412)
    email_change = api.patch(
        "/users/jane@example.com", json={"email": "x@example.com"}, headers={"If-Match": "*"}
    )
    assert_problem(email_change, 400, "invalid-input")
    null_name = api.patch(
        "/users/jane@example.com", json={"username": None}, headers={"If-Match": "*"}
    )
    assert_problem(null_name, 400, "invalid-input")


def test_put_keeps_the_password_when_left_out(api: Api) -> None:
    etag = api.post("/users", json={**NEW, "groups": ["dev"]}).headers["ETag"]
    resp = api.put(
        "/users/jane@example.com", json={"username": "Jane D"}, headers={"If-Match": etag}
    )
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json()["groups"] == [] and resp.get_json()["username"] == "Jane D"
    assert _password_login(api, "jane@example.com", NEW["password"]) == 200
    assert_problem(api.put("/users/jane@example.com", json={}, headers={"If-Match": "*"}), 400)


def test_static_users_are_read_only(api: Api) -> None:
    for resp in (
        api.patch("/users/admin@example.com", json={"username": "x"}, headers={"If-Match": "*"}),
        api.delete("/users/admin@example.com", headers={"If-Match": "*"}),
    ):
        assert_problem(resp, 409, "read-only")


def test_delete_and_the_user_can_no_longer_log_in(api: Api) -> None:
    etag = api.post("/users", json=NEW).headers["ETag"]
    assert_problem(api.delete("/users/jane@example.com", headers={"If-Match": '"x"'}), 412)
    assert api.delete("/users/jane@example.com", headers={"If-Match": etag}).status_code == 204
    assert_problem(api.get("/users/jane@example.com"), 404)
    assert _password_login(api, "jane@example.com", NEW["password"]) != 200
