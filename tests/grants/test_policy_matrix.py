"""The cross-grant rules of ``dex_py.oauth.policy`` run against every enabled grant (DESIGN §6):
a client's ``grantTypes`` and ``allowedConnectors`` mean the same whichever grant asks.

Each case prepares the grant's credential (code, refresh token, subject token ...) with an
unrestricted client, then restricts that client (a run-time client, so it can be updated) and
asks the token endpoint. ``client_credentials`` has no end user and no connector: the
``allowedConnectors`` rule does not apply to it (documented in ``policy``), which this test pins
down too.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from connectors.mock import MOCK_SUBJECT_TOKEN
from dex_py.clients import secret_digest
from dex_py.config import TOKEN_EXCHANGE_GRANT
from dex_py.storage.base import Client
from tests.grants.conftest import ALL_GRANTS, ID_TOKEN_TYPE, basic_auth
from tests.oauth.conftest import REDIRECT, App, auth_params, code_from, login_password

SUBJECT_ID = "subject"
SUBJECT_SECRET = "subject-secret-subject-secret"


def _post(app: App, data: dict[str, str]) -> Any:
    return app.client().post(
        "/dex/token", data=data, headers=basic_auth(SUBJECT_ID, SUBJECT_SECRET)
    )


def _code(app: App, scope: str = "openid") -> str:
    params = auth_params(client_id=SUBJECT_ID, scope=scope)
    return code_from(login_password(app.client(), params))["code"]


def prepare(app: App, grant: str) -> dict[str, str]:
    """A token request for ``grant`` that succeeds for the unrestricted client."""
    if grant == "authorization_code":
        return {"grant_type": grant, "code": _code(app), "redirect_uri": REDIRECT}
    if grant == "refresh_token":
        first = _post(
            app,
            {
                "grant_type": "authorization_code",
                "code": _code(app, "openid offline_access"),
                "redirect_uri": REDIRECT,
            },
        )
        assert first.status_code == 200, first.get_json()
        return {"grant_type": grant, "refresh_token": first.get_json()["refresh_token"]}
    if grant == "password":
        return {"grant_type": grant, "username": "admin@example.com", "password": "password"}
    if grant == "client_credentials":
        return {"grant_type": grant}
    assert grant == TOKEN_EXCHANGE_GRANT
    return {
        "grant_type": grant,
        "connector_id": "mock",
        "subject_token": MOCK_SUBJECT_TOKEN,
        "subject_token_type": ID_TOKEN_TYPE,
    }


def restrict(app: App, **changes: Any) -> None:
    app.svc.storage.update_client(SUBJECT_ID, lambda c: replace(c, **changes))


@pytest.fixture
def subject_app(machine_app: App) -> App:
    machine_app.svc.storage.create_client(
        Client(
            id=SUBJECT_ID,
            secret_hash=secret_digest(SUBJECT_SECRET),
            redirect_uris=(REDIRECT,),
            grant_types=(),
        )
    )
    return machine_app


# (rule, grant) -> expected (status, error); None = the rule does not apply, the grant succeeds.
NOT_APPLICABLE = {("allowed_connectors", "client_credentials")}


@pytest.mark.parametrize("grant", ALL_GRANTS)
@pytest.mark.parametrize("rule", ["none", "grant_types", "allowed_connectors"])
def test_client_rules_on_every_grant(subject_app: App, rule: str, grant: str) -> None:
    data = prepare(subject_app, grant)
    other = next(g for g in ALL_GRANTS if g != grant)
    changes: dict[str, Any] = {
        "none": {"grant_types": (grant,)},
        "grant_types": {"grant_types": (other,)},
        # the credential's connector is local (code, refresh, password) or mock (exchange)
        "allowed_connectors": {"grant_types": (grant,), "allowed_connectors": ("mock2",)},
    }[rule]
    restrict(subject_app, **changes)
    resp = _post(subject_app, data)
    body = resp.get_json()
    if rule == "none" or (rule, grant) in NOT_APPLICABLE:
        assert resp.status_code == 200, body
        assert body["access_token"]
    elif rule == "grant_types":
        assert (resp.status_code, body["error"]) == (400, "unauthorized_client"), body
    else:
        assert (resp.status_code, body["error"]) == (400, "invalid_grant"), body
        assert "connector" in body["error_description"]


@pytest.mark.parametrize("grant", ["client_credentials"])
def test_opt_in_grants_need_an_explicit_listing(subject_app: App, grant: str) -> None:
    """An empty ``grantTypes`` means "every usual grant", never an opt-in one."""
    resp = _post(subject_app, prepare(subject_app, grant))
    assert resp.status_code == 400 and resp.get_json()["error"] == "unauthorized_client"
