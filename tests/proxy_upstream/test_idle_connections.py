"""1,000 idle client connections held open on the proxy (half silent, half stalled mid-way
through their request head, as slow clients are) while a normal request still gets its answer;
then the stalled ones finish their requests and every one is answered: they were held, not
dropped. No timing assertion beyond a generous timeout."""

from __future__ import annotations

import asyncio

import aiohttp

from tests.proxy_upstream.support import echo_app, proxying, serving

IDLE = 1000
TIMEOUT = 60


async def _open(
    host: str, port: int, partial: bytes
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection(host, port)
    if partial:
        writer.write(partial)
        await writer.drain()
    return reader, writer


def test_idle_connections_do_not_block_others() -> None:
    head = b"GET /slow-client HTTP/1.1\r\nHost: app\r\n"

    async def scenario() -> tuple[int, list[bytes]]:
        async with serving(echo_app()) as upstream, proxying(upstream) as proxy:
            host, port = proxy.removeprefix("http://").rsplit(":", 1)
            idle = []
            for i in range(IDLE):
                idle.append(await _open(host, int(port), head if i % 2 else b""))
            try:
                async with aiohttp.ClientSession() as client, client.get(proxy + "/normal") as r:
                    status = r.status
                    await r.read()
                stalled = [writer for i, (_, writer) in enumerate(idle) if i % 2]
                for writer in stalled:
                    writer.write(b"Connection: close\r\n\r\n")
                answers = await asyncio.gather(
                    *(reader.readline() for i, (reader, _) in enumerate(idle) if i % 2)
                )
            finally:
                for _, writer in idle:
                    writer.close()
            return status, answers

    status, answers = asyncio.run(asyncio.wait_for(scenario(), TIMEOUT))
    assert status == 200
    assert len(answers) == IDLE // 2
    assert set(answers) == {b"HTTP/1.1 200 OK\r\n"}
