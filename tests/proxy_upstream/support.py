"""Real servers for the upstream-mode tests: aiohttp apps on 127.0.0.1 (free ports), a raw
TCP upstream for answers aiohttp would not send, and a proxy app that mounts
``Upstreams.forward`` as its catch-all handler with a fixed identity (the real proxy app, with
login and rules, is ``dex_py.proxy``'s own)."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

from aiohttp import web

from dex_py.proxy.identity_headers import HeaderOptions, Identity, upstream_headers
from dex_py.proxy.upstream import Upstreams
from dex_py.proxy.upstream_route import UpstreamRoute

ALICE = Identity(
    user="alice-id",
    email="alice@example.com",
    groups=("developers", "platform"),
    preferred_username="alice",
    id_token="alice.id.token",
)


@contextlib.asynccontextmanager
async def serving(app: web.Application) -> AsyncIterator[str]:
    """Run ``app`` on 127.0.0.1 on a free port; yields its base URL; stops it after."""
    runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        yield f"http://{host}:{port}"
    finally:
        await runner.cleanup()


def proxy_app(upstreams: Upstreams, options: HeaderOptions | None = None) -> web.Application:
    """A proxy that forwards every path with a route, as ALICE."""
    identity = upstream_headers(ALICE, options or upstreams.header_options)

    async def handle(request: web.Request) -> web.StreamResponse:
        route = upstreams.match(request.path)
        if route is None:
            return web.Response(status=404, text="no upstream\n")
        return await upstreams.forward(request, route, identity)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    return app


@contextlib.asynccontextmanager
async def proxying(
    upstream_url: str,
    *,
    prefix: str = "/",
    options: HeaderOptions | None = None,
    connect_timeout: float = 5.0,
    read_timeout: float = 30.0,
    pass_host_header: bool = True,
) -> AsyncIterator[str]:
    """A running proxy in front of ``upstream_url``; yields the proxy's base URL."""
    route = UpstreamRoute(
        path_prefix=prefix,
        url=upstream_url,
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        pass_host_header=pass_host_header,
    )
    upstreams = Upstreams((route,), options or HeaderOptions())
    await upstreams.start()
    try:
        async with serving(proxy_app(upstreams)) as url:
            yield url
    finally:
        await upstreams.close()


async def echo(request: web.Request) -> web.Response:
    """What the upstream received: method, raw target, headers (pairs, repeats kept), body
    length and SHA-256, and the client port of the connection it came on."""
    digest = hashlib.sha256()
    size = 0
    async for chunk in request.content.iter_any():
        digest.update(chunk)
        size += len(chunk)
    peer = request.transport.get_extra_info("peername") if request.transport else None
    return web.json_response(
        {
            "method": request.method,
            "raw_path": request.raw_path,
            "headers": list(request.headers.items()),
            "size": size,
            "sha256": digest.hexdigest(),
            "peer_port": peer[1] if peer else None,
        }
    )


def echo_app() -> web.Application:
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", echo)
    return app


Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@contextlib.asynccontextmanager
async def raw_upstream(handle: Handler) -> AsyncIterator[str]:
    """A TCP server on 127.0.0.1 whose every connection ``handle`` serves byte by byte."""

    async def guarded(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await handle(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(guarded, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.close()
        await server.wait_closed()


async def read_head(reader: asyncio.StreamReader) -> bytes:
    """An HTTP/1.1 request head, up to the blank line."""
    return await reader.readuntil(b"\r\n\r\n")


@contextlib.contextmanager
def full_listener() -> Iterator[str]:
    """A listening socket that never accepts, its backlog filled: a new connection to it hangs
    in the SYN stage (Linux drops SYNs to a full accept queue), like an unreachable host."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    try:
        for _ in range(4):
            filler = socket.socket()
            filler.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                filler.connect(("127.0.0.1", port))
            fillers.append(filler)
        yield f"http://127.0.0.1:{port}"
    finally:
        for filler in fillers:
            filler.close()
        listener.close()
