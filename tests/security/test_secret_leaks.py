"""Secrets never in URLs or logs, on a live dex-py logging at debug level.

Protection: the token, introspection, revocation and UserInfo endpoints refuse credentials in
the query string (RFC 6749 §3.2, RFC 6750 §2.3 / §5.3: URLs end up in logs and Referer
headers); tokens are never delivered in a query string; and nothing logs a secret. The test runs
every kind of flow, collecting each secret it sees (client secrets, a user's password, codes,
PKCE verifiers, access/ID/refresh tokens, client assertions, subject tokens, cookies, CSRF
tokens), then scans the server's complete log for any of them.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import bcrypt
import pytest
import requests
from authlib.oauth2.rfc7523 import PrivateKeyJWT

from tests.conformance.conftest import KEYED_ID, KEYED_REDIRECT_URI, OP, start_op
from tests.conformance.rp import Browser, ClientInfo
from tests.live import ADMIN_GROUPS, ADMIN_HASH, ADMIN_USER_ID
from tests.login_flow import parse_page
from tests.security.conftest import (
    CLIENT,
    MACHINE_ID,
    MACHINE_SECRET,
    SECOND,
    TOKEN_EXCHANGE,
    security_config,
)

pytestmark = pytest.mark.live

LEAKY_EMAIL = "leaky@example.com"
LEAKY_PASSWORD = "Pw-" + secrets.token_urlsafe(18)
MOCK_SUBJECT_TOKEN = "mock-subject-token-for-tests"


def _config(jwks_uri: str) -> dict[str, Any]:
    config = security_config(jwks_uri)
    config["staticPasswords"] = [
        {
            "email": "admin@example.com",
            "hash": ADMIN_HASH,
            "username": "admin",
            "userID": ADMIN_USER_ID,
            "groups": ADMIN_GROUPS,
        },
        {
            "email": LEAKY_EMAIL,
            "hash": bcrypt.hashpw(LEAKY_PASSWORD.encode(), bcrypt.gensalt(4)).decode(),
            "username": "leaky",
            "userID": "5f0c7d1e-0000-4000-8000-00000000beef",
        },
    ]
    return config


@pytest.fixture(scope="module")
def op(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OP]:
    yield from start_op(tmp_path_factory, _config)


def test_credentials_in_query_string_refused(op: OP) -> None:
    """client_secret, tokens and passwords in the URL are refused, not used."""
    token_url = op.meta["token_endpoint"]
    resp = requests.post(
        token_url + "?client_secret=" + (CLIENT.secret or ""),
        data={"grant_type": "client_credentials", "client_id": CLIENT.id},
        timeout=10,
    )
    assert resp.status_code == 400 and resp.json()["error"] == "invalid_request"
    resp = requests.post(
        token_url + f"?grant_type=password&username={LEAKY_EMAIL}&password={LEAKY_PASSWORD}",
        auth=(CLIENT.id, CLIENT.secret or ""),
        data={},
        timeout=10,
    )
    assert resp.status_code == 400 and resp.json()["error"] == "invalid_request"
    for name in ("introspection_endpoint", "revocation_endpoint"):
        resp = requests.post(
            op.meta[name] + "?token=abc",
            auth=(CLIENT.id, CLIENT.secret or ""),
            data={"token": "abc"},
            timeout=10,
        )
        assert resp.status_code == 400, name
    flow = op.rp(CLIENT).login(op.browser())
    resp = requests.get(
        op.meta["userinfo_endpoint"],
        params={"access_token": flow.tokens["access_token"]},
        timeout=10,
    )
    assert resp.status_code == 400 and resp.json()["error"] == "invalid_request"


def test_tokens_never_in_query_string(op: OP) -> None:
    """Access and ID tokens from /auth are never put in a query string (OAuth 2.0 Multiple
    Response Types §3.0): response_mode=query with a token response type is refused."""
    for response_type in ("id_token token", "code id_token", "code token"):
        rp = op.rp(CLIENT, response_type=response_type, response_mode="query")
        flow = rp.authorize(op.browser(), login=False)
        assert flow.response.params.get("error") == "invalid_request", response_type
        assert not {"access_token", "id_token"} & set(flow.response.params)


def test_no_secrets_in_logs(op: OP) -> None:
    """Run every kind of flow, then scan the server log for each secret seen."""
    seen: list[str] = [CLIENT.secret or "", SECOND.secret or "", MACHINE_SECRET, LEAKY_PASSWORD]
    seen.append(MOCK_SUBJECT_TOKEN)

    # browser code flow with PKCE, form login of the leaky user; approval; SSO reuse
    browser = Browser(op.issuer, email=LEAKY_EMAIL, password=LEAKY_PASSWORD)
    rp = op.rp(CLIENT)
    flow = rp.login(browser, "openid email offline_access", pkce=True)
    seen += [flow.response.params["code"], flow.request.code_verifier or ""]
    seen += [flow.tokens["access_token"], flow.tokens["id_token"], flow.tokens["refresh_token"]]
    seen += [c.value or "" for c in browser.session.cookies]
    for page in browser.pages:
        for form in parse_page(page.text).forms:
            seen += [i.get("value", "") for i in form["inputs"] if i.get("name") == "csrf_token"]
    again = rp.login(browser, prompt="none", login=False)
    seen += [again.response.params["code"], again.tokens["access_token"]]

    # client_secret_post, refresh (rotation), userinfo, introspection, revocation
    post_rp = op.rp(ClientInfo(CLIENT.id, CLIENT.secret, CLIENT.redirect_uri, "client_secret_post"))
    post_flow = post_rp.login(browser, "openid offline_access", prompt="consent")
    seen += [post_flow.tokens["refresh_token"], post_flow.response.params["code"]]
    refreshed = rp.oauth().refresh_token(
        op.meta["token_endpoint"], refresh_token=flow.tokens["refresh_token"]
    )
    seen += [refreshed["refresh_token"], refreshed["access_token"], refreshed["id_token"]]
    assert rp.userinfo(refreshed["access_token"]).status_code == 200
    auth = (CLIENT.id, CLIENT.secret or "")
    for endpoint in ("introspection_endpoint", "revocation_endpoint"):
        resp = requests.post(
            op.meta[endpoint], data={"token": refreshed["refresh_token"]}, auth=auth, timeout=10
        )
        assert resp.status_code == 200
    # failures log too: a wrong secret, a replayed code, a bad refresh token, a wrong password
    wrong_secret = "wrong-" + secrets.token_urlsafe(16)
    seen.append(wrong_secret)
    requests.post(
        op.meta["token_endpoint"],
        data={"grant_type": "refresh_token", "refresh_token": refreshed["refresh_token"]},
        auth=(CLIENT.id, wrong_secret),
        timeout=10,
    )
    assert rp.code_request(flow).status_code == 400
    bad_password = "Bad-" + secrets.token_urlsafe(12)
    seen.append(bad_password)
    resp = requests.post(
        op.meta["token_endpoint"],
        data={"grant_type": "password", "username": LEAKY_EMAIL, "password": bad_password},
        auth=auth,
        timeout=10,
    )
    assert resp.status_code == 400

    # password grant, client credentials, token exchange
    resp = requests.post(
        op.meta["token_endpoint"],
        data={
            "grant_type": "password",
            "username": LEAKY_EMAIL,
            "password": LEAKY_PASSWORD,
            "scope": "openid offline_access",
        },
        auth=auth,
        timeout=10,
    )
    assert resp.status_code == 200, resp.text
    seen += [resp.json()["access_token"], resp.json()["refresh_token"]]
    resp = requests.post(
        op.meta["token_endpoint"],
        data={"grant_type": "client_credentials"},
        auth=(MACHINE_ID, MACHINE_SECRET),
        timeout=10,
    )
    assert resp.status_code == 200, resp.text
    seen.append(resp.json()["access_token"])
    resp = requests.post(
        op.meta["token_endpoint"],
        data={
            "grant_type": TOKEN_EXCHANGE,
            "subject_token": MOCK_SUBJECT_TOKEN,
            "subject_token_type": "urn:ietf:params:oauth:token-type:access_token",
            "connector_id": "mock",
        },
        auth=auth,
        timeout=10,
    )
    assert resp.status_code == 200, resp.text
    seen.append(resp.json()["access_token"])

    # private_key_jwt
    assert op.jwks_host is not None
    key = op.jwks_host.new_key("leak-key")
    pem = key.export_to_pem(private_key=True, password=None).decode()
    keyed = op.rp(
        ClientInfo(KEYED_ID, pem, KEYED_REDIRECT_URI, "private_key_jwt"),
        client_auth=PrivateKeyJWT(headers={"kid": "leak-key"}),
    )
    keyed_flow = keyed.login(Browser(op.issuer))
    seen += [keyed_flow.tokens["access_token"], keyed_flow.response.params["code"]]

    # logout with the hint
    resp = browser.open(
        op.meta["end_session_endpoint"] + "?id_token_hint=" + post_flow.tokens["id_token"]
    )
    assert resp.status_code in (200, 302)
    seen.append(post_flow.tokens["id_token"])

    log = op.server.log_text()
    assert "login succeeded" in log, "the log must contain the flows scanned"
    secrets_seen = {s for s in seen if s and len(s) >= 8}
    for value in secrets_seen:
        pieces = {value}
        if value.count(".") == 1:  # refresh token <id>.<secret>: the secret part alone
            pieces.add(value.split(".", 1)[1])
        if value.count(".") == 2:  # a JWT: its signature alone
            pieces.add(value.rsplit(".", 1)[1])
        for piece in pieces:
            assert piece not in log, f"a secret ({piece[:6]}…) appears in the server log"
