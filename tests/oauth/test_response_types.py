"""Response types and modes (OIDC Core §3.2, §3.3; OAuth 2.0 Multiple Response Type Encoding
Practices; OAuth 2.0 Form Post Response Mode)."""

from __future__ import annotations

import re
from collections.abc import Callable
from html import unescape
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from dex_py.jose import tokens
from tests.oauth.conftest import (
    CLIENT_ID,
    ISSUER,
    REDIRECT,
    App,
    auth_params,
    login_password,
    redirect_status,
)

ALL_TYPES = [
    "code",
    "id_token",
    "id_token token",
    "code id_token",
    "code token",
    "code id_token token",
    "token",
]


@pytest.fixture
def hybrid_app(make_app: Callable[..., App]) -> App:
    return make_app(oauth2={"responseTypes": ALL_TYPES})


def fragment(resp: Any) -> dict[str, str]:
    assert resp.status_code == redirect_status(resp), resp.get_data(as_text=True)
    parts = urlsplit(resp.headers["Location"])
    assert parts.query == "", "tokens must not be in the query"
    return {k: v[0] for k, v in parse_qs(parts.fragment).items()}


def verify(app: App, token: str) -> dict[str, Any]:
    return tokens.verify(app.svc.keys, token, issuer=ISSUER, audience=CLIENT_ID, clock=app.clock)


@pytest.mark.parametrize("response_type", [t for t in ALL_TYPES if t != "code"])
def test_each_response_type(hybrid_app: App, response_type: str) -> None:
    params = auth_params(response_type=response_type)
    got = fragment(login_password(hybrid_app.client(), params))
    parts = set(response_type.split())
    assert ("code" in got) == ("code" in parts)
    assert ("access_token" in got) == ("token" in parts)
    assert ("id_token" in got) == ("id_token" in parts)
    assert got["state"] == params["state"]
    alg = hybrid_app.svc.keys.algorithm
    if "id_token" in got:
        claims = verify(hybrid_app, got["id_token"])
        assert claims["nonce"] == params["nonce"]
        if "access_token" in got:
            assert claims["at_hash"] == tokens.half_hash(got["access_token"], alg)
        else:
            assert "at_hash" not in claims
        if "code" in got:
            assert claims["c_hash"] == tokens.half_hash(got["code"], alg)
    if "access_token" in got:
        assert got["token_type"] == "bearer"
        info = hybrid_app.client().get(
            "/dex/userinfo", headers={"Authorization": "Bearer " + got["access_token"]}
        )
        assert info.status_code == 200


@pytest.mark.parametrize("response_type", [t for t in ALL_TYPES if t != "code"])
def test_nonce_required_outside_the_code_flow(hybrid_app: App, response_type: str) -> None:
    params = auth_params(response_type=response_type, nonce=None)  # type: ignore[arg-type]
    resp = hybrid_app.client().get("/dex/auth?" + urlencode(params))
    assert resp.status_code == 302
    assert "error=invalid_request" in resp.headers["Location"]
    assert urlsplit(resp.headers["Location"]).query == ""  # error in the fragment too


def test_code_flow_without_nonce_is_fine(app: App) -> None:
    params = auth_params(nonce=None)  # type: ignore[arg-type]
    resp = login_password(app.client(), params)
    assert resp.status_code == 303 and "code=" in resp.headers["Location"]


def test_tokens_in_query_mode_are_refused(hybrid_app: App) -> None:
    params = auth_params(response_type="code id_token", response_mode="query")
    resp = hybrid_app.client().get("/dex/auth?" + urlencode(params))
    assert "error=invalid_request" in resp.headers["Location"]


def test_disabled_response_type(app: App) -> None:
    resp = app.client().get("/dex/auth?" + urlencode(auth_params(response_type="id_token")))
    assert "error=unsupported_response_type" in resp.headers["Location"]


def test_code_in_fragment_mode(app: App) -> None:
    got = fragment(login_password(app.client(), auth_params(response_mode="fragment")))
    assert "code" in got


def test_form_post_mode(hybrid_app: App) -> None:
    params = auth_params(response_type="code id_token", response_mode="form_post")
    resp = login_password(hybrid_app.client(), params)
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    assert f'action="{REDIRECT}"' in html
    fields = {
        name: unescape(value) for name, value in re.findall(r'name="([^"]+)" value="([^"]*)"', html)
    }
    assert fields["state"] == params["state"] and "code" in fields and "id_token" in fields
    csp = resp.headers["Content-Security-Policy"]
    nonce = re.search(r"'nonce-([^']+)'", csp)
    assert nonce and f'nonce="{nonce.group(1)}"' in html
    assert "unsafe-inline" not in csp
    assert resp.headers["Cache-Control"] == "no-store"


def test_form_post_errors(app: App) -> None:
    params = auth_params(response_mode="form_post", scope="email")
    resp = app.client().get("/dex/auth?" + urlencode(params))
    assert resp.status_code == 200
    assert 'value="invalid_scope"' in resp.get_data(as_text=True)
