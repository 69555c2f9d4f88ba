"""Running the proxy's aiohttp application inside a test (no issuer needed): ``serve(config)``
yields an ``aiohttp.test_utils.TestClient`` bound to 127.0.0.1."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from aiohttp.test_utils import TestClient, TestServer

from dex_py.proxy.app import create_app
from dex_py.proxy.config import ProxyConfig
from dex_py.proxy.proxy_state import STATE, ProxyState


@contextlib.asynccontextmanager
async def serve(config: ProxyConfig) -> AsyncIterator[tuple[TestClient, ProxyState]]:
    app = create_app(config)
    client = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    try:
        yield client, app[STATE]
    finally:
        await client.close()
