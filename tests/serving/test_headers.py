"""dex_py.web.headers: security headers, web.headers overrides, CORS and preflight."""

from __future__ import annotations

from typing import Any

from flask import Flask, Response

from dex_py.config import WebConfig
from dex_py.web.headers import DEFAULT_CSP, cors_enabled, init_headers

ALLOWED = "https://app.example.com"


def make_app(**web: Any) -> Flask:
    app = Flask("headers_test")

    @app.get("/page")
    def page() -> str:
        return "page"

    @app.get("/form-post")
    def form_post() -> Response:
        resp = Response("<form>")
        resp.headers["Content-Security-Policy"] = "script-src 'nonce-abc'"
        return resp

    @app.route("/token", methods=["POST"])
    @cors_enabled
    def token() -> Any:
        return {"access_token": "x"}

    @app.get("/keys")
    def keys() -> Any:
        return {"keys": []}

    init_headers(app, WebConfig(**web), cors_endpoints={"keys"})
    return app


def test_default_security_headers_on_every_response() -> None:
    client = make_app().test_client()
    for resp in (client.get("/page"), client.get("/missing")):
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
        assert resp.headers["X-Frame-Options"] == "DENY"
        assert resp.headers["Referrer-Policy"] == "no-referrer"
        assert resp.headers["Content-Security-Policy"] == DEFAULT_CSP
        assert "Strict-Transport-Security" not in resp.headers


def test_hsts_only_over_https() -> None:
    client = make_app().test_client()
    assert "Strict-Transport-Security" not in client.get("/page").headers
    resp = client.get("/page", base_url="https://localhost")
    assert resp.headers["Strict-Transport-Security"] == "max-age=31536000"


def test_view_set_csp_is_kept() -> None:
    resp = make_app().test_client().get("/form-post")
    assert resp.headers.getlist("Content-Security-Policy") == ["script-src 'nonce-abc'"]


def test_configured_headers_override_defaults_and_empty_removes() -> None:
    app = make_app(
        headers={
            "X-Frame-Options": "SAMEORIGIN",
            "content-security-policy": "default-src 'none'",
            "X-XSS-Protection": "1; mode=block",
            "Referrer-Policy": "",
            "Strict-Transport-Security": "max-age=60; includeSubDomains",
        }
    )
    resp = app.test_client().get("/page", base_url="https://localhost")
    assert resp.headers.getlist("X-Frame-Options") == ["SAMEORIGIN"]
    assert resp.headers.getlist("Content-Security-Policy") == ["default-src 'none'"]
    assert resp.headers["X-XSS-Protection"] == "1; mode=block"
    assert "Referrer-Policy" not in resp.headers
    assert resp.headers["Strict-Transport-Security"] == "max-age=60; includeSubDomains"


def test_cors_allowed_origin_is_echoed_on_cors_endpoints() -> None:
    client = make_app(allowed_origins=[ALLOWED + "/"]).test_client()
    for resp in (
        client.post("/token", headers={"Origin": ALLOWED}),
        client.get("/keys", headers={"Origin": ALLOWED}),
    ):
        assert resp.headers["Access-Control-Allow-Origin"] == ALLOWED
        assert "Origin" in resp.headers["Vary"]


def test_cors_not_on_other_endpoints() -> None:
    client = make_app(allowed_origins=[ALLOWED]).test_client()
    resp = client.get("/page", headers={"Origin": ALLOWED})
    assert "Access-Control-Allow-Origin" not in resp.headers


def test_cors_disallowed_origin_is_never_reflected() -> None:
    client = make_app(allowed_origins=[ALLOWED]).test_client()
    for origin in ("https://evil.example", "https://app.example.com.evil.example", "null"):
        resp = client.get("/keys", headers={"Origin": origin})
        assert "Access-Control-Allow-Origin" not in resp.headers
        assert resp.headers["Vary"] == "Origin"


def test_cors_off_without_allowed_origins() -> None:
    resp = make_app().test_client().get("/keys", headers={"Origin": ALLOWED})
    assert "Access-Control-Allow-Origin" not in resp.headers


def test_cors_wildcard_allows_any_origin_by_echo() -> None:
    client = make_app(allowed_origins=["*"]).test_client()
    resp = client.get("/keys", headers={"Origin": "https://any.example"})
    assert resp.headers["Access-Control-Allow-Origin"] == "https://any.example"


def test_preflight_lists_methods_and_headers() -> None:
    client = make_app(allowed_origins=[ALLOWED], allowed_headers=["X-Requested-With"]).test_client()
    resp = client.options(
        "/token",
        headers={
            "Origin": ALLOWED,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization",
        },
    )
    assert resp.status_code == 200
    assert resp.headers["Access-Control-Allow-Origin"] == ALLOWED
    assert set(resp.headers["Access-Control-Allow-Methods"].split(", ")) == {"OPTIONS", "POST"}
    allowed = resp.headers["Access-Control-Allow-Headers"].split(", ")
    assert allowed == ["Authorization", "Content-Type", "X-Requested-With"]


def test_preflight_from_disallowed_origin_gets_no_cors_headers() -> None:
    resp = (
        make_app(allowed_origins=[ALLOWED])
        .test_client()
        .options(
            "/token",
            headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
        )
    )
    assert not [h for h, _ in resp.headers if h.startswith("Access-Control-")]
