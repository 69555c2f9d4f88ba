"""The example app against a live dex-py server: login, verified claims, refresh, refusals."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from tests.example_app.conftest import callback_path, start_login
from tests.example_app.pages import element_text, form_fields
from tests.live import ADMIN_EMAIL, ADMIN_GROUPS, ADMIN_PASSWORD, EXAMPLE_CLIENT_ID, verify_id_token
from tests.login_flow import login_password

pytestmark = pytest.mark.live


def _claims(html: str) -> dict:
    text = element_text(html, "claims")
    assert text is not None, html
    return json.loads(text)


def test_authorize_request_uses_pkce_state_nonce_and_chosen_scopes(example_app, live_issuer):
    client = example_app.test_client()
    url = start_login(
        client, email="1", groups="1", extra_scopes="federated:id", connector_id="local"
    )
    assert url.startswith(live_issuer.url("/auth?"))
    query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    assert query["client_id"] == EXAMPLE_CLIENT_ID
    assert query["response_type"] == "code"
    assert query["code_challenge_method"] == "S256"
    assert len(query["code_challenge"]) == 43
    assert query["state"] and query["nonce"] and query["state"] != query["nonce"]
    assert query["scope"].split() == ["openid", "email", "groups", "federated:id"]
    assert query["connector_id"] == "local"


def test_full_login_shows_verified_claims_tokens_and_userinfo(log_in, live_issuer):
    _client, html = log_in()
    claims = _claims(html)
    assert claims["email"] == ADMIN_EMAIL
    assert set(ADMIN_GROUPS) <= set(claims["groups"])
    assert claims["aud"] in (EXAMPLE_CLIENT_ID, [EXAMPLE_CLIENT_ID])

    id_token = element_text(html, "id-token")
    access_token = element_text(html, "access-token")
    assert id_token and access_token
    assert element_text(html, "refresh-token")  # offline_access was requested
    assert element_text(html, "refresh") is not None  # the refresh button
    # The raw token on the page passes an independent verifier and matches the shown claims.
    verified = verify_id_token(
        live_issuer.issuer, id_token, audience=EXAMPLE_CLIENT_ID, access_token=access_token
    )
    assert verified == claims
    userinfo = json.loads(element_text(html, "userinfo") or "{}")
    assert userinfo["email"] == ADMIN_EMAIL
    assert userinfo["sub"] == claims["sub"]


def test_without_offline_access_there_is_no_refresh_button(log_in):
    _client, html = log_in(email="1")
    assert _claims(html)["email"] == ADMIN_EMAIL
    assert element_text(html, "refresh-token") is None
    assert element_text(html, "refresh") is None


def test_refresh_button_yields_new_tokens(log_in):
    client, html = log_in()
    old_access = element_text(html, "access-token")
    old_refresh = element_text(html, "refresh-token")
    resp = client.post("/refresh", data=form_fields(html, "/refresh"))
    page = resp.get_data(as_text=True)
    assert resp.status_code == 200, page
    new_access = element_text(page, "access-token")
    new_refresh = element_text(page, "refresh-token")
    assert new_access and new_access != old_access
    assert new_refresh and new_refresh != old_refresh  # rotation is on by default
    assert _claims(page)["email"] == ADMIN_EMAIL


def test_refresh_without_csrf_token_is_refused(log_in):
    client, html = log_in()
    fields = form_fields(html, "/refresh")
    fields["csrf_token"] = "forged"
    resp = client.post("/refresh", data=fields)
    assert resp.status_code == 400
    assert "CSRF" in resp.get_data(as_text=True)
    assert element_text(resp.get_data(as_text=True), "access-token") is None


def test_callback_with_wrong_state_is_refused(example_app):
    client = example_app.test_client()
    authorize_url = start_login(client)
    with requests.Session() as browser:
        redirect_url = login_password(browser, authorize_url, ADMIN_EMAIL, ADMIN_PASSWORD)
    path = callback_path(redirect_url)
    real_state = parse_qs(urlsplit(path).query)["state"][0]
    resp = client.get(path.replace(f"state={real_state}", "state=forged"))
    html = resp.get_data(as_text=True)
    assert resp.status_code == 400
    assert "state" in (element_text(html, "error-message") or "")
    assert element_text(html, "claims") is None
    # The login is spent: the genuine callback is not accepted afterwards either.
    assert client.get(path).status_code == 400


def test_callback_without_started_login_is_refused(example_app):
    resp = example_app.test_client().get("/callback?code=abc&state=xyz")
    assert resp.status_code == 400
    assert element_text(resp.get_data(as_text=True), "claims") is None


def test_issuer_error_in_callback_renders_error_page(example_app):
    client = example_app.test_client()
    state = parse_qs(urlsplit(start_login(client)).query)["state"][0]
    resp = client.get(f"/callback?error=access_denied&error_description=User+said+no&state={state}")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 400
    assert "access_denied" in (element_text(html, "error-title") or "")
    assert element_text(html, "error-message") == "User said no"


def test_denied_approval_shows_the_issuers_error(example_app):
    client = example_app.test_client()
    authorize_url = start_login(client)
    with requests.Session() as browser:
        redirect_url = login_password(
            browser, authorize_url, ADMIN_EMAIL, ADMIN_PASSWORD, approval="rejected"
        )
    assert "code=" not in redirect_url
    resp = client.get(callback_path(redirect_url))
    html = resp.get_data(as_text=True)
    assert resp.status_code == 400
    assert "access_denied" in (element_text(html, "error-title") or "")
    assert element_text(html, "claims") is None
