"""What the upstream sees of a request's and the client of an answer's headers: hop-by-hop
headers gone (RFC 9110 §7.6.1), forged identity headers gone before the real ones are added,
X-Forwarded-* set, Host as the route says, the query as sent, cookies never pooled."""

from __future__ import annotations

import asyncio
import gzip
from typing import Any

import aiohttp
from aiohttp import web
from yarl import URL

from dex_py.proxy.identity_headers import HeaderOptions
from dex_py.proxy.upstream import Upstreams
from dex_py.proxy.upstream_route import UpstreamRoute
from tests.proxy_upstream.support import (
    echo_app,
    proxying,
    raw_upstream,
    read_head,
    serving,
)


async def _through_proxy(
    target: str, headers: list[tuple[str, str]], **proxy_options: Any
) -> dict[str, Any]:
    async with (
        serving(echo_app()) as upstream,
        proxying(upstream, **proxy_options) as proxy,
        aiohttp.ClientSession() as client,
        client.get(
            URL(proxy + target, encoded=True), headers=headers, skip_auto_headers=["User-Agent"]
        ) as resp,
    ):
        assert resp.status == 200
        return await resp.json()


def _names(seen: dict[str, Any]) -> list[str]:
    return [name.lower() for name, _ in seen["headers"]]


def _values(seen: dict[str, Any], name: str) -> list[str]:
    return [v for k, v in seen["headers"] if k.lower() == name.lower()]


def test_hop_by_hop_request_headers_are_dropped() -> None:
    seen = asyncio.run(
        _through_proxy(
            "/app",
            [
                ("Connection", "keep-alive, X-Hop-Named, Upgrade, HTTP2-Settings"),
                ("X-Hop-Named", "secret-for-the-proxy"),
                ("Upgrade", "h2c"),  # not a WebSocket: relayed as a plain request
                ("HTTP2-Settings", "AAMAAABkAAQAAP__"),
                ("Keep-Alive", "timeout=5"),
                ("TE", "trailers"),
                ("Trailer", "X-Checksum"),
                ("Proxy-Authorization", "Basic cHJveHk6cHc="),
                ("Proxy-Connection", "keep-alive"),
                ("Proxy", "http://attacker.example:8080"),  # httpoxy
                ("X-End-To-End", "kept"),
            ],
        )
    )
    names = _names(seen)
    for hop in ("x-hop-named", "keep-alive", "te", "trailer", "proxy-authorization", "upgrade"):
        assert hop not in names
    assert "proxy-connection" not in names and "proxy" not in names
    assert "http2-settings" not in names
    assert _values(seen, "Connection") in ([], ["keep-alive"])  # the proxy's own, not the client's
    assert _values(seen, "X-End-To-End") == ["kept"]


def test_forged_identity_headers_are_replaced_by_the_real_identity() -> None:
    seen = asyncio.run(
        _through_proxy(
            "/app",
            [
                ("X-Auth-Request-User", "mallory"),
                ("x-auth-request-user", "mallory2"),
                ("X-AUTH-REQUEST-EMAIL", "mallory@evil.example"),
                ("X-Auth-Request-Groups", "admins"),
                ("X-Auth-Request-Access-Token", "forged"),
                ("X-Forwarded-Email", "mallory@evil.example"),
                ("x-forwarded-user", "mallory"),
                ("X-Forwarded-Groups", "admins"),
                ("X-Forwarded-Access-Token", "forged"),
                ("Gap-Auth", "mallory"),
                ("gAP-aUTH", "mallory"),
                ("Connection", "X-Auth-Request-User"),  # naming it changes nothing
            ],
        )
    )
    assert _values(seen, "X-Auth-Request-User") == ["alice-id"]
    assert _values(seen, "X-Forwarded-User") == ["alice-id"]
    assert _values(seen, "X-Auth-Request-Email") == ["alice@example.com"]
    assert _values(seen, "X-Forwarded-Email") == ["alice@example.com"]
    assert _values(seen, "X-Auth-Request-Groups") == ["developers,platform"]
    assert _values(seen, "X-Forwarded-Groups") == ["developers,platform"]
    assert _values(seen, "Gap-Auth") == []
    # pass_access_token is off: no token header at all, forged or real
    assert _values(seen, "X-Auth-Request-Access-Token") == []
    assert _values(seen, "X-Forwarded-Access-Token") == []
    assert "mallory" not in repr(seen["headers"])


