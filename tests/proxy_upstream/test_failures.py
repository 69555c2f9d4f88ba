"""An upstream that cannot be reached, is slow, or breaks off: 502 when no connection, 504 when
no answer in time, and once the answer's head has gone out a cut-short body (never a traceback,
never a complete-looking wrong answer); the proxy keeps serving afterwards."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket

import aiohttp
import pytest
from aiohttp import web

from tests.proxy_upstream.support import (
    echo_app,
    full_listener,
    proxying,
    raw_upstream,
    read_head,
    serving,
)

TIMEOUT = 30


async def _get(url: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as client, client.get(url) as resp:
        return resp.status, await resp.text()


def _no_traceback_logged(caplog: pytest.LogCaptureFixture) -> None:
    for record in caplog.records:
        assert record.exc_info is None, record.getMessage()
        assert "Traceback" not in record.getMessage()


def test_connection_refused_is_502(caplog: pytest.LogCaptureFixture) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    async def scenario() -> tuple[int, str]:
        async with proxying(f"http://127.0.0.1:{port}") as proxy:
            return await _get(proxy + "/")

    status, text = asyncio.run(asyncio.wait_for(scenario(), TIMEOUT))
    assert status == 502 and "Bad Gateway" in text
    _no_traceback_logged(caplog)


def test_connect_timeout_is_502(caplog: pytest.LogCaptureFixture) -> None:
    async def scenario(upstream: str) -> tuple[int, str]:
        async with proxying(upstream, connect_timeout=0.5) as proxy:
            return await _get(proxy + "/")

    with full_listener() as upstream:
        status, text = asyncio.run(asyncio.wait_for(scenario(upstream), TIMEOUT))
    assert status == 502 and "Bad Gateway" in text
    _no_traceback_logged(caplog)


def test_read_timeout_before_the_answer_is_504(caplog: pytest.LogCaptureFixture) -> None:
    release = asyncio.Event()

    async def stalls(request: web.Request) -> web.Response:
        if request.path == "/slow":
            await release.wait()
        return web.Response(text="fine")

    async def scenario() -> tuple[tuple[int, str], tuple[int, str]]:
        app = web.Application()
        app.router.add_get("/{tail:.*}", stalls)
        async with serving(app) as upstream, proxying(upstream, read_timeout=0.5) as proxy:
            slow = await _get(proxy + "/slow")
            release.set()
            return slow, await _get(proxy + "/fast")

    slow, fast = asyncio.run(asyncio.wait_for(scenario(), TIMEOUT))
    assert slow[0] == 504 and "Gateway Timeout" in slow[1]
    assert fast == (200, "fine")
    _no_traceback_logged(caplog)


def _cut_short(answer: bytes, then_wait: bool = False):  # type: ignore[no-untyped-def]
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_head(reader)
        writer.write(answer)
        await writer.drain()
        if then_wait:
            await reader.read()  # silent until the proxy, past its read timeout, hangs up

    return handle


CUTS = {
    # longer than SMALL_BODY, so streamed: the head goes out before the body is complete
    "length": b"HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n" + b"a" * 10,
    "chunked": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n",
}


@pytest.mark.parametrize("framing", sorted(CUTS))
@pytest.mark.parametrize("then_wait", [False, True], ids=["closes", "stalls"])
def test_upstream_failing_mid_answer_cuts_the_client_short(
    framing: str, then_wait: bool, caplog: pytest.LogCaptureFixture
) -> None:
    async def scenario() -> tuple[BaseException | None, bytes, tuple[int, str]]:
        async with (
            raw_upstream(_cut_short(CUTS[framing], then_wait)) as broken,
            serving(echo_app()) as healthy,
            proxying(broken, prefix="/", read_timeout=0.5) as proxy,
        ):
            error: BaseException | None = None
            body = b""
            async with aiohttp.ClientSession() as client, client.get(proxy + "/") as resp:
                assert resp.status == 200  # the head had gone out already
                try:
                    body = await resp.read()
                except aiohttp.ClientPayloadError as exc:
                    error = exc
            async with proxying(healthy) as other:
                after = await _get(other + "/still-serving")
            return error, body, after

    error, body, after = asyncio.run(asyncio.wait_for(scenario(), TIMEOUT))
    assert error is not None, f"the client got a complete-looking answer: {body!r}"
    assert after[0] == 200
    _no_traceback_logged(caplog)


@pytest.mark.parametrize("then_wait", [False, True], ids=["closes", "stalls"])
def test_small_answer_cut_short_is_a_gateway_error(
    then_wait: bool, caplog: pytest.LogCaptureFixture
) -> None:
    """A short answer with a length is read whole before its head goes out: a failure is
    then still an honest 502/504, not a truncated 200."""
    short = b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + b"a" * 10

    async def scenario() -> tuple[int, str]:
        async with (
            raw_upstream(_cut_short(short, then_wait)) as broken,
            proxying(broken, read_timeout=0.5) as proxy,
        ):
            return await _get(proxy + "/")

    status, text = asyncio.run(asyncio.wait_for(scenario(), TIMEOUT))
    assert (status, text.split(":")[0]) == (
        (504, "Gateway Timeout") if then_wait else (502, "Bad Gateway")
    )
    _no_traceback_logged(caplog)


def test_proxy_still_serves_after_an_upstream_broke_off() -> None:
    async def scenario() -> list[int]:
        async with (
            raw_upstream(_cut_short(CUTS["length"])) as broken,
            proxying(broken) as proxy,
            aiohttp.ClientSession() as client,
        ):
            statuses = []
            for _ in range(3):
                async with client.get(proxy + "/") as resp:
                    statuses.append(resp.status)
                    with pytest.raises(aiohttp.ClientPayloadError):
                        await resp.read()
            return statuses

    assert asyncio.run(asyncio.wait_for(scenario(), TIMEOUT)) == [200, 200, 200]


def test_garbage_from_the_upstream_is_502(caplog: pytest.LogCaptureFixture) -> None:
    async def scenario() -> tuple[int, str]:
        async with (
            raw_upstream(_cut_short(b"SSH-2.0-OpenSSH_9.2\r\n\r\n")) as weird,
            proxying(weird) as proxy,
        ):
            return await _get(proxy + "/")

    status, text = asyncio.run(asyncio.wait_for(scenario(), TIMEOUT))
    assert status == 502 and "Traceback" not in text
    _no_traceback_logged(caplog)


def test_upstream_closing_before_any_answer_is_502(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)

    async def scenario() -> tuple[int, str]:
        async with raw_upstream(_cut_short(b"")) as closes, proxying(closes) as proxy:
            return await _get(proxy + "/")

    status, _ = asyncio.run(asyncio.wait_for(scenario(), TIMEOUT))
    assert status == 502
    _no_traceback_logged(caplog)


def test_client_leaving_mid_download_is_quiet_and_frees_the_upstream(
    caplog: pytest.LogCaptureFixture,
) -> None:
    upstream_gone = asyncio.Event()

    async def endless(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse()
        await resp.prepare(request)
        try:
            while True:
                await resp.write(b"z" * 65536)
                await asyncio.sleep(0.001)
        except ConnectionError:
            upstream_gone.set()  # the proxy dropped its connection to us
        return resp

    async def scenario() -> None:
        app = web.Application()
        app.router.add_get("/{tail:.*}", endless)
        async with serving(app) as upstream, proxying(upstream) as proxy:
            async with aiohttp.ClientSession() as client:
                resp = await client.get(proxy + "/stream")
                await resp.content.readexactly(65536)
                resp.close()  # hang up mid-body
            await upstream_gone.wait()

    caplog.set_level(logging.DEBUG, logger="dex_py.proxy")
    asyncio.run(asyncio.wait_for(scenario(), TIMEOUT))
    assert not [r for r in caplog.records if r.name.startswith("dex_py.proxy")]
    _no_traceback_logged(caplog)


def test_upstream_not_taking_the_upload_is_504(caplog: pytest.LogCaptureFixture) -> None:
    """An upstream that accepts the connection but neither reads the body nor answers: past
    the read timeout the proxy gives up with 504 instead of waiting for ever."""
    finished = asyncio.Event()
    size = 32 * 1024 * 1024  # far more than the socket buffers on the way hold

    async def deaf(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_head(reader)
        await finished.wait()  # reads no body, says nothing

    async def upload(writer: asyncio.StreamWriter) -> None:
        writer.write(
            f"PUT /upload HTTP/1.1\r\nHost: app\r\nContent-Length: {size}\r\n\r\n".encode()
        )
        for _ in range(size // 65536):
            writer.write(b"u" * 65536)
            await writer.drain()

    async def scenario() -> bytes:
        async with raw_upstream(deaf) as upstream, proxying(upstream, read_timeout=0.5) as proxy:
            host, port = proxy.removeprefix("http://").rsplit(":", 1)
            reader, writer = await asyncio.open_connection(host, int(port))
            sending = asyncio.ensure_future(upload(writer))
            try:
                return await reader.readline()
            finally:
                writer.transport.abort()  # hang up: no lingering over the unsent rest
                sending.cancel()
                with contextlib.suppress(asyncio.CancelledError, ConnectionError):
                    await sending
                finished.set()

    status_line = asyncio.run(asyncio.wait_for(scenario(), TIMEOUT))
    assert status_line.startswith(b"HTTP/1.1 504 ")
    _no_traceback_logged(caplog)
