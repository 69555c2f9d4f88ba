"""Drive a whole login with ``requests``: client -> dex-py ``/auth`` (chooser) -> the upstream's dev
login page (via ``dev_login``) -> dex-py ``/callback`` -> approval -> the client's redirect URI,
then redeem the code with authlib's client and verify the ID token independently."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
from authlib.integrations.requests_client import OAuth2Session

from tests.live import (
    EXAMPLE_CLIENT_ID,
    EXAMPLE_CLIENT_SECRET,
    EXAMPLE_REDIRECT_URI,
    LiveServer,
    parse_page,
    verify_id_token,
)


def example_client(scope: str) -> OAuth2Session:
    return OAuth2Session(
        EXAMPLE_CLIENT_ID,
        EXAMPLE_CLIENT_SECRET,
        redirect_uri=EXAMPLE_REDIRECT_URI,
        scope=scope,
        token_endpoint_auth_method="client_secret_basic",
    )


def browse_to_client(
    server: LiveServer,
    authorize_url: str,
    *,
    upstream_issuer: str,
    dev_login: Callable[..., str],
    username: str,
    connector_id: str,
) -> str:
    """Follow the flow until dex-py redirects to the client; return that URL (not fetched)."""
    browser = requests.Session()
    resp = browser.get(authorize_url, allow_redirects=False, timeout=10)
    for _ in range(15):
        if resp.is_redirect:
            location = urljoin(resp.url, resp.headers["Location"])
            if location.startswith(EXAMPLE_REDIRECT_URI):
                return location
            if location.startswith(upstream_issuer + "/"):
                # The upstream's own pages; dev_login stops at the redirect to dex-py.
                location = dev_login(
                    location, server.url("/callback"), username=username, session=browser
                )
            resp = browser.get(location, allow_redirects=False, timeout=10)
            continue
        assert resp.status_code == 200, f"{resp.url} -> {resp.status_code}: {resp.text[:800]}"
        page = parse_page(resp.text)
        approval = next(
            (f for f in page.forms if any(i.get("name") == "req" for i in f["inputs"])), None
        )
        if approval is not None:
            data = {i["name"]: i.get("value", "") for i in approval["inputs"] if i.get("name")}
            data["approval"] = "approve"
            resp = browser.post(
                urljoin(resp.url, approval["action"] or resp.url),
                data=data,
                allow_redirects=False,
                timeout=10,
            )
            continue
        links = [
            h for h in page.links if urlsplit(urljoin(resp.url, h)).path.endswith(connector_id)
        ]
        assert links, f"no way forward at {resp.url}:\n{resp.text[:800]}"
        resp = browser.get(urljoin(resp.url, links[0]), allow_redirects=False, timeout=10)
    raise AssertionError("the login did not come back to the client")


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
    callback = browse_to_client(
        server,
        url,
        upstream_issuer=upstream_issuer,
        dev_login=dev_login,
        username=username,
        connector_id=connector_id,
    )
    token = client.fetch_token(server.url("/token"), authorization_response=callback)
    claims = verify_id_token(
        server.issuer,
        token["id_token"],
        audience=EXAMPLE_CLIENT_ID,
        nonce=nonce,
        access_token=token["access_token"],
    )
    return dict(token), claims, client
