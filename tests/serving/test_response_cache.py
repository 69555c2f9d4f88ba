"""``dex_py.serving.response_cache`` in the bridge, with the real app: discovery and the JWKS are
answered from the worker's cache for up to a second, per path, scheme and ``Origin`` (so CORS
headers never leak from one origin to another), and counted in the metrics like any answer."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
import yaml
from flask import Flask

from dex_py.app import create_app
from dex_py.config.loader import from_dict
from dex_py.ops.metrics import OBSERVE_EXTENSION
from dex_py.serving.response_cache import MAX_ENTRIES, ResponseCache
from dex_py.serving.wsgi_bridge import WSGIBridge
from dex_py.web.server_cache import ENVIRON_KEY
from tests.serving.test_loop_routes import MapHeaders, Proto
from tests.serving.test_wsgi_bridge import Scope

ALLOWED = "https://app.example.com"
EXAMPLE = Path(__file__).resolve().parents[2] / "config.example.yaml"


@pytest.fixture(scope="module")
def app() -> Flask:
    config = yaml.safe_load(EXAMPLE.read_text())
    config["storage"] = {"type": "memory"}
    config["web"]["allowedOrigins"] = [ALLOWED]
    return create_app(from_dict(config))


class HeaderProto(Proto):
    def __init__(self) -> None:
        super().__init__(b"")
        self.headers: list[dict[str, str]] = []

    def response_bytes(self, status: int, headers: list[Any], body: bytes) -> None:
        super().response_bytes(status, headers, body)
        self.headers.append({k.lower(): v for k, v in headers})


class Counting:
    """The app, counting the requests that reach it."""

    def __init__(self, app: Any) -> None:
        self.app, self.calls = app, 0

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        self.calls += 1
        return self.app(environ, start_response)  # type: ignore[no-any-return]


def serve(bridge: WSGIBridge, path: str, *, origin: str = "", query: str = "", method: str = "GET"):  # type: ignore[no-untyped-def]
    pairs = [("host", "127.0.0.1:5556")] + ([("origin", origin)] if origin else [])
    proto = HeaderProto()
    scope = Scope(MapHeaders(pairs), method=method, path=path, query_string=query, scheme="http")
    asyncio.run(bridge.__rsgi__(scope, proto))
    return proto


def bridge_for(
    app: Flask, observed: list[tuple[Any, ...]] | None = None
) -> tuple[WSGIBridge, Counting]:
    counting = Counting(app)
    observe = (lambda *a: observed.append(a)) if observed is not None else None
    return WSGIBridge(counting, threads=1, cache=ResponseCache(observe)), counting


def test_discovery_and_jwks_are_repeated_from_the_cache(app: Flask) -> None:
    observed: list[tuple[Any, ...]] = []
    bridge, counting = bridge_for(app, observed)
    try:
        for path in ("/dex/keys", "/dex/.well-known/openid-configuration"):
            first = serve(bridge, path).sent[0]
            again = serve(bridge, path).sent[0]
            assert first[0] == 200 and again == first
        assert counting.calls == 2
        assert [o[0] for o in observed] == ["oauth.keys", "oauth.discovery"]
        assert all(o[1:3] == ("GET", 200) for o in observed)
    finally:
        bridge.close()


def test_other_answers_are_never_cached(app: Flask) -> None:
    bridge, counting = bridge_for(app)
    try:
        serve(bridge, "/dex/healthz")
        serve(bridge, "/dex/healthz")
        serve(bridge, "/dex/keys", query="x=1")
        serve(bridge, "/dex/keys", query="x=1")
        serve(bridge, "/dex/userinfo")
        serve(bridge, "/dex/userinfo")
        assert counting.calls == 6
    finally:
        bridge.close()


def test_cors_headers_stay_with_their_origin(app: Flask) -> None:
    bridge, counting = bridge_for(app)
    try:
        allowed = serve(bridge, "/dex/keys", origin=ALLOWED)
        stranger = serve(bridge, "/dex/keys", origin="https://evil.example")
        plain = serve(bridge, "/dex/keys")
        assert counting.calls == 3
        assert allowed.headers[0].get("access-control-allow-origin") == ALLOWED
        assert "access-control-allow-origin" not in stranger.headers[0]
        assert "access-control-allow-origin" not in plain.headers[0]
    finally:
        bridge.close()


def test_entries_expire_and_the_cache_stays_bounded(app: Flask, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    bridge, counting = bridge_for(app)
    try:
        serve(bridge, "/dex/keys")
        clock = time.monotonic() + 1.01
        monkeypatch.setattr("dex_py.serving.response_cache.time.monotonic", lambda: clock)
        serve(bridge, "/dex/keys")
        assert counting.calls == 2  # a second later the app answers again
        for n in range(MAX_ENTRIES * 2):
            serve(bridge, "/dex/keys", origin=f"https://o{n}.example")
        assert bridge.cache is not None and len(bridge.cache.entries) <= MAX_ENTRIES
    finally:
        bridge.close()


def test_views_mark_what_the_server_may_repeat(app: Flask) -> None:
    assert OBSERVE_EXTENSION in app.extensions  # config.example.yaml turns metrics on
    with app.test_request_context("/dex/keys"):
        app.full_dispatch_request()
        from flask import request

        assert request.environ[ENVIRON_KEY] == (1.0, "oauth.keys")
