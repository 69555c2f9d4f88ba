"""The auth proxy's upstream mode: a reverse proxy that passes an allowed request on to the app
behind it (oauth2-proxy's ``--upstream``) and streams the answer back.

What it does to a request, in this order:

* refuses (400) a path whose dot-segments (RFC 3986 §5.2.4), plain or percent-encoded once or
  more, or with ``\\`` for ``/``, could climb out of the route's prefix at the upstream;
* drops the hop-by-hop headers (RFC 9110 §7.6.1: ``Connection`` and every header it names,
  ``Keep-Alive``, ``TE``, ``Trailer``, ``Transfer-Encoding``, ``Upgrade``; and ``Proxy-*``,
  which is meant for a proxy and carries the httpoxy attack as ``Proxy``);
* drops every header named like an identity header (``identity_headers.is_identity_header``,
  any case) *before* the caller's identity headers are added, so a client cannot forge them;
* appends the client's address to ``X-Forwarded-For`` and sets ``X-Forwarded-Proto`` and
  ``X-Forwarded-Host`` (de-facto headers), and appends this hop to an RFC 7239 ``Forwarded``
  chain the client started. The values come from ``request.remote``, ``.scheme`` and
  ``.host``: a caller that trusts a front proxy says so with ``request.clone(...)``;
* sends the client's ``Host`` when the route's ``pass_host_header`` is set, else the upstream's.

Bodies are streamed both ways (RFC 9112 §6/§7 framing is redone per hop: a chunked request may
go on chunked, a length stays a length), never read whole. One ``aiohttp.ClientSession`` per
route (its timeouts) over one shared ``TCPConnector`` keeps connections to the upstreams alive
between requests. Errors: no connection within ``connect_timeout`` or refused -> 502; no byte
for ``read_timeout`` before the answer's head -> 504; once the head has gone to the client, a
failing upstream ends the client's connection early (a short body, no final chunk: RFC 9112
§7.1/§8 "incomplete message") instead of faking a complete answer. WebSocket upgrades (RFC
6455) go through ``websocket_relay``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Mapping, Sequence

import aiohttp
from aiohttp import web
from multidict import CIMultiDict
from yarl import URL

from dex_py.proxy import websocket_relay
from dex_py.proxy.hop_headers import (
    HOP_BY_HOP,
    forwarded_element,
    is_unsafe_path,
    response_headers,
    without,
)
from dex_py.proxy.identity_headers import (
    AUTHORIZATION,
    IDENTITY_HEADER_NAMES,
    HeaderOptions,
    is_identity_header,
)
from dex_py.proxy.upstream_route import UpstreamRoute, longest_prefix

log = logging.getLogger(__name__)

# Set anew by the proxy (Host by pass_host_header; Expect is answered by the proxy's server).
_RESET = frozenset({"host", "x-forwarded-for", "x-forwarded-proto", "x-forwarded-host", "expect"})
_WEBSOCKET_HANDSHAKE = frozenset(
    {"sec-websocket-key", "sec-websocket-version", "sec-websocket-extensions"}
)
_SKIP_AUTO_HEADERS = ("User-Agent", "Accept", "Accept-Encoding", "Content-Type")
SMALL_BODY = 65536  # bytes: answers up to this long (with a length) go out in one write


class Upstreams:
    """The upstreams of one proxy process and the connection pool to them."""

    def __init__(
        self,
        routes: tuple[UpstreamRoute, ...],
        header_options: HeaderOptions,
        *,
        keepalive_timeout: float = 30.0,
    ) -> None:
        self.routes = routes
        self.header_options = header_options
        self._keepalive_timeout = keepalive_timeout
        candidates = IDENTITY_HEADER_NAMES | {AUTHORIZATION.lower()}
        identity = {name for name in candidates if is_identity_header(name, header_options)}
        self._drop = HOP_BY_HOP | _RESET | identity
        self._drop_websocket = self._drop | _WEBSOCKET_HANDSHAKE
        self._connector: aiohttp.TCPConnector | None = None
        self._sessions: dict[UpstreamRoute, aiohttp.ClientSession] = {}
        self._bases: dict[UpstreamRoute, URL] = {}

    def match(self, path: str) -> UpstreamRoute | None:
        """The route serving ``path`` (the longest matching prefix), or None."""
        return longest_prefix(self.routes, path)

    async def start(self) -> None:
        """Open the connection pool (call on the server's event loop, before serving)."""
        if self._connector is None:
            self._connector = aiohttp.TCPConnector(
                limit=0,  # as many as clients are waiting: a cap would queue them behind slow ones
                keepalive_timeout=self._keepalive_timeout,
                ttl_dns_cache=60,
            )
        for route in self.routes:
            self._session(route)

    async def close(self) -> None:
        """Close every pooled connection."""
        sessions, self._sessions = self._sessions, {}
        for session in sessions.values():
            await session.close()
        if self._connector is not None:
            await self._connector.close()
            self._connector = None

    def _session(self, route: UpstreamRoute) -> aiohttp.ClientSession:
        session = self._sessions.get(route)
        if session is None:
            if self._connector is None:
                raise RuntimeError("Upstreams.start() was not awaited")
            session = aiohttp.ClientSession(
                connector=self._connector,
                connector_owner=False,
                timeout=aiohttp.ClientTimeout(
                    total=None, sock_connect=route.connect_timeout, sock_read=route.read_timeout
                ),
                auto_decompress=False,  # bytes go through as the upstream encoded them
                cookie_jar=aiohttp.DummyCookieJar(),  # never carry one user's cookies to another
                skip_auto_headers=_SKIP_AUTO_HEADERS,
                trust_env=False,
            )
            self._sessions[route] = session
            self._bases[route] = URL(route.url.rstrip("/"))
        return session

    def upstream_url(self, route: UpstreamRoute, raw_path: str, raw_query: str) -> URL:
        """Where the request goes: the route's URL with the request's path appended as sent."""
        base = self._bases.get(route) or URL(route.url.rstrip("/"))
        return URL.build(
            scheme=base.scheme,
            host=base.raw_host or "",
            port=base.explicit_port,
            path=base.raw_path.rstrip("/") + raw_path,
            query_string=raw_query,
            encoded=True,
        )

    def request_headers(
        self,
        request: web.BaseRequest,
        route: UpstreamRoute,
        identity: Mapping[str, str],
        *,
        websocket: bool = False,
    ) -> CIMultiDict[str]:
        """The headers the upstream gets: the client's, less hop-by-hop and identity-named
        ones, then ``X-Forwarded-*`` and ``identity``."""
        incoming = request.headers
        out = without(incoming, self._drop_websocket if websocket else self._drop)
        chain = ", ".join(v for v in (*incoming.getall("X-Forwarded-For", ()), request.remote) if v)
        if chain:
            out["X-Forwarded-For"] = chain
        out["X-Forwarded-Proto"] = request.scheme
        out["X-Forwarded-Host"] = request.host
        if "Forwarded" in out:  # the client's chain goes on with this hop (RFC 7239 §4)
            out["Forwarded"] = ", ".join((*out.getall("Forwarded"), forwarded_element(request)))
        if route.pass_host_header and "Host" in incoming:
            out["Host"] = incoming["Host"]
        out.update(identity)
        return out

    async def forward(
        self,
        request: web.Request,
        route: UpstreamRoute,
        identity: Mapping[str, str],
        *,
        add_headers: Sequence[tuple[str, str]] = (),
    ) -> web.StreamResponse:
        """Pass ``request`` to ``route``'s upstream with ``identity`` (header name -> value)
        and stream its answer back, with ``add_headers`` (e.g. the proxy's own Set-Cookie)
        added to whatever answer goes out, before its head is sent."""
        response = await self._forward(request, route, identity, add_headers)
        if add_headers and not response.prepared:
            response.headers.extend(add_headers)
        return response

    async def _forward(
        self,
        request: web.Request,
        route: UpstreamRoute,
        identity: Mapping[str, str],
        add_headers: Sequence[tuple[str, str]],
    ) -> web.StreamResponse:
        raw_path = request.rel_url.raw_path
        if is_unsafe_path(raw_path):
            return web.Response(status=400, text="Bad Request: path not allowed\n")
        session = self._session(route)
        url = self.upstream_url(route, raw_path, request.rel_url.raw_query_string)
        if websocket_relay.is_upgrade(request):
            if not websocket_relay.is_valid_handshake(request):
                return web.Response(status=400, text="Bad Request: invalid WebSocket handshake\n")
            headers = self.request_headers(request, route, identity, websocket=True)
            return await self._forward_websocket(request, session, url, headers)
        headers = self.request_headers(request, route, identity)
        try:
            if request.body_exists:
                upstream = await _send_with_body(request, session, url, headers, route.read_timeout)
            else:
                upstream = await session.request(
                    request.method, url, headers=headers, allow_redirects=False
                )
        except Exception as exc:  # every failure becomes a gateway answer
            return _gateway_error(request, exc)
        try:
            return await _stream_back(request, upstream, add_headers)
        finally:
            upstream.release()

    async def _forward_websocket(
        self,
        request: web.Request,
        session: aiohttp.ClientSession,
        url: URL,
        headers: CIMultiDict[str],
    ) -> web.StreamResponse:
        try:
            upstream = await websocket_relay.connect(request, session, url, headers)
        except aiohttp.WSServerHandshakeError as exc:
            # The upstream answered but refused the upgrade: say what it said.
            status = exc.status if 400 <= exc.status < 600 else 502
            return web.Response(status=status, text=f"{status} from upstream\n")
        except Exception as exc:  # every failure becomes a gateway answer
            return _gateway_error(request, exc)
        return await websocket_relay.relay(request, upstream)


async def _send_with_body(
    request: web.Request,
    session: aiohttp.ClientSession,
    url: URL,
    headers: CIMultiDict[str],
    read_timeout: float,
) -> aiohttp.ClientResponse:
    """Send the request with the client's body streamed on. An upstream that stops taking the
    body (neither reads nor answers) for ``read_timeout`` is given up on (504) like one that
    does not answer: time spent waiting for a slow client does not count."""
    loop = asyncio.get_running_loop()
    sending = True

    async def body() -> AsyncIterator[bytes]:
        while chunk := await request.content.readany():
            if sending:
                deadline.reschedule(loop.time() + read_timeout)
            yield chunk  # resumed once the upstream has taken it
            if sending:
                deadline.reschedule(None)

    async with asyncio.timeout(None) as deadline:
        try:
            return await session.request(
                request.method, url, headers=headers, data=body(), allow_redirects=False
            )
        finally:
            sending = False


async def _stream_back(
    request: web.Request, upstream: aiohttp.ClientResponse, add_headers: Sequence[tuple[str, str]]
) -> web.StreamResponse:
    headers = response_headers(upstream.headers)
    if _small_and_whole(request, upstream):
        # One write of head and body, as a buffering proxy would: the length is known and
        # smaller than one read buffer, so nothing is held that would not be anyway.
        try:
            data = await upstream.read()
        except (TimeoutError, aiohttp.ClientError) as exc:
            return _gateway_error(request, exc)
        return web.Response(
            status=upstream.status, reason=upstream.reason, headers=headers, body=data
        )
    headers.extend(add_headers)
    response = web.StreamResponse(status=upstream.status, reason=upstream.reason, headers=headers)
    body = upstream.content
    try:
        await response.prepare(request)
        while True:
            try:
                chunk = await body.readany()
            except (TimeoutError, aiohttp.ClientError) as exc:
                _cut_short(request, exc)
                return response
            if not chunk:
                break
            await response.write(chunk)
        await response.write_eof()
    except ConnectionError:
        pass  # the client went away; the upstream connection is dropped, not reused
    return response


def _small_and_whole(request: web.Request, upstream: aiohttp.ClientResponse) -> bool:
    """Whether the answer has a body of a known length of at most ``SMALL_BODY`` bytes (not a
    HEAD's or a 1xx/204/304's, whose Content-Length describes a body that is not sent)."""
    length = upstream.content_length
    return (
        length is not None
        and length <= SMALL_BODY
        and request.method != "HEAD"
        and upstream.status >= 200
        and upstream.status not in (204, 304)
    )


def _cut_short(request: web.Request, exc: BaseException) -> None:
    """The upstream failed after the head went out: end the client's connection early, so it
    sees an incomplete answer rather than a complete wrong one."""
    log.warning(
        "upstream failed mid-answer: %s %s: %s",
        request.method,
        request.rel_url.path,
        type(exc).__name__,
    )
    if request.transport is not None:
        request.transport.close()


def _gateway_error(request: web.Request, exc: BaseException) -> web.Response:
    """502 when no connection could be made or the upstream broke the exchange; 504 when it
    did not answer in time (RFC 9110 §15.6.3, §15.6.5)."""
    if isinstance(exc, aiohttp.ConnectionTimeoutError) or not isinstance(exc, asyncio.TimeoutError):
        status, text = 502, "Bad Gateway: the upstream could not be reached\n"
    else:
        status, text = 504, "Gateway Timeout: the upstream did not answer in time\n"
    log.warning(
        "upstream %s: %s %s: %s", status, request.method, request.rel_url.path, type(exc).__name__
    )
    return web.Response(status=status, text=text)
