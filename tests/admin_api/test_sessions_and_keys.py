"""``/sessions``, ``/refresh-tokens`` and ``/keys`` of the admin API: list per user and per
client, revoke one or all of a user's (and see the refresh fail), rotate the signing key."""

from __future__ import annotations

from typing import Any

from dex_py.jose.tokens import encode_sub
from tests.admin_api.conftest import Api, assert_problem
from tests.oauth.conftest import auth_params, basic, code_from, login_password, redeem

ADMIN_USER = "08a8684b-db88-4b73-90a9-3cd1661f5466"
SUB = encode_sub(ADMIN_USER, "local")


def _log_in(api: Api) -> dict[str, Any]:
    """A browser login with offline_access: an SSO session and a refresh token."""
    browser = api.app.client()
    code = code_from(login_password(browser, auth_params()))["code"]
    tokens = redeem(browser, code).get_json()
    assert "refresh_token" in tokens, tokens
    return tokens


def _refresh(api: Api, refresh_token: str) -> int:
    resp = api.http.post(
        "/dex/token",
        data={"grant_type": "refresh_token", "refresh_token": refresh_token},
        headers=basic(),
    )
    return resp.status_code


def test_list_sessions_and_refresh_tokens_per_user_and_client(api: Api) -> None:
    _log_in(api)
    for query in (
        f"?sub={SUB}",
        f"?user_id={ADMIN_USER}&connector_id=local",
        "?client_id=example-app",
        "",
    ):
        sessions = api.get("/sessions" + query)
        assert sessions.status_code == 200, sessions.get_json()
        [session] = sessions.get_json()["items"]
        assert session["sub"] == SUB and "example-app" in session["clients"]
        tokens = api.get("/refresh-tokens" + query).get_json()["items"]
        assert [t["client_id"] for t in tokens] == ["example-app"]
    assert api.get("/sessions?client_id=other").get_json()["items"] == []
    assert api.get("/refresh-tokens?user_id=nobody").get_json()["items"] == []
    assert_problem(api.get("/sessions?sub=not-a-sub"), 400, "invalid-input")
    assert_problem(api.get("/sessions?connector_id=local"), 400, "invalid-input")
    assert_problem(api.get(f"/sessions?sub={SUB}&user_id=x"), 400, "invalid-input")


def test_revoke_one_refresh_token(api: Api) -> None:
    tokens = _log_in(api)
    [listed] = api.get("/refresh-tokens").get_json()["items"]
    assert tokens["refresh_token"] not in api.get("/refresh-tokens").get_data(as_text=True)
    assert api.delete(f"/refresh-tokens/{listed['id']}").status_code == 204
    assert _refresh(api, tokens["refresh_token"]) == 400
    assert_problem(api.delete("/refresh-tokens/nope"), 404, "not-found")


def test_revoke_one_session(api: Api) -> None:
    _log_in(api)
    [session] = api.get("/sessions").get_json()["items"]
    resp = api.delete(f"/sessions/{session['id']}")
    assert resp.status_code == 200 and resp.get_json() == {"logout_deliveries": 0}
    assert api.get("/sessions").get_json()["items"] == []
    assert_problem(api.delete(f"/sessions/{session['id']}"), 404)


def test_revoke_everything_of_a_user(api: Api) -> None:
    first, second = _log_in(api), _log_in(api)
    resp = api.post("/sessions/revoke-user", json={"sub": SUB})
    assert resp.status_code == 200, resp.get_json()
    result = resp.get_json()
    assert result["refresh_tokens"] == 2 and result["sessions"] >= 1
    assert _refresh(api, first["refresh_token"]) == 400
    assert _refresh(api, second["refresh_token"]) == 400
    again = api.post("/sessions/revoke-user", json={"user_id": ADMIN_USER, "connector_id": "local"})
    assert again.get_json()["refresh_tokens"] == 0


def test_revoke_user_refusals(api: Api) -> None:
    for body in ({}, {"sub": SUB, "user_id": "x"}, {"user_id": "x"}, {"sub": 1}, {"x": "y"}):
        assert_problem(api.post("/sessions/revoke-user", json=body), 400, "invalid-input")


def test_keys_and_rotation(api: Api) -> None:
    before = api.get("/keys")
    assert before.status_code == 200
    key_set = before.get_json()
    signing = key_set["keys"][0]
    assert signing["status"] == "signing"
    assert key_set["jwks"]["keys"][0]["kid"] == signing["kid"]
    assert not any("d" in k for k in key_set["jwks"]["keys"])  # public keys only
    rotated = api.post("/keys/rotate")
    assert rotated.status_code == 200, rotated.get_json()
    new_kid = rotated.get_json()["kid"]
    after = api.get("/keys").get_json()
    assert after["keys"][0]["kid"] == new_kid != signing["kid"]
    assert signing["kid"] in {k["kid"] for k in after["keys"]}  # still published
    # the admin token signed with the old key keeps working until it expires
    assert api.get("/keys").status_code == 200


def test_overview(api: Api) -> None:
    _log_in(api)
    api.http.post(
        "/dex/token",
        data={"grant_type": "password", "username": "admin@example.com", "password": "wrong"},
        headers=basic(),
    )
    resp = api.get("/overview")
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert body["storage_ok"] is True
    assert body["counts"]["active_sessions"] == 1 and body["counts"]["refresh_tokens"] == 1
    assert body["keys"]["keys"][0]["status"] == "signing"
    assert len(body["activity"]["hours"]) == len(body["activity"]["logins"]) == 24
    assert {c["id"] for c in body["connectors"]} >= {"mock", "local"}
