"""Nothing a non-admin sends reaches an admin action: every route refuses a request without a
valid admin token (RFC 6750 §3.1 answers, as RFC 9457 problems), and each check of the token
has a test that fails without it."""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from dex_py.admin_api import ROUTES
from dex_py.jose import tokens
from dex_py.jose.keys import KeyManager
from dex_py.storage.memory import MemoryStorage
from tests.admin_api.conftest import (
    ADMIN_ID,
    ADMIN_SCOPE,
    ADMIN_SECRET,
    API,
    MACHINE_ID,
    MACHINE_SECRET,
    Api,
    assert_problem,
    basic,
)
from tests.oauth.conftest import CLIENT_ID, CLIENT_SECRET, ISSUER, snapshot

# Every protected operation, with a body it would accept (so a refusal is the auth's doing).
PROTECTED = [
    (method, API + path.replace("<", "").replace(">", ""))
    for path, endpoint, _, methods in ROUTES
    if endpoint != "openapi"
    for method in methods
]


def _claims(api: Api, **overrides: Any) -> dict[str, Any]:
    now = int(api.app.clock.now().timestamp())
    claims = {
        "iss": ISSUER,
        "sub": ADMIN_ID,
        "aud": ADMIN_ID,
        "exp": now + 600,
        "iat": now,
        "jti": secrets.token_urlsafe(12),
        "client_id": ADMIN_ID,
        "scope": ADMIN_SCOPE,
        "gty": "client_credentials",
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def _signed(api: Api, **overrides: Any) -> str:
    """A token signed with the server's own key, with claims of the test's choosing (what a bug
    in some other grant could hand out)."""
    return tokens.sign(api.app.svc.keys, _claims(api, **overrides), typ="at+jwt")


def test_a_valid_admin_token_is_accepted(api: Api) -> None:
    resp = api.get("/clients")
    assert resp.status_code == 200, resp.get_json()
    assert resp.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize(("method", "path"), PROTECTED)
def test_every_route_refuses_a_request_without_a_token(api: Api, method: str, path: str) -> None:
    before = snapshot(api.app.storage)
    resp = api.http.open(path, method=method, json={})
    assert snapshot(api.app.storage) == before
    body = assert_problem(resp, 401)
    assert body["type"] == "about:blank"
    challenge = resp.headers["WWW-Authenticate"]
    assert challenge.startswith("Bearer ") and "error=" not in challenge  # RFC 6750 §3.1


@pytest.mark.parametrize(("method", "path"), PROTECTED)
def test_every_route_refuses_a_token_without_the_admin_scope(
    api: Api, method: str, path: str
) -> None:
    token = api.token(MACHINE_ID, MACHINE_SECRET, scope="")
    before = snapshot(api.app.storage)
    resp = api.http.open(path, method=method, json={}, headers={"Authorization": f"Bearer {token}"})
    assert snapshot(api.app.storage) == before  # nothing written, no change even audited
    assert_problem(resp, 403, "insufficient-scope")
    assert 'error="insufficient_scope"' in resp.headers["WWW-Authenticate"]
    assert f'scope="{ADMIN_SCOPE}"' in resp.headers["WWW-Authenticate"]


@pytest.mark.parametrize(
    "header",
    ["Basic YXV0b21hdGlvbjpzZWNyZXQ=", "Bearer", "Bearer ", "Bearer a b", "bearer-ish token"],
)
def test_a_malformed_authorization_header_is_an_invalid_token(api: Api, header: str) -> None:
    resp = api.http.get(API + "/clients", headers={"Authorization": header})
    assert_problem(resp, 401, "invalid-token")
    assert 'error="invalid_token"' in resp.headers["WWW-Authenticate"]


@pytest.mark.parametrize(
    "token",
    ["not-a-jwt", "a.b.c", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJhdXRvbWF0aW9uIn0."],
    ids=["garbage", "three-parts", "alg-none"],
)
def test_garbage_tokens_are_invalid(api: Api, token: str) -> None:
    assert_problem(api.get("/clients", token=token), 401, "invalid-token")


def test_a_token_signed_by_another_key_is_invalid(api: Api) -> None:
    other = KeyManager(
        MemoryStorage(),
        api.app.clock,
        rotation_period=timedelta(hours=6),
        id_token_lifetime=timedelta(hours=24),
    )
    other.ensure()
    forged = tokens.sign(other, _claims(api), typ="at+jwt")
    assert_problem(api.get("/clients", token=forged), 401, "invalid-token")


def test_a_tampered_token_is_invalid(api: Api) -> None:
    """An ordinary token of ``machine`` with the admin scope written into its payload."""
    header, _, signature = api.token(MACHINE_ID, MACHINE_SECRET, scope="").split(".")
    payload = tokens.b64url_encode(
        json.dumps(_claims(api, sub=MACHINE_ID, client_id=MACHINE_ID, aud=MACHINE_ID)).encode()
    )
    resp = api.get("/clients", token=f"{header}.{payload}.{signature}")
    body = assert_problem(resp, 401, "invalid-token")
    assert "signature" in body["detail"]


def test_an_expired_token_is_invalid(api: Api) -> None:
    token = api.token()
    api.app.clock.advance(timedelta(hours=24, seconds=1))
    body = assert_problem(api.get("/clients", token=token), 401, "invalid-token")
    assert "expired" in body["detail"]


def test_the_token_must_not_be_sent_in_the_query_string(api: Api) -> None:
    resp = api.http.get(API + "/clients", query_string={"access_token": api.admin_token})
    assert_problem(resp, 400)


@pytest.mark.parametrize(
    ("overrides", "status"),
    [
        ({"iss": "https://evil.example/dex"}, 401),
        ({"aud": "example-app", "azp": ADMIN_ID}, 401),  # minted for a peer service
        ({"aud": [ADMIN_ID, "example-app"]}, 401),
        ({"azp": "example-app"}, 401),
        ({"jti": None}, 401),
        ({"client_id": None}, 401),
        ({"gty": None}, 403),  # a token with an end user
        ({"sub": "someone-else"}, 403),
        ({"scope": "openid"}, 403),
        ({"scope": None}, 403),
        ({"scope": ADMIN_SCOPE + "x"}, 403),
    ],
)
def test_each_claim_is_checked(api: Api, overrides: dict[str, Any], status: int) -> None:
    assert api.get("/clients", token=_signed(api)).status_code == 200  # the baseline passes
    resp = api.get("/clients", token=_signed(api, **overrides))
    assert_problem(resp, status, "invalid-token" if status == 401 else "insufficient-scope")


def test_the_token_type_header_is_checked(api: Api) -> None:
    token = tokens.sign(api.app.svc.keys, _claims(api), typ="JWT")
    assert_problem(api.get("/clients", token=token), 401, "invalid-token")


def test_a_user_access_token_is_refused(api: Api) -> None:
    resp = api.http.post(
        "/dex/token",
        data={
            "grant_type": "password",
            "username": "admin@example.com",
            "password": "password",
            "scope": "openid email groups",
        },
        headers=basic(CLIENT_ID, CLIENT_SECRET),
    )
    assert resp.status_code == 200, resp.get_json()
    for name in ("access_token", "id_token"):
        token = resp.get_json()[name]
        assert api.get("/clients", token=token).status_code in (401, 403)


def test_a_revoked_token_is_refused(api: Api) -> None:
    token = api.token()
    assert api.get("/clients", token=token).status_code == 200
    revoke = api.http.post(
        "/dex/token/revoke", data={"token": token}, headers=basic(ADMIN_ID, ADMIN_SECRET)
    )
    assert revoke.status_code == 200
    body = assert_problem(api.get("/clients", token=token), 401, "invalid-token")
    assert "revoked" in body["detail"]


def test_a_client_no_longer_in_admin_clients_is_refused_at_once(api: Api) -> None:
    token = api.token()
    assert api.get("/clients", token=token).status_code == 200
    policy = api.app.svc.admin_policy
    api.app.svc.admin_policy = type(policy)(clients=frozenset({"someone-else"}))
    assert_problem(api.get("/clients", token=token), 403, "insufficient-scope")


def test_a_deleted_admin_client_is_refused_at_once(make_api: Callable[..., Api]) -> None:
    api = make_api(admin={"clients": [ADMIN_ID, "robot"]})
    created = api.post(
        "/clients", json={"id": "robot", "grant_types": ["client_credentials"], "name": "Robot"}
    )
    assert created.status_code == 201, created.get_json()
    robot = api.token("robot", created.get_json()["secret"])
    assert api.get("/clients", token=robot).status_code == 200
    deleted = api.delete("/clients/robot", headers={"If-Match": created.headers["ETag"]})
    assert deleted.status_code == 204
    body = assert_problem(api.get("/clients", token=robot), 401, "invalid-token")
    assert "no longer exists" in body["detail"]


def test_the_openapi_document_needs_no_token(api: Api) -> None:
    resp = api.http.get(API + "/openapi.json")
    assert resp.status_code == 200
    assert resp.get_json()["openapi"] == "3.1.0"


def test_a_refusal_is_an_audit_line_without_the_token(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    token = api.token(MACHINE_ID, MACHINE_SECRET, scope="")
    with caplog.at_level("INFO", logger="dex_py.audit"):
        api.get("/clients", token=token)
        api.get("/clients", token="not-a-jwt")
    lines = [r for r in caplog.records if r.name == "dex_py.audit" and "admin_api" in r.message]
    assert [getattr(r, "status", None) for r in lines] == [403, 401]
    assert "scope" in lines[0].reason
    assert token not in caplog.text
    assert api.app.storage.list_audit_records(event="admin_api") == []
