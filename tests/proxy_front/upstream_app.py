"""The protected app of the end-to-end tests: a real aiohttp server on 127.0.0.1 in a thread of
its own that answers every path with the request it received as JSON (method, path, query and
headers, so a test sees exactly which identity headers reached it), serves ``/static/hello.txt``
and echoes WebSocket messages on ``/ws``."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from aiohttp import WSMsgType, web

STATIC_TEXT = "hello from the protected app\n"
# What a client may send to pose as someone else: every identity header name the proxy sets.
FORGED_IDENTITY = {
    "X-Auth-Request-User": "mallory",
    "X-Auth-Request-Email": "mallory@evil.example",
    "X-Auth-Request-Groups": "admins",
    "X-Auth-Request-Preferred-Username": "mallory",
    "X-Forwarded-User": "mallory",
    "X-Forwarded-Email": "mallory@evil.example",
    "X-Forwarded-Groups": "admins",
}


async def _echo(request: web.Request) -> web.StreamResponse:
    body = await request.read()
    return web.json_response(
        {
            "method": request.method,
            "path": request.path,
            "query": request.query_string,
            "headers": [[k, v] for k, v in request.headers.items()],
            "body_length": len(body),
        }
    )


async def _static(_request: web.Request) -> web.StreamResponse:
    return web.Response(text=STATIC_TEXT, content_type="text/plain")


async def _websocket(request: web.Request) -> web.StreamResponse:
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    user = request.headers.get("X-Auth-Request-User", "")
    async for message in ws:
        if message.type == WSMsgType.TEXT:
            await ws.send_str(f"{user}: {message.data}")
        elif message.type == WSMsgType.BINARY:
            await ws.send_bytes(message.data)
    return ws


def make_app() -> web.Application:
    app = web.Application()
    app.router.add_get("/static/hello.txt", _static)
    app.router.add_get("/ws", _websocket)
    app.router.add_route("*", r"/{tail:[\s\S]*}", _echo)  # any path, even with CR/LF
    return app


@contextmanager
def running_app() -> Iterator[int]:
    """Serve ``make_app()`` on a free 127.0.0.1 port in a background thread; yield the port."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = int(sock.getsockname()[1])
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(make_app(), access_log=None)
    loop.run_until_complete(runner.setup())
    loop.run_until_complete(web.SockSite(runner, sock).start())
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield port
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
        sock.close()


def received_headers(echo: dict[str, object]) -> dict[str, list[str]]:
    """The echoed request's headers, lower-cased names -> every value received."""
    out: dict[str, list[str]] = {}
    pairs = echo["headers"]
    assert isinstance(pairs, list)
    for name, value in pairs:
        out.setdefault(name.lower(), []).append(value)
    return out
