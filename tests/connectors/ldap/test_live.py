"""End to end: a live ``dex-py serve`` with the LDAP connector against the real OpenLDAP.

The HTML password form is driven with ``requests`` (and, in the browser test, by headless
Chromium through the chooser); tokens come from authlib's client and the ID token is checked
with the independent verifier of ``tests/live.py``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session
from ldap3 import MODIFY_ADD

from tests.chromium import CHROMIUM, chromium
from tests.live import (
    EXAMPLE_CLIENT_ID,
    EXAMPLE_CLIENT_SECRET,
    EXAMPLE_REDIRECT_URI,
    LiveServer,
    verify_id_token,
    verify_token_response,
)
from tests.login_flow import discovery, example_client, parse_page, pkce_login
from tests.services import missing_service

pytestmark = [pytest.mark.ldap, pytest.mark.live]

SCOPES = "openid email profile groups offline_access"


def ldap_connector(ldap_service, mode: str = "starttls") -> dict[str, Any]:
    return {"type": "ldap", "id": "ldap", "name": "OpenLDAP", "config": ldap_service.config(mode)}


def only_ldap(ldap_service, mode: str = "starttls") -> dict[str, Any]:
    """Config overrides: the LDAP connector alone, so ``/auth`` goes straight to its form."""
    return {"connectors": [ldap_connector(ldap_service, mode)], "enablePasswordDB": False}


def client_for(server: LiveServer) -> tuple[OAuth2Session, dict[str, Any]]:
    return example_client(), discovery(server.issuer)


def log_in(server: LiveServer, username: str, password: str) -> tuple[dict, dict, OAuth2Session]:
    """The code flow with PKCE through the HTML form; returns (token, ID token claims, client)."""
    client = example_client()
    token, nonce = pkce_login(server, client, SCOPES, username, password)
    claims = verify_token_response(server.issuer, token, audience=EXAMPLE_CLIENT_ID, nonce=nonce)
    return token, claims, client


def refresh(server: LiveServer, refresh_token: str) -> requests.Response:
    return requests.post(
        server.url("/token"),
        data={"grant_type": "refresh_token", "refresh_token": refresh_token},
        auth=(EXAMPLE_CLIENT_ID, EXAMPLE_CLIENT_SECRET),
        timeout=10,
    )


def test_login_refresh_and_group_change_through_live_server(
    make_live_server, ldap_service, directory
):
    server = make_live_server(only_ldap(ldap_service))
    token, claims, _ = log_in(server, "alice", "alice-secret")
    assert claims["email"] == "alice@example.org"
    assert claims["name"] == "Alice Anderson"
    assert claims["preferred_username"] == "alice"
    assert set(claims["groups"]) == {"admins", "developers"}

    group = directory.add_group(f"live-{directory.tag}", ["uid=bob,ou=People,dc=example,dc=org"])
    directory.modify(group, {"member": [(MODIFY_ADD, ["uid=alice,ou=People,dc=example,dc=org"])]})
    resp = refresh(server, token["refresh_token"])
    assert resp.status_code == 200, resp.text
    new_claims = verify_id_token(server.issuer, resp.json()["id_token"], audience=EXAMPLE_CLIENT_ID)
    assert new_claims["sub"] == claims["sub"]
    assert f"live-{directory.tag}" in new_claims["groups"]


def test_deleted_user_cannot_refresh(make_live_server, ldap_service, directory):
    uid = f"live-leaver-{directory.tag}"
    dn = directory.add_user(uid, "leaver-secret", cn="Zoë Leaver")
    server = make_live_server(only_ldap(ldap_service, "ldaps"))
    token, claims, _ = log_in(server, uid, "leaver-secret")
    assert claims["name"] == "Zoë Leaver"
    directory.delete(dn)
    resp = refresh(server, token["refresh_token"])
    assert resp.status_code == 400 and resp.json()["error"] == "invalid_grant", resp.text


def test_wrong_password_shows_the_form_again(make_live_server, ldap_service):
    server = make_live_server(only_ldap(ldap_service))
    client, meta = client_for(server)
    url, _ = client.create_authorization_url(meta["authorization_endpoint"], scope="openid")
    session = requests.Session()
    page = session.get(url, timeout=10)  # one connector: straight to its form
    assert page.status_code == 200
    form = next(
        f
        for f in parse_page(page.text).forms
        if any(i.get("name") == "password" for i in f["inputs"])
    )
    hidden = {i["name"]: i.get("value", "") for i in form["inputs"] if i.get("type") == "hidden"}
    for username in ("alice", "*", "alice)(uid=*"):
        resp = session.post(
            urljoin(page.url, form["action"]),
            data={**hidden, "login": username, "password": "wrong"},
            allow_redirects=False,
            timeout=10,
        )
        assert resp.status_code in (200, 401), resp.status_code
        assert "Invalid username or password" in resp.text
        assert "code=" not in resp.headers.get("Location", "")


@pytest.mark.browser
def test_browser_logs_in_through_the_chooser(make_live_server, ldap_service):
    if not CHROMIUM.exists():
        missing_service("chromium", f"{CHROMIUM} is not installed")
    server = make_live_server({"connectors": [ldap_connector(ldap_service)]})
    client, meta = client_for(server)
    url, state = client.create_authorization_url(
        meta["authorization_endpoint"], scope="openid email profile groups"
    )
    with chromium() as browser:
        page = browser.new_page()
        # Nothing listens on the client's redirect URI: let the request show, then stop it.
        page.route(EXAMPLE_REDIRECT_URI + "**", lambda route: route.abort())
        page.goto(url)
        page.click('a[href*="/auth/ldap"]')  # the chooser lists "Email" and "OpenLDAP"
        page.wait_for_selector("#password")
        assert page.inner_text('label[for="login"]') == "Username"
        page.fill("#login", "zoe")
        page.fill("#password", "zoe-secret")
        page.locator("#password").press("Enter")
        page.wait_for_url(server.url("/approval") + "**")
        with page.expect_request(lambda r: r.url.startswith(EXAMPLE_REDIRECT_URI)) as sent:
            page.click('button[name="approval"][value="approve"]')
        redirect = sent.value.url
    query = parse_qs(urlsplit(redirect).query)
    assert query["state"] == [state]
    token = client.fetch_token(meta["token_endpoint"], code=query["code"][0])
    claims = verify_id_token(server.issuer, token["id_token"], audience=EXAMPLE_CLIENT_ID)
    assert claims["email"] == "zoe@example.org"
    assert claims["groups"] == ["developers"]
    assert claims["name"] == "Zoë Ångström"
