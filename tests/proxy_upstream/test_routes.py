"""Which upstream serves a path (Upstreams.match: the longest prefix), and that each route's
requests go to its own upstream."""

from __future__ import annotations

import asyncio

import aiohttp
from aiohttp import web

from dex_py.proxy.identity_headers import HeaderOptions
from dex_py.proxy.upstream import Upstreams
from dex_py.proxy.upstream_route import UpstreamRoute
from tests.proxy_upstream.support import proxy_app, serving


def test_match_takes_the_longest_prefix() -> None:
    root = UpstreamRoute("/", "http://127.0.0.1:1")
    api = UpstreamRoute("/api/", "http://127.0.0.1:2")
    admin = UpstreamRoute("/api/admin/", "http://127.0.0.1:3")
    upstreams = Upstreams((root, admin, api), HeaderOptions())
    assert upstreams.match("/api/admin/users") is admin
    assert upstreams.match("/api/x") is api
    assert upstreams.match("/other") is root
    assert Upstreams((api,), HeaderOptions()).match("/other") is None


def _named(name: str) -> web.Application:
    async def handle(request: web.Request) -> web.Response:
        return web.Response(text=f"{name} {request.raw_path}")

    app = web.Application()
    app.router.add_get("/{tail:.*}", handle)
    return app


def test_each_route_goes_to_its_own_upstream() -> None:
    async def scenario() -> list[str]:
        async with serving(_named("app")) as app_url, serving(_named("api")) as api_url:
            routes = (UpstreamRoute("/", app_url), UpstreamRoute("/api/", api_url))
            upstreams = Upstreams(routes, HeaderOptions())
            await upstreams.start()
            try:
                async with (
                    serving(proxy_app(upstreams)) as proxy,
                    aiohttp.ClientSession() as client,
                ):
                    out = []
                    for path in ("/index.html", "/api/v1/items?x=1", "/apix"):
                        async with client.get(proxy + path) as resp:
                            out.append(await resp.text())
                    return out
            finally:
                await upstreams.close()

    assert asyncio.run(asyncio.wait_for(scenario(), 30)) == [
        "app /index.html",
        "api /api/v1/items?x=1",
        "app /apix",
    ]
