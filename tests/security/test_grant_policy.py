"""Client policy on every grant, against a live dex-py (the class of Dex advisory
GHSA-7qjx-gp9h-65qj: a rule enforced in one grant but missing in another).

Protection: ``dex_py.oauth.policy`` (``check_grant_policy`` before any grant runs,
``check_issue_policy`` on whatever identity a grant is about to issue tokens for) and the
authorization endpoint's ``check_connector`` / ``check_grant_allowed`` and SSO ``_usable``
checks. A client limited by ``grantTypes``, ``allowedConnectors`` or ``allowedGroups`` must
not obtain tokens through *any* route: the authorization endpoint (with or without an SSO
session), the password, refresh-token, client-credentials and token-exchange grants.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.conformance.conftest import OP, conformance_config
from tests.conformance.rp import ClientInfo
from tests.conformance.verifier import Verifier
from tests.live import ADMIN_EMAIL, ADMIN_PASSWORD, deep_merge, live_server
from tests.security.conftest import (
    CLIENT,
    CODE_ONLY,
    CONN_CLIENT,
    CONN_ID,
    GROUPS_CLIENT,
    MACHINE_ID,
    MACHINE_SECRET,
    PUBLIC,
    TOKEN_EXCHANGE,
    connector_of,
    security_config,
)

pytestmark = pytest.mark.live

MOCK_SUBJECT_TOKEN = "mock-subject-token-for-tests"  # the mockCallback test double's token
MACHINE = ClientInfo(MACHINE_ID, MACHINE_SECRET, "")


def post_token(op: OP, client: ClientInfo, data: dict[str, str]) -> requests.Response:
    auth = (client.id, client.secret) if client.secret else None
    if auth is None:
        data = {**data, "client_id": client.id}
    return requests.post(op.meta["token_endpoint"], data=data, auth=auth, timeout=10)


def password_grant(_: OP) -> dict[str, str]:
    return {
        "grant_type": "password",
        "username": ADMIN_EMAIL,
        "password": ADMIN_PASSWORD,
        "scope": "openid offline_access",
    }


def client_credentials(_: OP) -> dict[str, str]:
    return {"grant_type": "client_credentials"}


def token_exchange(connector: str) -> Callable[[OP], dict[str, str]]:
    def build(_: OP) -> dict[str, str]:
        return {
            "grant_type": TOKEN_EXCHANGE,
            "subject_token": MOCK_SUBJECT_TOKEN,
            "subject_token_type": "urn:ietf:params:oauth:token-type:access_token",
            "connector_id": connector,
            "scope": "openid",
        }

    return build


def refresh_of(client: ClientInfo) -> Callable[[OP], dict[str, str]]:
    """A refresh token the client legitimately got from a code flow."""

    def build(op: OP) -> dict[str, str]:
        flow = op.rp(client).login(op.browser(), "openid offline_access")
        return {"grant_type": "refresh_token", "refresh_token": flow.tokens["refresh_token"]}

    return build


# (client, request, expected errors). Every row is a way to get tokens the policy forbids.
MATRIX: list[tuple[str, ClientInfo, Callable[[OP], dict[str, str]], set[str]]] = [
    (
        "grantTypes:code-only/refresh_token",
        CODE_ONLY,
        refresh_of(CODE_ONLY),
        {"unauthorized_client"},
    ),
    ("grantTypes:code-only/password", CODE_ONLY, password_grant, {"unauthorized_client"}),
    (
        "grantTypes:code-only/client_credentials",
        CODE_ONLY,
        client_credentials,
        {"unauthorized_client"},
    ),
    (
        "grantTypes:code-only/token_exchange",
        CODE_ONLY,
        token_exchange("mock"),
        {"unauthorized_client"},
    ),
    ("grantTypes:machine/password", MACHINE, password_grant, {"unauthorized_client"}),
    ("grantTypes:machine/token_exchange", MACHINE, token_exchange("mock"), {"unauthorized_client"}),
    ("grantTypes:opt-in/client_credentials", CLIENT, client_credentials, {"unauthorized_client"}),
    ("public/password", PUBLIC, password_grant, {"unauthorized_client"}),
    ("public/client_credentials", PUBLIC, client_credentials, {"unauthorized_client"}),
    ("allowedConnectors/password", CONN_CLIENT, password_grant, {"invalid_grant"}),
    ("allowedConnectors/token_exchange", CONN_CLIENT, token_exchange("mock2"), {"invalid_grant"}),
    ("allowedGroups/password", GROUPS_CLIENT, password_grant, {"invalid_grant"}),
    ("allowedGroups/token_exchange", GROUPS_CLIENT, token_exchange("mock"), {"invalid_grant"}),
]


@pytest.mark.parametrize(
    ("client", "build", "errors"), [m[1:] for m in MATRIX], ids=[m[0] for m in MATRIX]
)
def test_policy_on_every_token_grant(
    op: OP, client: ClientInfo, build: Callable[[OP], dict[str, str]], errors: set[str]
) -> None:
    """Each (restriction, grant) pair of the matrix is refused with the right error."""
    resp = post_token(op, client, build(op))
    op.verifier.token_error(resp, errors)
    assert "access_token" not in resp.text


@pytest.mark.parametrize(
    ("client", "build"),
    [
        (MACHINE, client_credentials),
        (CONN_CLIENT, token_exchange("mock")),
        (CLIENT, password_grant),
        (CLIENT, token_exchange("mock2")),
    ],
    ids=[
        "machine/client_credentials",
        "allowedConnectors/token_exchange-allowed",
        "password",
        "token_exchange",
    ],
)
def test_policy_controls_allowed_grants_work(
    op: OP, client: ClientInfo, build: Callable[[OP], dict[str, str]]
) -> None:
    """Control for the matrix: the same requests succeed where policy allows them, so the
    refusals above come from the policy and not from a broken grant."""
    resp = post_token(op, client, build(op))
    assert resp.status_code == 200, resp.text
    assert resp.json()["access_token"]


def test_allowed_connectors_at_authorization_endpoint(op: OP) -> None:
    """allowedConnectors at /auth: a disallowed connector_id is unauthorized_client; the
    connector URL of a disallowed connector refuses the request; the user only ever logs in
    through an allowed connector."""
    rp = op.rp(CONN_CLIENT)
    flow = rp.authorize(op.browser(), connector_id="local", login=False)
    assert flow.response.params.get("error") == "unauthorized_client"

    browser = op.browser()
    first = browser.open(rp.request().url)
    assert first.is_redirect and "/auth/mock?" in first.headers["Location"], "only mock offered"
    req_id = first.headers["Location"].rsplit("req=", 1)[1]
    sneaky = browser.open(f"{op.issuer}/auth/local?req={req_id}")
    assert not (sneaky.is_redirect and "/auth/local/login" in sneaky.headers["Location"])
    if sneaky.is_redirect:
        assert "error=unauthorized_client" in sneaky.headers["Location"]
    else:
        assert sneaky.status_code >= 400
    direct = browser.open(f"{op.issuer}/auth/local?" + rp.request().url.split("?", 1)[1])
    assert not (direct.is_redirect and "/auth/local/login" in direct.headers["Location"])

    ok = rp.login(op.browser())
    assert connector_of(ok.claims["sub"]) == "mock"


def test_allowed_connectors_sso_session_not_reused(op: OP) -> None:
    """An SSO session from a connector the client may not use does not answer its requests:
    prompt=none gives login_required, and an interactive request logs in through an allowed
    connector."""
    browser = op.browser()
    op.rp(CLIENT).login(browser)  # session via the password DB ("local")
    rp = op.rp(CONN_CLIENT)
    silent = rp.authorize(browser, prompt="none", login=False)
    assert silent.response.params.get("error") == "login_required"
    flow = rp.login(browser)
    assert connector_of(flow.claims["sub"]) == "mock"


def test_grant_types_at_authorization_endpoint(op: OP) -> None:
    """grantTypes at /auth: a client without the implicit grant gets unauthorized_client for
    response_type=id_token, with or without an SSO session."""
    browser = op.browser()
    op.rp(CLIENT).login(browser)
    rp = op.rp(CODE_ONLY, response_type="id_token token")
    for b in (op.browser(), browser):
        flow = rp.authorize(b, login=False)
        assert flow.response.params.get("error") == "unauthorized_client"
        assert "access_token" not in flow.response.params


def test_allowed_groups_at_authorization_endpoint(op: OP) -> None:
    """allowedGroups at /auth: a user outside the groups gets access_denied after login, and
    an existing SSO session does not bypass it."""
    rp = op.rp(GROUPS_CLIENT)
    flow = rp.authorize(op.browser())
    assert flow.response.params.get("error") == "access_denied"
    browser = op.browser()
    op.rp(CLIENT).login(browser)
    silent = rp.authorize(browser, prompt="none", login=False)
    assert silent.response.params.get("error") in ("login_required", "access_denied")
    assert "code" not in silent.response.params


def _restricted(jwks_uri: str, storage: dict[str, Any], allowed: list[str]) -> dict[str, Any]:
    config = deep_merge(conformance_config(jwks_uri), security_config(jwks_uri))
    for client in config["staticClients"]:
        if client["id"] == CONN_ID:
            client["allowedConnectors"] = allowed
    config["storage"] = storage
    return config


def test_allowed_connectors_refresh_after_policy_change(tmp_path: Path) -> None:
    """A refresh token obtained through a connector the client is later forbidden to use is
    refused (GHSA-7qjx-gp9h-65qj's exact shape: the refresh grant must re-check
    allowedConnectors). Two servers share one database; the second restricts the client."""
    storage = {"type": "sqlite3", "config": {"file": str(tmp_path / "shared.sqlite3")}}
    unused = "http://127.0.0.1:9/jwks"
    before = live_server(_restricted(unused, storage, []), base_dir=tmp_path)
    try:
        op_before = OP(before, Verifier(before.issuer))
        resp = post_token(op_before, CONN_CLIENT, password_grant(op_before))
        assert resp.status_code == 200, resp.text
        refresh_token = resp.json()["refresh_token"]
    finally:
        before.stop()
    after = live_server(_restricted(unused, storage, ["mock"]), base_dir=tmp_path)
    try:
        op_after = OP(after, Verifier(after.issuer))
        resp = post_token(
            op_after, CONN_CLIENT, {"grant_type": "refresh_token", "refresh_token": refresh_token}
        )
        op_after.verifier.token_error(resp, "invalid_grant")
    finally:
        after.stop()
