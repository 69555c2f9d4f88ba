"""Paths that could climb out of a route's prefix at the upstream are refused with 400 and never
reach it (RFC 3986 §5.2.4 dot-segments, plain or percent-encoded, with ``\\`` as ``/``)."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp import web

from dex_py.proxy.hop_headers import is_unsafe_path
from tests.proxy_upstream.support import proxying, serving

REFUSED = [
    "/app/../admin",
    "/app/./x",
    "/app/..",
    "/app/%2e%2e/admin",
    "/app/%2E%2E/admin",
    "/app/.%2e/admin",
    "/app/..%2fadmin",
    "/app/..%2Fadmin",
    "/app/%2e%2e%2fadmin",
    "/app/..%5cadmin",
    "/app/..\\admin",
    "/app/%252e%252e/admin",  # double-encoded
    "/app/%25252e%25252e/admin",  # and thrice
    "/app/a%00b",
]
ALLOWED = ["/app/", "/app/a.b/c.txt", "/app/..hidden", "/app/a..b", "/app/%2Fx", "/app/%41"]


@pytest.mark.parametrize("path", REFUSED)
def test_unsafe_paths(path: str) -> None:
    assert is_unsafe_path(path)


@pytest.mark.parametrize("path", ALLOWED)
def test_safe_paths(path: str) -> None:
    assert not is_unsafe_path(path)


async def _send_raw(proxy: str, target: str) -> int:
    host, port = proxy.removeprefix("http://").rsplit(":", 1)
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(f"GET {target} HTTP/1.1\r\nHost: app\r\nConnection: close\r\n\r\n".encode())
    await writer.drain()
    status_line = await reader.readline()
    writer.close()
    return int(status_line.split()[1])


def test_proxy_refuses_escaping_paths_before_the_upstream() -> None:
    reached: list[str] = []

    async def upstream_handler(request: web.Request) -> web.Response:
        reached.append(request.raw_path)
        return web.Response(text="upstream")

    async def scenario() -> dict[str, int]:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", upstream_handler)
        async with serving(app) as upstream, proxying(upstream, prefix="/app") as proxy:
            return {target: await _send_raw(proxy, target) for target in [*REFUSED, *ALLOWED]}

    statuses = asyncio.run(scenario())
    assert {t: statuses[t] for t in REFUSED} == dict.fromkeys(REFUSED, 400)
    assert {t: statuses[t] for t in ALLOWED} == dict.fromkeys(ALLOWED, 200)
    assert reached == ALLOWED


def test_absolute_form_target_goes_by_its_path() -> None:
    async def scenario() -> int:
        async def ok(request: web.Request) -> web.Response:
            return web.Response(text=request.raw_path)

        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", ok)
        async with serving(app) as upstream, proxying(upstream) as proxy:
            return await _send_raw(proxy, "http://evil.example/app/../x")

    assert asyncio.run(scenario()) == 400
