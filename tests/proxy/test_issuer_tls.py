"""An https issuer with a private CA (``issuerCAFile``): discovery and keys load when the CA is
given, and the proxy refuses the unknown certificate when it is not."""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path

from aiohttp import web

from dex_py.proxy.oidc_client import IssuerUnavailable, OidcClient
from tests.proxy.helpers import make_config
from tests.services import free_port
from tests.tls import make_test_ca


def test_private_ca_issuer(tmp_path: Path) -> None:
    files = make_test_ca(tmp_path)
    port = free_port()
    issuer = f"https://127.0.0.1:{port}/dex"

    async def discovery(request: web.Request) -> web.Response:
        return web.json_response(
            {
                "issuer": issuer,
                "authorization_endpoint": issuer + "/auth",
                "token_endpoint": issuer + "/token",
                "jwks_uri": issuer + "/keys",
            }
        )

    async def keys(request: web.Request) -> web.Response:
        return web.json_response({"keys": []})

    async def scenario() -> None:
        app = web.Application()
        app.router.add_get("/dex/.well-known/openid-configuration", discovery)
        app.router.add_get("/dex/keys", keys)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(files.cert_pem, files.key_pem)
        runner = web.AppRunner(app)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port, ssl_context=context).start()
        try:
            trusting = OidcClient(make_config(issuer=issuer, issuerCAFile=str(files.ca_pem)))
            meta = await trusting.discover()
            assert meta.token_endpoint == issuer + "/token"
            assert await trusting.fetch_jwks() == {"keys": []}
            await trusting.close()
            default = OidcClient(make_config(issuer=issuer))
            try:
                await default.discover()
                raise AssertionError("an unknown CA was trusted")
            except IssuerUnavailable as exc:
                assert "ClientConnectorCertificateError" in str(exc) or "SSL" in str(exc)
            finally:
                await default.close()
        finally:
            await runner.cleanup()

    asyncio.run(scenario())
