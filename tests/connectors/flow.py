"""Driving logins in the connector tests: straight through a connector (``connector_login``), or
through a live dex-py server with an authlib client (``live_login``; the browser part is
``tests.login_flow.follow_login``)."""

from __future__ import annotations

import base64
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urljoin, urlsplit

import requests
from authlib.integrations.requests_client import OAuth2Session

from connectors.base import CallbackConnector, CallbackRequest, Identity, Scopes
from tests.live import (
    EXAMPLE_CLIENT_ID,
    EXAMPLE_REDIRECT_URI,
    LiveServer,
    verify_token_response,
)
from tests.login_flow import example_client, follow_login

CALLBACK_URL = "http://dex.test/dex/callback"


def connector_login(
    connector: CallbackConnector,
    scopes: Scopes,
    *,
    callback_url: str = CALLBACK_URL,
    state: str = "st-1",
) -> Identity:
    """What the server does for one login, with ``requests`` playing the browser upstream."""
    url, login_state = connector.login_url(scopes, callback_url, state)
    resp = requests.get(url, allow_redirects=False, timeout=10)
    assert resp.is_redirect, f"{url} -> {resp.status_code}: {resp.text[:300]}"
    location = resp.headers["Location"]
    assert location.startswith(callback_url + "?"), location
    args = dict(parse_qsl(urlsplit(location).query))
    assert args["state"] == state
    return connector.handle_callback(scopes, CallbackRequest(url=location, args=args), login_state)


@dataclass
class LiveLogin:
    client: OAuth2Session
    token: dict[str, Any]
    claims: dict[str, Any]


def start_login(
    server: LiveServer, connector_id: str, scope: str
) -> tuple[OAuth2Session, requests.Session, requests.Response, str]:
    """Begin an authorization request for ``connector_id``; returns (client, browser session,
    the issuer's first response, nonce)."""
    client = example_client()
    nonce = secrets.token_urlsafe(8)
    url, _state = client.create_authorization_url(
        server.url("/auth"), nonce=nonce, scope=scope, connector_id=connector_id
    )
    browser = requests.Session()
    return client, browser, browser.get(url, allow_redirects=False, timeout=10), nonce


def follow_until(browser: requests.Session, resp: requests.Response, path: str) -> str:
    """Follow redirects until one points at ``path``; return that URL without requesting it."""
    for _ in range(10):
        assert resp.is_redirect, f"{resp.url} -> {resp.status_code}: {resp.text[:500]}"
        location = urljoin(resp.url, resp.headers["Location"])
        if urlsplit(location).path == path:
            return location
        resp = browser.get(location, allow_redirects=False, timeout=10)
    raise AssertionError(f"never redirected to {path}")


def login_page_error(server: LiveServer, connector_id: str) -> requests.Response:
    """Start a login with ``connector_id`` and follow redirects to the first page; for logins
    expected to fail (the page is the error)."""
    _, browser, resp, _ = start_login(server, connector_id, "openid email groups")
    for _ in range(10):
        if not resp.is_redirect:
            return resp
        location = urljoin(resp.url, resp.headers["Location"])
        assert not location.startswith(EXAMPLE_REDIRECT_URI), f"login succeeded: {location}"
        resp = browser.get(location, allow_redirects=False, timeout=10)
    raise AssertionError("too many redirects")


def dex_sub(user_id: str, connector_id: str) -> str:
    """Dex's ``sub``: base64url (no padding) of protobuf ``{1: user_id, 2: connector_id}``."""
    raw = b""
    for field_no, value in ((1, user_id.encode()), (2, connector_id.encode())):
        assert len(value) < 128
        raw += bytes([field_no << 3 | 2, len(value)]) + value
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def finish(server: LiveServer, client: OAuth2Session, callback: str, nonce: str) -> LiveLogin:
    query = dict(parse_qsl(urlsplit(callback).query))
    assert "code" in query, f"no code in {callback}"
    token = client.fetch_token(server.url("/token"), authorization_response=callback)
    claims = verify_token_response(server.issuer, token, audience=EXAMPLE_CLIENT_ID, nonce=nonce)
    return LiveLogin(client, token, claims)


def live_login(
    server: LiveServer,
    connector_id: str,
    scope: str = "openid email profile groups offline_access",
    *,
    headers_for: Mapping[str, Mapping[str, str]] | None = None,
) -> LiveLogin:
    """A whole login through the live server: authorize, connector, approval, token."""
    client, browser, resp, nonce = start_login(server, connector_id, scope)
    return finish(server, client, follow_login(browser, resp, headers_for=headers_for), nonce)


def live_refresh(server: LiveServer, login: LiveLogin) -> tuple[dict[str, Any], dict[str, Any]]:
    """Refresh at the live server; returns (token response, verified ID token claims)."""
    token = login.client.refresh_token(
        server.url("/token"), refresh_token=login.token["refresh_token"]
    )
    claims = verify_token_response(server.issuer, token, audience=EXAMPLE_CLIENT_ID)
    return token, claims