def test_client_authorization_kept_unless_the_proxy_sets_it() -> None:
    headers = [("Authorization", "Bearer client-own-token")]
    kept = asyncio.run(_through_proxy("/", headers))
    assert _values(kept, "Authorization") == ["Bearer client-own-token"]
    replaced = asyncio.run(
        _through_proxy("/", headers, options=HeaderOptions(set_authorization=True))
    )
    assert _values(replaced, "Authorization") == ["Bearer alice.id.token"]


def test_x_forwarded_headers() -> None:
    seen = asyncio.run(
        _through_proxy(
            "/app",
            [
                ("Host", "app.example.com"),
                ("X-Forwarded-For", "203.0.113.7"),
                ("X-Forwarded-Proto", "https-forged"),
                ("X-Forwarded-Host", "forged.example"),
                ("Forwarded", "for=203.0.113.7;proto=https"),
            ],
        )
    )
    assert _values(seen, "X-Forwarded-For") == ["203.0.113.7, 127.0.0.1"]
    assert _values(seen, "X-Forwarded-Proto") == ["http"]
    assert _values(seen, "X-Forwarded-Host") == ["app.example.com"]
    # RFC 7239: a chain the client started goes on with this hop; none is started here
    assert _values(seen, "Forwarded") == [
        'for=203.0.113.7;proto=https, for="127.0.0.1";proto=http;host="app.example.com"'
    ]
    fresh = asyncio.run(_through_proxy("/app", []))
    assert _values(fresh, "X-Forwarded-For") == ["127.0.0.1"]
    assert _values(fresh, "Forwarded") == []


def test_pass_host_header_honoured() -> None:
    client_host = [("Host", "app.example.com")]
    passed = asyncio.run(_through_proxy("/", client_host))
    assert _values(passed, "Host") == ["app.example.com"]
    own = asyncio.run(_through_proxy("/", client_host, pass_host_header=False))
    (host,) = _values(own, "Host")
    assert host.startswith("127.0.0.1:")


def test_query_and_path_go_as_sent() -> None:
    target = "/app/a%20b/%E2%9C%93;p=1?a=1&a=2&b=%2F%3F&empty=&flag&sp=a+b"
    seen = asyncio.run(_through_proxy(target, []))
    assert seen["raw_path"] == target


def test_route_url_base_path_is_prepended() -> None:
    async def scenario() -> str:
        async with (
            serving(echo_app()) as upstream,
            proxying(upstream + "/base/") as proxy,
            aiohttp.ClientSession() as client,
            client.get(proxy + "/x/y?q=1") as resp,
        ):
            return (await resp.json())["raw_path"]

    assert asyncio.run(scenario()) == "/base/x/y?q=1"


async def _hop_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await read_head(reader)
    writer.write(
        b"HTTP/1.1 200 OK\r\n"
        b"Content-Length: 2\r\n"
        b"Connection: keep-alive, X-Upstream-Hop\r\n"
        b"X-Upstream-Hop: internal\r\n"
        b"Keep-Alive: timeout=5\r\n"
        b"Proxy-Authenticate: Basic\r\n"
        b"Trailer: X-Checksum\r\n"
        b"Set-Cookie: a=1; Path=/\r\n"
        b"Set-Cookie: b=2; Path=/\r\n"
        b"X-App: kept\r\n"
        b"\r\n"
        b"ok"
    )
    await writer.drain()


def test_hop_by_hop_answer_headers_are_dropped_and_repeats_kept() -> None:
    async def scenario() -> tuple[int, list[tuple[str, str]], bytes]:
        async with (
            raw_upstream(_hop_answer) as upstream,
            proxying(upstream) as proxy,
            aiohttp.ClientSession() as client,
            client.get(proxy + "/") as resp,
        ):
            return resp.status, list(resp.headers.items()), await resp.read()

    status, headers, body = asyncio.run(scenario())
    assert (status, body) == (200, b"ok")
    names = [k.lower() for k, _ in headers]
    for hop in ("x-upstream-hop", "keep-alive", "proxy-authenticate", "trailer"):
        assert hop not in names
    assert [v for k, v in headers if k.lower() == "set-cookie"] == ["a=1; Path=/", "b=2; Path=/"]
    assert ("X-App", "kept") in headers


