"""WebSocket upgrades relayed both ways (RFC 6455): text, binary, Ping/Pong passed on (not
answered by the proxy), Close codes and reasons each way, the subprotocol the upstream picks,
identity headers on the upgrade request (forged ones dropped), a refused or missing upstream an
ordinary HTTP error."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import aiohttp
from aiohttp import WSMsgType, web

from tests.proxy_upstream.support import proxying, serving

TIMEOUT = 30


class EchoUpstream:
    """A WebSocket upstream that echoes, records what it saw, and closes on request."""

    def __init__(self) -> None:
        self.headers: list[tuple[str, str]] = []
        self.seen: list[tuple[WSMsgType, Any, Any]] = []
        self.closed_with: asyncio.Future[tuple[int | None, str]] | None = None

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if request.path == "/refuse":
            return web.Response(status=403, text="no")
        self.headers = list(request.headers.items())
        self.closed_with = asyncio.get_running_loop().create_future()
        ws = web.WebSocketResponse(protocols=("v2.chat",), autoping=False)
        await ws.prepare(request)
        while True:
            msg = await ws.receive()
            data = bytes(msg.data) if isinstance(msg.data, bytearray) else msg.data
            self.seen.append((msg.type, data, msg.extra or None))
            if msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED):
                break
            if msg.type is WSMsgType.TEXT and msg.data.startswith("close:"):
                await ws.close(code=int(msg.data[6:]), message=b"upstream says bye")
            elif msg.type is WSMsgType.TEXT:
                await ws.send_str("echo " + msg.data)
            elif msg.type is WSMsgType.BINARY:
                await ws.send_bytes(msg.data[::-1])
            elif msg.type is WSMsgType.PING:
                await ws.pong(b"upstream-pong:" + msg.data)
        if not self.closed_with.done():
            self.closed_with.set_result((ws.close_code, ""))
        return ws

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/{tail:.*}", self.handle)
        return app


def test_messages_ping_and_client_close_code_are_relayed() -> None:
    upstream_app = EchoUpstream()

    async def scenario() -> dict[str, Any]:
        async with (
            serving(upstream_app.app()) as upstream,
            proxying(upstream) as proxy,
            aiohttp.ClientSession() as client,
            client.ws_connect(
                proxy + "/socket?room=1",
                protocols=("v1.chat", "v2.chat"),
                autoping=False,
                headers={"X-Auth-Request-User": "mallory", "x-forwarded-email": "m@evil"},
            ) as ws,
        ):
            out: dict[str, Any] = {"protocol": ws.protocol}
            await ws.send_str("hello")
            out["text"] = await ws.receive(TIMEOUT)
            await ws.send_bytes(b"\x00\x01\x02binary")
            out["binary"] = await ws.receive(TIMEOUT)
            await ws.ping(b"are-you-there")
            out["pong"] = await ws.receive(TIMEOUT)
            await ws.close(code=4001, message=b"client done")
            out["close_code"] = ws.close_code
            return out

    out = asyncio.run(asyncio.wait_for(scenario(), TIMEOUT))
    assert out["protocol"] == "v2.chat"  # the upstream's pick, among the client's offers
    assert (out["text"].type, out["text"].data) == (WSMsgType.TEXT, "echo hello")
    assert (out["binary"].type, out["binary"].data) == (WSMsgType.BINARY, b"yranib\x02\x01\x00")
    # the Ping reached the upstream and its own Pong came back: the proxy answered nothing
    assert (out["pong"].type, out["pong"].data) == (WSMsgType.PONG, b"upstream-pong:are-you-there")
    assert (WSMsgType.PING, b"are-you-there", None) in upstream_app.seen
    assert (WSMsgType.CLOSE, 4001, "client done") in upstream_app.seen
    assert out["close_code"] == 4001
    headers = upstream_app.headers
    assert ("X-Auth-Request-User", "alice-id") in headers
    assert ("X-Forwarded-Email", "alice@example.com") in headers
    assert "mallory" not in repr(headers) and "m@evil" not in repr(headers)
    assert any(k == "X-Forwarded-For" for k, _ in headers)


def test_upstream_close_code_and_reason_reach_the_client() -> None:
    upstream_app = EchoUpstream()

    async def scenario() -> tuple[Any, int | None]:
        async with (
            serving(upstream_app.app()) as upstream,
            proxying(upstream) as proxy,
            aiohttp.ClientSession() as client,
            client.ws_connect(proxy + "/socket") as ws,
        ):
            await ws.send_str("close:4002")
            msg = await ws.receive(TIMEOUT)
            return msg, ws.close_code

    msg, code = asyncio.run(asyncio.wait_for(scenario(), TIMEOUT))
    assert msg.type is WSMsgType.CLOSE
    assert (msg.data, msg.extra) == (4002, "upstream says bye")
    assert code == 4002


async def _handshake_status(upstream: str, path: str) -> int:
    async with proxying(upstream) as proxy, aiohttp.ClientSession() as client:
        try:
            async with client.ws_connect(proxy + path):
                return 101
        except aiohttp.WSServerHandshakeError as exc:
            return exc.status


def test_refused_upgrade_is_the_upstreams_status() -> None:
    async def scenario() -> int:
        async with serving(EchoUpstream().app()) as upstream:
            return await _handshake_status(upstream, "/refuse")

    assert asyncio.run(asyncio.wait_for(scenario(), TIMEOUT)) == 403


def test_unreachable_websocket_upstream_is_502() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    handshake = _handshake_status(f"http://127.0.0.1:{port}", "/socket")
    assert asyncio.run(asyncio.wait_for(handshake, TIMEOUT)) == 502


def test_client_vanishing_closes_the_upstream_side() -> None:
    upstream_app = EchoUpstream()

    async def scenario() -> tuple[int | None, str]:
        async with serving(upstream_app.app()) as upstream, proxying(upstream) as proxy:
            async with aiohttp.ClientSession() as client:
                ws = await client.ws_connect(proxy + "/socket")
                await ws.send_str("hi")
                await ws.receive(TIMEOUT)
                assert upstream_app.closed_with is not None
                # drop the TCP connection without a Close frame
                ws._response.connection.transport.abort()  # type: ignore[union-attr]
            return await upstream_app.closed_with

    code, _ = asyncio.run(asyncio.wait_for(scenario(), TIMEOUT))
    assert code == 1001  # going away, sent by the proxy for the client


def test_idle_websocket_outlives_the_read_timeout() -> None:
    """The route's read timeout bounds the wait for the handshake answer, not the life of a
    quiet WebSocket: after twice that long with no frame, messages still flow."""
    upstream_app = EchoUpstream()

    async def scenario() -> str:
        async with (
            serving(upstream_app.app()) as upstream,
            proxying(upstream, read_timeout=0.5) as proxy,
            aiohttp.ClientSession() as client,
            client.ws_connect(proxy + "/socket") as ws,
        ):
            await asyncio.sleep(1.0)
            await ws.send_str("still there?")
            msg = await ws.receive(TIMEOUT)
            return str(msg.data)

    assert asyncio.run(asyncio.wait_for(scenario(), TIMEOUT)) == "echo still there?"


def test_malformed_upgrade_is_400_before_the_upstream() -> None:
    upstream_app = EchoUpstream()

    async def scenario() -> bytes:
        async with serving(upstream_app.app()) as upstream, proxying(upstream) as proxy:
            host, port = proxy.removeprefix("http://").rsplit(":", 1)
            reader, writer = await asyncio.open_connection(host, int(port))
            writer.write(
                b"GET /socket HTTP/1.1\r\nHost: app\r\nConnection: Upgrade\r\n"
                b"Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\r\n"  # no key
            )
            status_line = await reader.readline()
            writer.close()
            return status_line

    assert asyncio.run(asyncio.wait_for(scenario(), TIMEOUT)).startswith(b"HTTP/1.1 400 ")
    assert upstream_app.headers == []  # never reached
