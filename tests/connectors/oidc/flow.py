"""Drive a whole login with ``requests``: client -> dex-py ``/auth`` (chooser) -> the upstream's dev
login page (via ``dev_login``) -> dex-py ``/callback`` -> approval -> the client's redirect URI,
then redeem the code with authlib's client and verify the ID token independently."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

import requests
from authlib.integrations.requests_client import OAuth2Session

from tests.connectors.flow import finish
from tests.live import LiveServer
from tests.login_flow import example_client, follow_login


def dex_login(
    server: LiveServer,
    *,
    upstream_issuer: str,
    dev_login: Callable[..., str],
    username: str,
    connector_id: str,
    scope: str = "openid profile email groups offline_access",
) -> tuple[dict[str, Any], dict[str, Any], OAuth2Session]:
    """Log in through the upstream; return (token response, verified ID token claims, client)."""
    client = example_client(scope)
    nonce = secrets.token_urlsafe(12)
    url, _ = client.create_authorization_url(server.url("/auth"), nonce=nonce)
    browser = requests.Session()

    def upstream_pages(location: str) -> str:
        """The upstream's own pages: ``dev_login`` stops at the redirect to dex-py."""
        if not location.startswith(upstream_issuer + "/"):
            return location
        return dev_login(location, server.url("/callback"), username=username, session=browser)

    callback = follow_login(
        browser,
        browser.get(url, allow_redirects=False, timeout=10),
        before_get=upstream_pages,
        chooser=connector_id,
    )
    login = finish(server, client, callback, nonce)
    return dict(login.token), login.claims, client
