"""``dex-py proxy`` in upstream mode (no front server): a logged-in user reaches the real app
with identity headers, a WebSocket is relayed both ways, and the client's own identity headers
never reach the app."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
import requests

from tests.proxy_front.conftest import Stack
from tests.proxy_front.stack import BROWSER_ACCEPT, log_in
from tests.proxy_front.upstream_app import FORGED_IDENTITY, received_headers

pytestmark = [pytest.mark.ldap, pytest.mark.live]


def cookie_header(browser: requests.Session) -> str:
    return "; ".join(f"{c.name}={c.value}" for c in browser.cookies)


async def websocket_round_trip(url: str, cookie: str, messages: list[str]) -> list[str]:
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(url, headers={"Cookie": cookie}) as ws,
    ):
        replies = []
        for message in messages:
            await ws.send_str(message)
            reply = await ws.receive(timeout=10)
            assert reply.type == aiohttp.WSMsgType.TEXT, reply
            replies.append(reply.data)
        await ws.send_bytes(b"\x00\x01binary")
        binary = await ws.receive(timeout=10)
        assert binary.data == b"\x00\x01binary"
        return replies


async def websocket_status(url: str) -> int:
    async with aiohttp.ClientSession() as session:
        try:
            async with session.ws_connect(url):
                return 101
        except aiohttp.WSServerHandshakeError as refused:
            return refused.status


def test_upstream_mode_identity_and_forged_headers(stack: Stack) -> None:
    stack.upstream_proxy()
    front = stack.clients["u"].front
    browser, page = log_in(front, "bob", "bob-secret", path="/app/page?x=1")
    assert page.status_code == 200, stack.logs()
    echo = page.json()
    assert echo["path"] == "/app/page" and echo["query"] == "x=1"
    headers = received_headers(echo)
    assert headers["x-forwarded-email"] == ["bob@example.org"]
    assert headers["x-auth-request-email"] == ["bob@example.org"]

    forged = browser.get(front + "/app/page", headers=FORGED_IDENTITY, timeout=10)
    assert forged.status_code == 200
    seen = received_headers(forged.json())
    for name in FORGED_IDENTITY:
        assert "mallory" not in " ".join(seen.get(name.lower(), [])), (name, seen)
    assert seen["x-auth-request-groups"] == ["developers"]
    assert seen["x-forwarded-groups"] == ["developers"]

    anonymous = requests.get(
        front + "/app/page",
        headers=FORGED_IDENTITY | BROWSER_ACCEPT,
        allow_redirects=False,
        timeout=10,
    )
    assert anonymous.status_code == 302
    assert "/oauth2/start" in anonymous.headers["Location"]
    api = requests.post(front + "/app/page", json={}, allow_redirects=False, timeout=10)
    assert api.status_code == 401, "an API call without a session is refused, not redirected"
    assert "path" not in api.text  # not the app's echo


def test_websocket_echo_through_upstream_mode(stack: Stack) -> None:
    stack.upstream_proxy()
    front = stack.clients["u"].front
    browser, page = log_in(front, "alice", "alice-secret")
    assert page.status_code == 200, stack.logs()
    ws_url = front.replace("http://", "ws://") + "/ws"
    replies = asyncio.run(websocket_round_trip(ws_url, cookie_header(browser), ["one", "two"]))
    user = received_headers(page.json())["x-auth-request-user"][0]
    assert replies == [f"{user}: one", f"{user}: two"]
    # Without a session the upgrade is refused before it reaches the app.
    assert asyncio.run(websocket_status(ws_url)) in (302, 401)
