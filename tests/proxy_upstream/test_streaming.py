"""Bodies stream through the proxy both ways, never read whole: the first bytes of an upload
reach the upstream, and of a download the client, while the rest is still held back by the
sender (a proxy that buffered would deadlock and hit the generous timeout); a body far larger
than any buffer goes through intact with the proxy's memory staying small; connections to the
upstream are kept alive and reused."""

from __future__ import annotations

import asyncio
import hashlib
import tracemalloc
from collections.abc import AsyncIterator

import aiohttp
from aiohttp import web

from tests.proxy_upstream.support import echo_app, proxying, serving

TIMEOUT = 30  # generous: only a deadlock (a buffering proxy) ever reaches it
CHUNK = b"x" * 65536


def test_upload_reaches_the_upstream_before_it_is_complete() -> None:
    first_part_arrived = asyncio.Event()

    async def upstream_handler(request: web.Request) -> web.Response:
        got = await request.content.readexactly(len(CHUNK))
        first_part_arrived.set()
        rest = await request.content.read()
        return web.Response(text=f"{len(got) + len(rest)}")

    async def body() -> AsyncIterator[bytes]:
        yield CHUNK
        await first_part_arrived.wait()  # the rest only once the first part is at the upstream
        for _ in range(15):
            yield CHUNK

    async def scenario() -> str:
        app = web.Application(client_max_size=0)
        app.router.add_post("/{tail:.*}", upstream_handler)
        async with (
            serving(app) as upstream,
            proxying(upstream) as proxy,
            aiohttp.ClientSession() as client,
            client.post(proxy + "/upload", data=body()) as resp,
        ):
            assert resp.status == 200
            return await resp.text()

    assert asyncio.run(asyncio.wait_for(scenario(), TIMEOUT)) == str(16 * len(CHUNK))


def test_download_reaches_the_client_before_it_is_complete() -> None:
    first_part_read = asyncio.Event()

    async def slow_upstream(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse()  # chunked: no length
        await resp.prepare(request)
        await resp.write(CHUNK)
        await first_part_read.wait()  # the rest only once the client has the first part
        for _ in range(15):
            await resp.write(CHUNK)
            await asyncio.sleep(0.001)
        await resp.write_eof()
        return resp

    async def scenario() -> int:
        app = web.Application()
        app.router.add_get("/{tail:.*}", slow_upstream)
        async with (
            serving(app) as upstream,
            proxying(upstream) as proxy,
            aiohttp.ClientSession() as client,
            client.get(proxy + "/download") as resp,
        ):
            assert resp.headers.get("Transfer-Encoding") == "chunked"
            first = await resp.content.readexactly(len(CHUNK))
            first_part_read.set()
            return len(first) + len(await resp.read())

    assert asyncio.run(asyncio.wait_for(scenario(), TIMEOUT)) == 16 * len(CHUNK)


def test_large_bodies_both_ways_intact_in_little_memory() -> None:
    """96 MiB up (chunked, no length) and 96 MiB down (with a length) through the proxy: the
    Python memory peak during the transfer stays a small fraction of the body."""
    count = 1536  # x 64 KiB = 96 MiB
    expected = hashlib.sha256(CHUNK * count).hexdigest()

    async def big_download(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Length": str(count * len(CHUNK))})
        await resp.prepare(request)
        for _ in range(count):
            await resp.write(CHUNK)
        await resp.write_eof()
        return resp

    async def upload() -> AsyncIterator[bytes]:
        for _ in range(count):
            yield CHUNK

    async def scenario() -> tuple[dict[str, object], str, int]:
        big = web.Application()
        big.router.add_get("/{tail:.*}", big_download)
        async with (
            serving(echo_app()) as echo_url,
            serving(big) as big_url,
            proxying(echo_url) as up_proxy,
            proxying(big_url) as down_proxy,
            aiohttp.ClientSession() as client,
        ):
            tracemalloc.start()
            try:
                async with client.put(up_proxy + "/up", data=upload()) as resp:
                    seen = await resp.json()
                digest = hashlib.sha256()
                async with client.get(down_proxy + "/down") as resp:
                    assert resp.headers["Content-Length"] == str(count * len(CHUNK))
                    async for chunk in resp.content.iter_any():
                        digest.update(chunk)
                peak = tracemalloc.get_traced_memory()[1]
            finally:
                tracemalloc.stop()
            return seen, digest.hexdigest(), peak

    seen, downloaded, peak = asyncio.run(asyncio.wait_for(scenario(), 120))
    assert seen["size"] == count * len(CHUNK) and seen["sha256"] == expected
    assert downloaded == expected
    print(f"memory peak {peak} bytes")
    assert peak < 16 * 1024 * 1024, f"peak {peak} bytes: a body was buffered"


def test_keep_alive_connections_to_the_upstream_are_reused() -> None:
    async def scenario() -> list[int]:
        async with serving(echo_app()) as upstream, proxying(upstream) as proxy:
            ports = []
            for i in range(8):
                # a new client connection each time: reuse is on the proxy's side
                async with (
                    aiohttp.ClientSession() as client,
                    client.post(proxy + f"/r{i}", data=b"body") as resp,
                ):
                    ports.append((await resp.json())["peer_port"])
            return ports

    ports = asyncio.run(asyncio.wait_for(scenario(), TIMEOUT))
    assert len(ports) == 8 and len(set(ports)) == 1


REQUESTS = (("HEAD", "/file"), ("GET", "/nocontent"), ("GET", "/notmodified"), ("GET", "/file"))


def test_empty_answers_keep_their_meaning() -> None:
    async def answers(request: web.Request) -> web.StreamResponse:
        if request.path == "/nocontent":
            return web.Response(status=204)
        if request.path == "/notmodified":
            return web.Response(status=304, headers={"ETag": '"v1"'})
        return web.Response(body=b"0123456789", headers={"ETag": '"v1"'})

    async def scenario() -> list[tuple[int, str | None, bytes]]:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", answers)
        out = []
        async with (
            serving(app) as upstream,
            proxying(upstream) as proxy,
            aiohttp.ClientSession() as client,
        ):
            for method, path in REQUESTS:
                async with client.request(method, proxy + path) as resp:
                    length = resp.headers.get("Content-Length")
                    out.append((resp.status, length, await resp.read()))
        return out

    head, no_content, not_modified, full = asyncio.run(asyncio.wait_for(scenario(), TIMEOUT))
    assert head == (200, "10", b"")
    assert no_content[0] == 204 and no_content[2] == b""
    assert not_modified[0] == 304 and not_modified[2] == b""
    assert full == (200, "10", b"0123456789")


def test_expect_continue_upload() -> None:
    """``Expect: 100-continue`` is answered by the proxy's server (a hop-by-hop expectation,
    RFC 9110 §10.1.1) and the body still reaches the upstream whole."""

    async def scenario() -> dict[str, object]:
        async with (
            serving(echo_app()) as upstream,
            proxying(upstream) as proxy,
            aiohttp.ClientSession() as client,
            client.put(proxy + "/up", data=b"p" * 100_000, expect100=True) as resp,
        ):
            assert resp.status == 200
            return await resp.json()

    seen = asyncio.run(asyncio.wait_for(scenario(), TIMEOUT))
    assert seen["size"] == 100_000
    assert not [k for k, _ in seen["headers"] if k.lower() == "expect"]  # type: ignore[attr-defined]
