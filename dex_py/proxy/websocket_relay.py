"""WebSocket relay for the auth proxy's upstream mode (RFC 6455).

``upstream.Upstreams.forward`` opens the WebSocket to the upstream first (so a refused or
unreachable upstream is an ordinary HTTP error to the client, never a half-open socket), then
``relay`` completes the client's opening handshake (RFC 6455 §4.2.2) with the subprotocol the
upstream chose and copies frames both ways until one side closes:

* text and binary messages as they are (§5.6), each side's message-size limit the same;
* Ping and Pong (§5.5.2, §5.5.3) are passed on, not answered here, so the far end's liveness
  is what the near end measures;
* a Close (§5.5.1, §7.1.5) is passed on with its status code and reason; the far end's reply
  closes the near end. A side that vanishes without a Close closes the other with 1001 (going
  away; the client left) or 1014 (bad gateway; the upstream left), since 1005/1006/1015 must
  never be sent (§7.4.1).

Each hop negotiates its own extensions (permessage-deflate, RFC 7692), so compression is
between the client and the proxy only.
"""

from __future__ import annotations

import asyncio
import contextlib

import aiohttp
from aiohttp import WSMsgType, web
from multidict import CIMultiDict
from yarl import URL

MAX_MESSAGE = 4 * 1024 * 1024  # aiohttp's default for both ends, bytes
CLIENT_LEFT = 1001  # RFC 6455 §7.4.1 "going away"
UPSTREAM_LEFT = 1014  # IANA WebSocket Close Code Number Registry: "Bad Gateway"
_NOT_SENDABLE = frozenset({1005, 1006, 1015})  # RFC 6455 §7.4.1: never in a Close frame
_CLOSE_WAIT = 10.0  # seconds for the far side to answer a Close

AnyWebSocket = web.WebSocketResponse | aiohttp.ClientWebSocketResponse


def is_upgrade(request: web.BaseRequest) -> bool:
    """Whether ``request`` asks to become a WebSocket (RFC 6455 §4.1: GET, ``Upgrade:
    websocket``, ``Connection: Upgrade``)."""
    if request.method != "GET" or "Upgrade" not in request.headers:
        return False
    if request.headers["Upgrade"].strip().lower() != "websocket":
        return False
    tokens = request.headers.get("Connection", "").lower().split(",")
    return any(token.strip() == "upgrade" for token in tokens)


def is_valid_handshake(request: web.BaseRequest) -> bool:
    """Whether the client's opening handshake is well-formed (RFC 6455 §4.2.1: version 13, a
    16-byte base64 ``Sec-WebSocket-Key``), checked before the upstream is disturbed."""
    return web.WebSocketResponse().can_prepare(request).ok


def requested_protocols(request: web.BaseRequest) -> tuple[str, ...]:
    """The subprotocols the client offers (``Sec-WebSocket-Protocol``, RFC 6455 §4.1)."""
    offered = request.headers.getall("Sec-WebSocket-Protocol", ())
    return tuple(p.strip() for value in offered for p in value.split(",") if p.strip())


async def connect(
    request: web.BaseRequest,
    session: aiohttp.ClientSession,
    url: URL,
    headers: CIMultiDict[str],
) -> aiohttp.ClientWebSocketResponse:
    """Open the WebSocket to the upstream with the client's subprotocol offers and ``headers``
    (the handshake's own headers are made anew for this hop). Raises what aiohttp raises:
    ``WSServerHandshakeError`` when the upstream answers without upgrading."""
    headers.popall("Sec-WebSocket-Protocol", None)
    return await session.ws_connect(
        url,
        headers=headers,
        protocols=requested_protocols(request),
        autoclose=False,
        autoping=False,
        max_msg_size=MAX_MESSAGE,
    )


def _sendable(code: int | None, fallback: int) -> int:
    if code is None or code in _NOT_SENDABLE or not 1000 <= code <= 4999:
        return fallback
    return code


async def _pump(source: AnyWebSocket, target: AnyWebSocket, lost_code: int) -> None:
    """Copy ``source``'s frames to ``target`` until ``source`` closes or fails."""
    while True:
        msg = await source.receive()
        try:
            if msg.type is WSMsgType.TEXT:
                await target.send_str(msg.data)
            elif msg.type is WSMsgType.BINARY:
                await target.send_bytes(msg.data)
            elif msg.type is WSMsgType.PING:
                await target.ping(msg.data)
            elif msg.type is WSMsgType.PONG:
                await target.pong(msg.data)
            elif msg.type is WSMsgType.CLOSE:
                code = _sendable(msg.data, 1000)
                reason = (msg.extra or "").encode()[:123]  # §5.5: control payload <= 125
                await target.close(code=code, message=reason)
                await source.close(code=code, message=reason)
                return
            elif msg.type is WSMsgType.CLOSING:
                return  # our own close of this side is under way, from the other pump
            else:  # CLOSED or ERROR: the source is gone without a Close
                await target.close(code=lost_code)
                return
        except ConnectionError:
            await source.close(code=_sendable(target.close_code, lost_code))
            return


async def relay(
    request: web.Request, upstream: aiohttp.ClientWebSocketResponse
) -> web.WebSocketResponse:
    """Complete the client's handshake and relay frames between it and ``upstream`` until
    both are closed."""
    chosen = (upstream.protocol,) if upstream.protocol else ()
    client = web.WebSocketResponse(
        protocols=chosen, autoclose=False, autoping=False, max_msg_size=MAX_MESSAGE
    )
    try:
        await client.prepare(request)
    except Exception:
        await upstream.close(code=CLIENT_LEFT)
        raise
    to_upstream = asyncio.ensure_future(_pump(client, upstream, CLIENT_LEFT))
    to_client = asyncio.ensure_future(_pump(upstream, client, UPSTREAM_LEFT))
    try:
        await asyncio.wait((to_upstream, to_client), return_when=asyncio.FIRST_COMPLETED)
        # The other pump ends on the CLOSING that the first one's close() feeds it.
        await asyncio.wait((to_upstream, to_client), timeout=_CLOSE_WAIT)
    finally:
        for task in (to_upstream, to_client):
            if not task.done():
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if not upstream.closed:
            await upstream.close(code=CLIENT_LEFT)
        if not client.closed:
            await client.close(code=UPSTREAM_LEFT)
    return client