def test_upstream_cookies_are_not_kept_for_other_requests() -> None:
    async def set_cookie(request: web.Request) -> web.Response:
        if request.path == "/login":
            resp = web.Response(text="set")
            resp.set_cookie("upstream_session", "alice-secret")
            return resp
        return web.Response(text=request.headers.get("Cookie", "<none>"))

    async def scenario() -> str:
        app = web.Application()
        app.router.add_get("/{tail:.*}", set_cookie)
        async with serving(app) as upstream:
            # By name: aiohttp's default cookie jar would refuse cookies from an IP address.
            by_name = upstream.replace("127.0.0.1", "localhost")
            async with proxying(by_name) as proxy:
                return await _login_then_ask(proxy)

    assert asyncio.run(scenario()) == "<none>"


async def _login_then_ask(proxy: str) -> str:
    async with aiohttp.ClientSession() as alice, alice.get(proxy + "/login") as r:
        assert "upstream_session" in r.headers.get("Set-Cookie", "")
    async with aiohttp.ClientSession() as bob, bob.get(proxy + "/whoami") as r:
        return await r.text()


def test_redirects_and_encodings_reach_the_client_untouched() -> None:
    """The proxy follows no redirect for the client (it would fetch, from where it stands,
    what the client never asked for) and does not decode a compressed body."""
    packed = gzip.compress(b"hello " * 1000)
    internal_hits: list[str] = []

    async def internal(request: web.Request) -> web.Response:
        internal_hits.append(request.path)
        return web.Response(text="internal secret")

    async def scenario() -> tuple[tuple[int, str], tuple[str | None, bytes]]:
        internal_app = web.Application()
        internal_app.router.add_get("/{tail:.*}", internal)
        async with serving(internal_app) as internal_url:
            target = internal_url + "/secret"

            async def answers(request: web.Request) -> web.Response:
                if request.path == "/moved":
                    raise web.HTTPFound(target)
                return web.Response(body=packed, headers={"Content-Encoding": "gzip"})

            app = web.Application()
            app.router.add_get("/{tail:.*}", answers)
            async with (
                serving(app) as upstream,
                proxying(upstream) as proxy,
                aiohttp.ClientSession(auto_decompress=False) as client,
            ):
                async with client.get(proxy + "/moved", allow_redirects=False) as resp:
                    moved = resp.status, resp.headers.get("Location", "") == target
                async with client.get(proxy + "/packed") as resp:
                    body = resp.headers.get("Content-Encoding"), await resp.read()
                return moved, body

    moved, body = asyncio.run(scenario())
    assert moved == (302, True)
    assert internal_hits == []
    assert body == ("gzip", packed)


def test_proxy_headers_added_to_every_kind_of_answer() -> None:
    """``forward(add_headers=...)`` (the proxy's refreshed session cookie) reaches the client
    on a small answer, a streamed one and a gateway error, beside the upstream's own."""
    ours = ("Set-Cookie", "_dexpy_proxy=refreshed; Path=/; HttpOnly")

    async def answers(request: web.Request) -> web.StreamResponse:
        if request.path == "/small":
            resp = web.Response(text="small")
        else:
            resp = web.StreamResponse()  # chunked, streamed through
            resp.set_cookie("app", "1")
            await resp.prepare(request)
            await resp.write(b"x" * 200_000)
            await resp.write_eof()
            return resp
        resp.set_cookie("app", "1")
        return resp

    async def scenario() -> list[tuple[int, list[str]]]:
        upstream_app = web.Application()
        upstream_app.router.add_get("/{tail:.*}", answers)
        async with serving(upstream_app) as upstream:
            routes = (UpstreamRoute("/", upstream), UpstreamRoute("/down/", "http://127.0.0.1:9"))
            upstreams = Upstreams(routes, HeaderOptions())
            await upstreams.start()

            async def handle(request: web.Request) -> web.StreamResponse:
                route = upstreams.match(request.path)
                assert route is not None
                return await upstreams.forward(request, route, {}, add_headers=[ours])

            proxy_app = web.Application()
            proxy_app.router.add_get("/{tail:.*}", handle)
            out = []
            try:
                async with serving(proxy_app) as proxy, aiohttp.ClientSession() as client:
                    for path in ("/small", "/streamed", "/down/x"):
                        async with client.get(proxy + path) as resp:
                            await resp.read()
                            out.append((resp.status, resp.headers.getall("Set-Cookie", [])))
            finally:
                await upstreams.close()
            return out

    small, streamed, down = asyncio.run(asyncio.wait_for(scenario(), 30))
    assert small[0] == 200 and sorted(small[1]) == sorted(["app=1; Path=/", ours[1]])
    assert streamed[0] == 200 and sorted(streamed[1]) == sorted(["app=1; Path=/", ours[1]])
    assert down == (502, [ours[1]])
