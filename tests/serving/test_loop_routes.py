"""``dex_py.serving.loop_routes`` and the bridge's use of it: requests that only touch our own
storage run on the worker's event loop thread; anything that may wait on an upstream runs on the
thread pool, so a slow directory never holds the loop."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterable
from typing import Any

import pytest

from dex_py.serving.loop_routes import LoopRoutes, grant_type
from dex_py.serving.wsgi_bridge import WSGIBridge
from tests.serving.test_wsgi_bridge import Headers, Scope

ROUTES = LoopRoutes("/dex/")


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/dex/.well-known/openid-configuration", b""),
        ("GET", "/dex/keys", b""),
        ("GET", "/dex/userinfo", b""),
        ("GET", "/dex/healthz/ready", b""),
        ("POST", "/dex/token/introspect", b"token=x"),
        ("POST", "/dex/token", b"grant_type=refresh_token&refresh_token=x"),
        ("POST", "/dex/token", b"code=x&grant_type=authorization_code"),
        ("POST", "/dex/token", b"grant_type=client_credentials&scope=openid"),
    ],
)
def test_own_storage_requests_run_on_the_loop(method: str, path: str, body: bytes) -> None:
    assert ROUTES.runs_on_loop(method, path, body)


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/dex/token", b"grant_type=password&username=a&password=b"),
        (
            "POST",
            "/dex/token",
            b"grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Atoken-exchange",
        ),
        ("POST", "/dex/token", b"grant_type=refresh_token&grant_type=password"),  # ambiguous
        ("POST", "/dex/token", b"grant_type=refresh_token" + b"&x=" + b"a" * 20_000),
        ("POST", "/dex/token", b"grant_type=\xff"),
        ("GET", "/dex/token", b""),
        ("GET", "/dex/auth", b""),
        ("POST", "/dex/auth/local/login", b"login=a&password=b"),
        ("GET", "/dex/callback", b""),
        ("GET", "/keys", b""),  # outside the issuer's path
    ],
)
def test_anything_that_may_call_an_upstream_runs_on_the_pool(
    method: str, path: str, body: bytes
) -> None:
    assert not ROUTES.runs_on_loop(method, path, body)


def test_grant_type_reads_the_form() -> None:
    assert grant_type(b"a=1&grant_type=refresh_token") == "refresh_token"
    assert grant_type(b"") == ""


class MapHeaders(Headers):
    def get(self, name: str, default: Any = None) -> Any:
        return dict(self.pairs).get(name, default)


class Proto:
    def __init__(self, body: bytes) -> None:
        self.body = body
        self.sent: list[tuple[int, bytes]] = []

    async def __call__(self) -> bytes:
        return self.body

    def response_bytes(self, status: int, headers: list[Any], body: bytes) -> None:
        self.sent.append((status, body))


def test_bridge_runs_loop_routes_on_the_loop_thread_and_the_rest_on_the_pool() -> None:
    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [threading.current_thread().name.encode()]

    bridge = WSGIBridge(app, threads=2, runs_on_loop=ROUTES.runs_on_loop)

    async def request(path: str, body: bytes) -> bytes:
        headers = MapHeaders([("content-length", str(len(body)))] if body else [])
        proto = Proto(body)
        await bridge.__rsgi__(Scope(headers, path=path, query_string=""), proto)
        assert proto.sent[0][0] == 200
        return proto.sent[0][1]

    async def main() -> tuple[str, bytes, bytes, bytes]:
        loop_thread = threading.current_thread().name
        keys = await request("/dex/keys", b"")
        refresh = await request("/dex/token", b"grant_type=refresh_token&refresh_token=x")
        password = await request("/dex/token", b"grant_type=password&username=a&password=b")
        return loop_thread, keys, refresh, password

    try:
        loop_thread, keys, refresh, password = asyncio.run(main())
    finally:
        bridge.close()
    assert keys.decode() == loop_thread
    assert refresh.decode() == loop_thread
    assert password.decode().startswith("dex-py-app")
