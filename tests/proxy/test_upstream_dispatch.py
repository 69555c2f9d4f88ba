"""Upstream mode's front door (dex_py.proxy.forward_auth.upstream) with the real relay
(dex_py.proxy.upstream) and a real upstream app: unauthenticated browsers are sent to log in,
API calls get 401, rules apply, and the app sees the session's identity, never a forged one."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from dex_py.proxy.session import Session, encode
from tests.proxy.helpers import make_config
from tests.proxy.inprocess import serve

pytest.importorskip("dex_py.proxy.upstream", reason="the upstream relay is not merged yet")

NAME = "_dexpy_proxy"


async def _echo(request: web.Request) -> web.Response:
    return web.json_response({"path": request.path_qs, "headers": dict(request.headers)})


def test_upstream_mode_login_redirect_rules_and_identity() -> None:
    async def scenario() -> None:
        upstream_app = web.Application()
        upstream_app.router.add_route("*", "/{tail:.*}", _echo)
        upstream = TestServer(upstream_app, host="127.0.0.1")
        await upstream.start_server()
        try:
            config = make_config(
                issuer="http://127.0.0.1:9/dex",
                upstreams=[{"path": "/", "url": f"http://127.0.0.1:{upstream.port}"}],
                rules=[
                    {"path": "/healthz", "skipAuth": True},
                    {"path": "/admin", "allow": {"teams": ["admins"]}},
                    {"path": "/", "allow": {"teams": ["developers"]}},
                ],
            )
            async with serve(config) as (client, state):
                forged = {"X-Forwarded-User": "root", "X-Auth-Request-Email": "root@evil"}
                browser = await client.get(
                    "/app?x=1", headers={"Accept": "text/html", **forged}, allow_redirects=False
                )
                assert browser.status == 302
                assert browser.headers["Location"] == "/oauth2/start?rd=%2Fapp%3Fx%3D1"
                api = await client.get("/app", headers={"Accept": "application/json"})
                assert api.status == 401
                health = await client.get("/healthz", headers=forged)
                assert health.status == 200
                seen = (await health.json())["headers"]
                assert "X-Forwarded-User" not in seen and "X-Auth-Request-Email" not in seen
                session = Session(
                    subject="alice-sub",
                    email="alice@example.com",
                    groups=("developers",),
                    refreshed_at=time.time(),
                    expires_at=time.time() + 3600,
                )
                cookie = {"Cookie": f"{NAME}={state.cipher.seal(NAME, encode(session))}"}
                ok = await client.post("/app/data?q=1", headers={**cookie, **forged}, data=b"hi")
                assert ok.status == 200
                body = json.loads(await ok.text())
                assert body["path"] == "/app/data?q=1"
                assert body["headers"]["X-Forwarded-User"] == "alice-sub"
                assert body["headers"]["X-Auth-Request-Email"] == "alice@example.com"
                denied = await client.get("/admin", headers=cookie)
                assert denied.status == 403
        finally:
            await upstream.close()

    asyncio.run(scenario())
