"""Token exchange (RFC 8693) through a connector with the token-identity capability."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from connectors.mock import KILGORE_TROUT, MOCK_SUBJECT_TOKEN
from dex_py.config import TOKEN_EXCHANGE_GRANT
from dex_py.jose import tokens
from tests.grants.conftest import (
    ACCESS_TOKEN_TYPE,
    EXCHANGER_ID,
    EXCHANGER_SECRET,
    ID_TOKEN_TYPE,
    MACHINE_ID,
    MACHINE_SECRET,
    basic_auth,
    machine_overrides,
    read_jwt,
)
from tests.oauth.conftest import ISSUER, App


def exchange(app: App, auth: dict[str, str] | None = None, /, **params: str | None) -> Any:
    data: dict[str, str | None] = {
        "grant_type": TOKEN_EXCHANGE_GRANT,
        "connector_id": "mock",
        "subject_token": MOCK_SUBJECT_TOKEN,
        "subject_token_type": ID_TOKEN_TYPE,
        "scope": "openid email groups",
    }
    data.update(params)
    form = {k: v for k, v in data.items() if v is not None}
    headers = auth if auth is not None else basic_auth(EXCHANGER_ID, EXCHANGER_SECRET)
    return app.client().post("/dex/token", data=form, headers=headers)


def test_exchange_for_an_access_token(machine_app: App) -> None:
    resp = exchange(machine_app)
    body = resp.get_json()
    assert resp.status_code == 200, body
    assert body["issued_token_type"] == ACCESS_TOKEN_TYPE
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 24 * 3600
    assert "refresh_token" not in body and "id_token" not in body
    header, claims = read_jwt(machine_app, body["access_token"])
    assert header["typ"] == "at+jwt"
    assert claims["iss"] == ISSUER
    assert claims["sub"] == tokens.encode_sub(KILGORE_TROUT.user_id, "mock")
    assert claims["client_id"] == EXCHANGER_ID
    assert claims["email"] == KILGORE_TROUT.email
    assert claims["groups"] == ["authors"]
    # the token works at /userinfo like any other access token
    info = machine_app.client().get(
        "/dex/userinfo", headers={"Authorization": f"Bearer {body['access_token']}"}
    )
    assert info.status_code == 200 and info.get_json()["email"] == KILGORE_TROUT.email


def test_exchange_for_an_id_token(machine_app: App) -> None:
    resp = exchange(machine_app, requested_token_type=ID_TOKEN_TYPE)
    body = resp.get_json()
    assert resp.status_code == 200, body
    assert body["issued_token_type"] == ID_TOKEN_TYPE
    assert body["token_type"] == "N_A"  # RFC 8693 §2.2.1: not an access token
    header, claims = read_jwt(machine_app, body["access_token"])
    assert header.get("typ") != "at+jwt"
    assert claims["aud"] == EXCHANGER_ID
    assert claims["sub"] == tokens.encode_sub(KILGORE_TROUT.user_id, "mock")


def test_groups_go_through_the_teams_engine(make_app: Callable[..., App]) -> None:
    overrides = machine_overrides()
    overrides["teams"] = {"rules": [{"exact": "authors", "team": "writers"}]}
    app = make_app(**overrides)
    resp = exchange(app)
    assert resp.status_code == 200, resp.get_json()
    _, claims = read_jwt(app, resp.get_json()["access_token"])
    assert claims["groups"] == ["writers"]


def test_offline_access_is_not_granted(machine_app: App) -> None:
    resp = exchange(machine_app, scope="openid offline_access")
    body = resp.get_json()
    assert resp.status_code == 200, body
    assert "refresh_token" not in body
    assert body["scope"] == "openid"


def test_audience_names_a_peer_that_trusts_the_client(make_app: Callable[..., App]) -> None:
    peer = {"id": "api", "secret": "api-secret-api-secret", "trustedPeers": [EXCHANGER_ID]}
    app = make_app(**machine_overrides(clients=[peer]))
    resp = exchange(app, audience="api", requested_token_type=ID_TOKEN_TYPE)
    assert resp.status_code == 200, resp.get_json()
    _, claims = read_jwt(app, resp.get_json()["access_token"])
    assert claims["aud"] == "api" and claims["azp"] == EXCHANGER_ID
    refused = exchange(app, audience="peer-app")  # peer-app does not trust the exchanger
    assert refused.status_code == 400 and refused.get_json()["error"] == "invalid_scope"
    unknown = exchange(app, audience="nobody")
    assert unknown.status_code == 400 and unknown.get_json()["error"] == "invalid_target"


def test_public_clients_may_exchange(machine_app: App) -> None:
    resp = exchange(machine_app, {}, client_id="public-machine")
    assert resp.status_code == 200, resp.get_json()


def test_refused_for_a_connector_the_client_may_not_use(make_app: Callable[..., App]) -> None:
    limited = {
        "id": "limited",
        "secret": "limited-secret-limited",
        "allowedConnectors": ["mock"],
    }
    app = make_app(**machine_overrides(clients=[limited]))
    auth = basic_auth("limited", "limited-secret-limited")
    assert exchange(app, auth).status_code == 200
    resp = exchange(app, auth, connector_id="mock2")
    assert resp.status_code == 400 and resp.get_json()["error"] == "invalid_grant"


def test_refused_for_a_connector_without_the_capability(machine_app: App) -> None:
    resp = exchange(machine_app, connector_id="mockpw")
    assert resp.status_code == 400
    body = resp.get_json()
    assert body["error"] == "invalid_request" and "cannot verify" in body["error_description"]


def test_refused_for_an_unknown_connector(machine_app: App) -> None:
    resp = exchange(machine_app, connector_id="nope")
    assert resp.status_code == 400 and resp.get_json()["error"] == "invalid_request"


def test_refused_for_a_bad_subject_token(machine_app: App) -> None:
    resp = exchange(machine_app, subject_token="forged-token")
    assert resp.status_code == 400
    body = resp.get_json()
    assert body["error"] == "invalid_request" and "subject token" in body["error_description"]


@pytest.mark.parametrize("missing", ["subject_token", "subject_token_type", "connector_id"])
def test_refused_without_a_required_parameter(machine_app: App, missing: str) -> None:
    resp = exchange(machine_app, **{missing: None})
    assert resp.status_code == 400
    body = resp.get_json()
    assert body["error"] == "invalid_request" and missing in body["error_description"]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("subject_token_type", "urn:ietf:params:oauth:token-type:saml2"),
        ("requested_token_type", "urn:ietf:params:oauth:token-type:refresh_token"),
        ("actor_token", "someone-else"),
    ],
)
def test_refused_for_unsupported_types_and_delegation(
    machine_app: App, name: str, value: str
) -> None:
    resp = exchange(machine_app, **{name: value})
    assert resp.status_code == 400 and resp.get_json()["error"] == "invalid_request"


def test_refused_for_a_client_not_allowed_the_grant(machine_app: App) -> None:
    resp = exchange(machine_app, basic_auth(MACHINE_ID, MACHINE_SECRET))
    assert resp.status_code == 400 and resp.get_json()["error"] == "unauthorized_client"


@pytest.mark.parametrize(
    "mfa",
    [{"required": True}, {"connectors": ["mock"]}, {"teams": ["authors"]}],
    ids=["required", "connector", "team"],
)
def test_refused_when_the_mfa_policy_covers_the_user(
    make_app: Callable[..., App], mfa: dict[str, Any]
) -> None:
    """A subject token proves no second factor and there is no page to ask for one: a token
    exchange must not get around mfa.required / mfa.connectors / mfa.teams."""
    app = make_app(**machine_overrides(), mfa=mfa)
    resp = exchange(app)
    assert resp.status_code == 400
    assert resp.get_json()["error"] == "invalid_grant"
    assert "second factor" in resp.get_json()["error_description"]
    other = make_app(**machine_overrides(), mfa={"teams": ["admins"]})  # not Kilgore's team
    assert exchange(other).status_code == 200
