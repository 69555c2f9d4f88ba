"""Helpers for the TokenReview webhook tests: a live server with ``kubernetes.tokenReview``,
tokens from it over real HTTP, and TokenReview requests as kube-apiserver sends them."""

from __future__ import annotations

import json
import secrets
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import requests
from jwcrypto.jwk import JWK
from jwcrypto.jwt import JWT

from dex_py.config import StorageConfig
from dex_py.storage import open_storage
from dex_py.storage.base import Storage
from tests.live import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    EXAMPLE_CLIENT_ID,
    EXAMPLE_CLIENT_SECRET,
    EXAMPLE_REDIRECT_URI,
    LiveServer,
)
from tests.login_flow import login_password

V1 = "authentication.k8s.io/v1"
V1BETA1 = "authentication.k8s.io/v1beta1"
CALLER_ENV = "DEXPY_TEST_TOKENREVIEW_CALLER"
# Fixed values: test ids (parametrized with them) must be the same in every xdist worker.
CALLER = "tokenreview-test-caller-3f9a1c7e52d04b86"
OTHER_CALLER = "tokenreview-second-caller-8e21b0d94c6f5a37"
CONNECTOR_EXTRA = "dex-py.io/connector-id"
SCOPES = "openid email groups profile offline_access"


def review_config(**overrides: Any) -> dict[str, Any]:
    """Config overrides: the webhook on, for ``example-app``, callers ``$CALLER_ENV`` and a
    literal second token; the password grant through the password DB; teams mapping
    ``admins`` to ``platform``; refresh reuse detected at once."""
    section: dict[str, Any] = {
        "audiences": [EXAMPLE_CLIENT_ID],
        "callerTokens": [f"${{{CALLER_ENV}}}", OTHER_CALLER],
    }
    section.update(overrides)
    return {
        "kubernetes": {"tokenReview": section},
        "oauth2": {"passwordConnector": "local"},
        "teams": {"rules": [{"exact": "admins", "team": "platform"}]},
        "expiry": {"refreshTokens": {"reuseInterval": "0s"}},
    }


def review(
    server: LiveServer,
    token: str,
    *,
    api_version: str = V1,
    audiences: list[str] | None = None,
    caller: str | None = CALLER,
) -> requests.Response:
    """POST a TokenReview for ``token`` as kube-apiserver does."""
    spec: dict[str, Any] = {"token": token}
    if audiences is not None:
        spec["audiences"] = audiences
    body = {"apiVersion": api_version, "kind": "TokenReview", "spec": spec}
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if caller is not None:
        headers["Authorization"] = f"Bearer {caller}"
    return requests.post(
        server.url("/kubernetes/tokenreview"), data=json.dumps(body), headers=headers, timeout=10
    )


def status_of(server: LiveServer, token: str, **kw: Any) -> dict[str, Any]:
    """``status`` of a 200 TokenReview answer (checked to be a TokenReview of the version)."""
    resp = review(server, token, **kw)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["kind"] == "TokenReview"
    assert body["apiVersion"] == kw.get("api_version", V1)
    status: dict[str, Any] = body["status"]
    return status


def authenticated(server: LiveServer, token: str, **kw: Any) -> bool:
    status = status_of(server, token, **kw)
    assert isinstance(status["authenticated"], bool)
    if not status["authenticated"]:
        assert "user" not in status
    return bool(status["authenticated"])


def password_tokens(
    server: LiveServer,
    email: str = ADMIN_EMAIL,
    password: str = ADMIN_PASSWORD,
    scope: str = SCOPES,
    *,
    client: tuple[str, str] = (EXAMPLE_CLIENT_ID, EXAMPLE_CLIENT_SECRET),
) -> dict[str, Any]:
    """A token response of the password grant."""
    resp = requests.post(
        server.url("/token"),
        data={"grant_type": "password", "username": email, "password": password, "scope": scope},
        auth=client,
        timeout=10,
    )
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    return body


def refresh(server: LiveServer, refresh_token: str) -> requests.Response:
    return requests.post(
        server.url("/token"),
        data={"grant_type": "refresh_token", "refresh_token": refresh_token},
        auth=(EXAMPLE_CLIENT_ID, EXAMPLE_CLIENT_SECRET),
        timeout=10,
    )


def browser_login(server: LiveServer, scope: str = SCOPES) -> tuple[requests.Session, dict]:
    """A browser login (code flow) through the password DB: the browser, holding the SSO
    session cookie, and the token response (its ID token carries ``sid``)."""
    browser = requests.Session()
    query = {
        "client_id": EXAMPLE_CLIENT_ID,
        "redirect_uri": EXAMPLE_REDIRECT_URI,
        "response_type": "code",
        "scope": scope,
        "state": secrets.token_urlsafe(8),
        "nonce": secrets.token_urlsafe(8),
    }
    url = server.url("/auth") + "?" + urlencode(query)
    callback = login_password(browser, url, ADMIN_EMAIL, ADMIN_PASSWORD)
    code = parse_qs(urlsplit(callback).query)["code"][0]
    resp = requests.post(
        server.url("/token"),
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": EXAMPLE_REDIRECT_URI,
        },
        auth=(EXAMPLE_CLIENT_ID, EXAMPLE_CLIENT_SECRET),
        timeout=10,
    )
    assert resp.status_code == 200, resp.text
    return browser, resp.json()


def server_storage(server: LiveServer) -> Storage:
    """The live server's own SQLite database, opened by the test (a second process)."""
    path = Path(server.config["storage"]["config"]["file"])
    return open_storage(StorageConfig(type="sqlite3", config={"file": str(path)}), migrate=False)


def forge(server: LiveServer, **claims: Any) -> str:
    """A JWT signed with the server's current signing key (read from its database) carrying
    ``claims`` over defaults of a valid ID token: to test each claim check on its own."""
    keys = server_storage(server).get_keys()
    key = JWK.from_json(keys.signing_key)
    now = int(time.time())
    body: dict[str, Any] = {
        "iss": server.issuer,
        "sub": "CiQwOGE4Njg0Yi1kYjg4LTRiNzMtOTBhOS0zY2QxNjYxZjU0NjYSBWxvY2Fs",
        "aud": EXAMPLE_CLIENT_ID,
        "exp": now + 600,
        "iat": now,
        "email": ADMIN_EMAIL,
        "email_verified": True,
        "groups": ["platform"],
    }
    body.update(claims)
    body = {k: v for k, v in body.items() if v is not None}
    header = {"alg": key["alg"], "kid": key["kid"]}
    token = JWT(header=header, claims=body)
    token.make_signed_token(key)
    return str(token.serialize())
