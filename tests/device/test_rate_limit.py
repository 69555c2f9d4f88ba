"""Wrong user codes are rate limited per browser and per client address (``web.clientRemoteIP``
behind a proxy), in storage (RFC 8628 §5.1: a user code is short enough to guess). Each test has
its own live server, as the counts of one test would otherwise limit the next (every test
browser comes from 127.0.0.1)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import requests

from dex_py.oauth.device_codes import WRONG_CODES_PER_ADDRESS, WRONG_CODES_PER_BROWSER
from tests.device.conftest import device_config, enter_code, start
from tests.live import LiveServer

pytestmark = [pytest.mark.live]

WRONG = "BBBB-BBBB"  # never issued below: checked against the real code first


def test_wrong_codes_per_browser(make_live_server: Callable[..., LiveServer]) -> None:
    server = make_live_server(device_config())
    body = start(server)
    assert body["user_code"] != WRONG
    browser = requests.Session()
    for _ in range(WRONG_CODES_PER_BROWSER):
        resp = enter_code(browser, server, WRONG)
        assert resp.status_code == 400
        assert "wrong or has expired" in resp.text
    limited = enter_code(browser, server, WRONG)
    assert limited.status_code == 429
    assert "Too many wrong codes" in limited.text
    # now even the right code is refused in this browser...
    refused = enter_code(browser, server, body["user_code"])
    assert refused.status_code == 429
    # ...but another browser (same address, under its own limit) may still enter it
    other = enter_code(requests.Session(), server, body["user_code"])
    assert other.status_code == 200
    assert "Too many wrong codes" not in other.text


def test_wrong_codes_per_address(make_live_server: Callable[..., LiveServer]) -> None:
    """A guesser that drops its cookies (a fresh browser each time) is limited by address."""
    server = make_live_server(device_config())
    body = start(server)
    assert body["user_code"] != WRONG
    statuses = [
        enter_code(requests.Session(), server, WRONG).status_code
        for _ in range(WRONG_CODES_PER_ADDRESS)
    ]
    assert statuses == [400] * WRONG_CODES_PER_ADDRESS
    limited = enter_code(requests.Session(), server, body["user_code"])
    assert limited.status_code == 429
    assert "Too many wrong codes" in limited.text


def test_the_count_is_shared_by_replicas(
    make_live_server: Callable[..., LiveServer], tmp_path: Path
) -> None:
    """Two servers on one database (replicas, each with two worker processes): wrong codes
    entered at either count towards one limit."""
    shared = {"type": "sqlite3", "config": {"file": str(tmp_path / "shared.sqlite3")}}
    replicas = [make_live_server(device_config(), storage=shared) for _ in range(2)]
    browser = requests.Session()  # one cookie for both: cookies do not depend on the port
    for i in range(WRONG_CODES_PER_BROWSER):
        resp = enter_code(browser, replicas[i % 2], WRONG)
        assert resp.status_code == 400, i
    for replica in replicas:
        limited = enter_code(browser, replica, WRONG)
        assert limited.status_code == 429
        assert "Too many wrong codes" in limited.text


def _guess_from(server: LiveServer, forwarded_for: str) -> int:
    headers = {"X-Forwarded-For": forwarded_for}
    return enter_code(requests.Session(), server, WRONG, headers=headers).status_code


def test_behind_a_trusted_proxy_each_user_has_their_own_limit(
    make_live_server: Callable[..., LiveServer],
) -> None:
    """``web.clientRemoteIP``: behind a reverse proxy (here the test, from 127.0.0.1), the
    address is the one the proxy forwards, so one guesser does not lock out everyone else."""
    remote = {"header": "X-Forwarded-For", "trustedProxies": ["127.0.0.0/8"]}
    server = make_live_server(device_config(web={"clientRemoteIP": remote}))
    body = start(server)
    statuses = [_guess_from(server, "203.0.113.7") for _ in range(WRONG_CODES_PER_ADDRESS)]
    assert statuses == [400] * WRONG_CODES_PER_ADDRESS
    assert _guess_from(server, "203.0.113.7") == 429
    # The guesser cannot pick its own address: what it writes left of the proxy's is ignored.
    assert _guess_from(server, "198.51.100.1, 203.0.113.7") == 429
    other = enter_code(
        requests.Session(),
        server,
        body["user_code"],
        headers={"X-Forwarded-For": "198.51.100.9"},
    )
    assert other.status_code == 200
    assert "Too many wrong codes" not in other.text


def test_the_header_from_an_untrusted_peer_is_ignored(
    make_live_server: Callable[..., LiveServer],
) -> None:
    """A client talking to us directly (not from a trusted proxy) cannot escape the limit by
    sending a new X-Forwarded-For each time."""
    remote = {"header": "X-Forwarded-For", "trustedProxies": ["10.0.0.0/8"]}
    server = make_live_server(device_config(web={"clientRemoteIP": remote}))
    start(server)
    statuses = [_guess_from(server, f"203.0.113.{i}") for i in range(WRONG_CODES_PER_ADDRESS + 1)]
    assert statuses == [400] * WRONG_CODES_PER_ADDRESS + [429]
