"""Who gets the scope ``dex-py:admin``: only the clients of ``admin.clients``, only with the
client_credentials grant, only for a token addressed to the client itself; every other way of
asking is refused with ``invalid_scope`` (never silently granted or dropped)."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from tests.admin_api.conftest import (
    ADMIN_ID,
    ADMIN_SCOPE,
    ADMIN_SECRET,
    MACHINE_ID,
    MACHINE_SECRET,
    PW_ADMIN_ID,
    PW_ADMIN_SECRET,
    Api,
    basic,
)
from tests.grants.conftest import read_jwt
from tests.oauth.conftest import auth_params


def test_an_admin_client_gets_a_token_with_the_scope(api: Api) -> None:
    resp = api.token_response()
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert "scope" not in body  # granted as asked (RFC 6749 §5.1)
    header, claims = read_jwt(api.app, body["access_token"])
    assert header["typ"] == "at+jwt"
    assert claims["scope"] == ADMIN_SCOPE
    assert claims["sub"] == claims["client_id"] == claims["aud"] == ADMIN_ID
    assert claims["gty"] == "client_credentials"


def test_user_scopes_are_dropped_but_the_admin_scope_kept(api: Api) -> None:
    resp = api.token_response(scope=f"openid {ADMIN_SCOPE} email")
    assert resp.status_code == 200
    assert resp.get_json()["scope"] == ADMIN_SCOPE


def test_a_client_not_listed_is_refused(api: Api) -> None:
    resp = api.token_response(MACHINE_ID, MACHINE_SECRET)
    assert resp.status_code == 400
    assert resp.get_json()["error"] == "invalid_scope"
    # without the scope the same client gets its ordinary token
    ordinary = api.token_response(MACHINE_ID, MACHINE_SECRET, scope="")
    assert ordinary.status_code == 200


def test_nobody_gets_the_scope_without_an_admin_section(make_api: Callable[..., Api]) -> None:
    api = make_api(admin=None)
    resp = api.token_response()
    assert resp.status_code == 400 and resp.get_json()["error"] == "invalid_scope"


def test_not_together_with_a_cross_client_audience(make_api: Callable[..., Api]) -> None:
    api = make_api()
    resp = api.token_response(scope=f"{ADMIN_SCOPE} audience:server:client_id:{ADMIN_ID}")
    assert resp.status_code == 400 and resp.get_json()["error"] == "invalid_scope"


@pytest.mark.parametrize(
    "form",
    [
        {"grant_type": "password", "username": "admin@example.com", "password": "password"},
        {"grant_type": "refresh_token", "refresh_token": "whatever"},
        {"grant_type": "authorization_code", "code": "whatever", "redirect_uri": "x"},
    ],
    ids=["password", "refresh_token", "authorization_code"],
)
def test_an_admin_client_asking_with_another_grant_is_refused(
    api: Api, form: dict[str, str]
) -> None:
    resp = api.http.post(
        "/dex/token",
        data={**form, "scope": f"openid {ADMIN_SCOPE}"},
        headers=basic(PW_ADMIN_ID, PW_ADMIN_SECRET),
    )
    assert resp.status_code == 400
    assert resp.get_json()["error"] == "invalid_scope"


def test_the_password_grant_without_the_scope_still_works(api: Api) -> None:
    form = {"grant_type": "password", "username": "admin@example.com", "password": "password"}
    resp = api.http.post(
        "/dex/token", data={**form, "scope": "openid"}, headers=basic(PW_ADMIN_ID, PW_ADMIN_SECRET)
    )
    assert resp.status_code == 200, resp.get_json()


def test_the_authorization_endpoint_refuses_the_scope(api: Api) -> None:
    params = auth_params(scope=f"openid {ADMIN_SCOPE}")
    resp = api.http.get("/dex/auth?" + urlencode(params))
    assert resp.status_code in (302, 303)
    query = parse_qs(urlsplit(resp.headers["Location"]).query)
    assert query["error"] == ["invalid_scope"]
    assert query["state"] == [params["state"]]


def test_an_admin_client_without_client_credentials_is_refused(api: Api) -> None:
    resp = api.token_response(PW_ADMIN_ID, PW_ADMIN_SECRET)
    assert resp.status_code == 400
    assert resp.get_json()["error"] == "unauthorized_client"


def test_the_secret_is_checked_before_anything(api: Api) -> None:
    resp = api.token_response(ADMIN_ID, ADMIN_SECRET + "x")
    assert resp.status_code == 401


def test_the_device_authorization_endpoint_refuses_the_scope(
    make_api: Callable[..., Api],
) -> None:
    device = "urn:ietf:params:oauth:grant-type:device_code"
    api = make_api(oauth2={"grantTypes": ["authorization_code", "client_credentials", device]})
    for scope, status in ((f"openid {ADMIN_SCOPE}", 400), ("openid", 200)):
        resp = api.http.post(
            "/dex/device/code",
            data={"scope": scope},
            headers=basic(PW_ADMIN_ID, PW_ADMIN_SECRET),
        )
        assert resp.status_code == status, resp.get_json()
    assert resp.get_json()["device_code"]
    refused = api.http.post(
        "/dex/device/code",
        data={"scope": f"openid {ADMIN_SCOPE}"},
        headers=basic(PW_ADMIN_ID, PW_ADMIN_SECRET),
    )
    assert refused.get_json()["error"] == "invalid_scope"
