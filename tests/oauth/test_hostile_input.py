"""Malformed and hostile requests to every endpoint get a clear error (never a 500 or a stack
trace) and leave storage exactly as it was."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.oauth.conftest import CLIENT_ID, REDIRECT, App, auth_params, basic, snapshot

ENDPOINTS = [
    ("GET", "/dex/.well-known/openid-configuration"),
    ("GET", "/dex/keys"),
    ("GET", "/dex/auth"),
    ("POST", "/dex/auth"),
    ("GET", "/dex/auth/local"),
    ("GET", "/dex/auth/local/login"),
    ("POST", "/dex/auth/local/login"),
    ("GET", "/dex/auth/mock"),
    ("GET", "/dex/auth/nope"),
    ("GET", "/dex/callback"),
    ("POST", "/dex/callback"),
    ("GET", "/dex/approval"),
    ("POST", "/dex/approval"),
    ("POST", "/dex/token"),
    ("GET", "/dex/userinfo"),
    ("POST", "/dex/userinfo"),
    ("GET", "/dex/healthz"),
    ("GET", "/dex/static/main.css"),
    ("GET", "/dex/theme/styles.css"),
]

HOSTILE_QUERIES = [
    "",
    "client_id=",
    "client_id=a&client_id=b",
    "state=" + "A" * 5000,
    "req=" + "x" * 3000,
    "req=%00%01%02",
    "state=%zz%",
    "redirect_uri=javascript:alert(1)&client_id=" + CLIENT_ID,
    "scope=openid&response_type=code&client_id=%E2%80%AE",
    "req=../../../etc/passwd",
    "code=%ff%fe",
]

HOSTILE_BODIES: list[dict] = [
    {"data": b"\x00\xff\xfe binary", "content_type": "application/octet-stream"},
    {"data": "{not json", "content_type": "application/json"},
    {"data": "a=%zz&b=%", "content_type": "application/x-www-form-urlencoded"},
    {
        "data": "grant_type=password&grant_type=password",
        "content_type": "application/x-www-form-urlencoded",
    },
    {"data": {"login": "x" * 3000, "password": "y" * 3000, "csrf_token": "z"}},
    {"data": {"req": "nope", "approval": "approve", "csrf_token": "x"}},
]


def _assert_clear_error(resp, method: str, path: str) -> None:  # type: ignore[no-untyped-def]
    assert resp.status_code < 500, f"{method} {path} -> {resp.status_code}"
    body = resp.get_data(as_text=True)
    assert "Traceback" not in body and 'File "' not in body


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
def test_hostile_queries(app: App, method: str, path: str) -> None:
    before = snapshot(app.storage)
    browser = app.client()
    for query in HOSTILE_QUERIES:
        resp = browser.open(f"{path}?{query}", method=method, headers=basic())
        _assert_clear_error(resp, method, path)
    assert snapshot(app.storage) == before


@pytest.mark.parametrize(("method", "path"), [e for e in ENDPOINTS if e[0] == "POST"])
def test_hostile_bodies(app: App, method: str, path: str) -> None:
    before = snapshot(app.storage)
    browser = app.client()
    for body in HOSTILE_BODIES:
        resp = browser.open(path, method=method, headers=basic(), **body)
        _assert_clear_error(resp, method, path)
    assert snapshot(app.storage) == before


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH"])
@pytest.mark.parametrize("path", sorted({p for _, p in ENDPOINTS}))
def test_wrong_methods(app: App, method: str, path: str) -> None:
    resp = app.client().open(path, method=method)
    assert resp.status_code in (404, 405)
    if resp.status_code == 405:
        assert resp.headers["Allow"]


def test_wrong_method_on_token_is_json(app: App) -> None:
    resp = app.client().put("/dex/token")
    assert resp.status_code == 405
    assert resp.json["error"] == "invalid_request"


_text = st.text(max_size=80) | st.sampled_from(
    [CLIENT_ID, REDIRECT, "openid", "code", "S256", "none", "local", "mock", "public-cli", ""]
)
_params = st.dictionaries(
    st.sampled_from(
        [
            "client_id",
            "redirect_uri",
            "response_type",
            "scope",
            "state",
            "nonce",
            "prompt",
            "code_challenge",
            "code_challenge_method",
            "max_age",
            "connector_id",
            "response_mode",
            "grant_type",
            "code",
            "refresh_token",
            "username",
            "password",
            "code_verifier",
            "client_secret",
            "request",
            "x",
        ]
    ),
    _text,
    max_size=8,
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(params=_params)
def test_fuzz_authorization_endpoint(app: App, params: dict[str, str]) -> None:
    before = snapshot(app.storage)
    resp = app.client().get("/dex/auth?" + urlencode(params))
    assert resp.status_code < 500
    created = snapshot(app.storage) != before
    location = resp.headers.get("Location", "")
    ok = resp.status_code in (200, 302) and "error=" not in location
    # storage may only change when the request was accepted (an auth request was stored)
    assert ok or not created


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(params=_params, use_basic=st.booleans())
def test_fuzz_token_endpoint(app: App, params: dict[str, str], use_basic: bool) -> None:
    before = snapshot(app.storage)
    resp = app.client().post("/dex/token", data=params, headers=basic() if use_basic else {})
    assert resp.status_code < 500
    assert resp.is_json and "error" in resp.json
    assert snapshot(app.storage) == before


def test_valid_request_does_change_storage(app: App) -> None:
    """Guard for the fuzz tests above: the snapshot sees a stored auth request."""
    before = snapshot(app.storage)
    resp = app.client().get("/dex/auth?" + urlencode(auth_params()))
    assert resp.status_code == 200
    assert snapshot(app.storage) != before
