"""The device flow on etcd storage, across two replicas (each with two worker processes) sharing
one etcd: a request started on one is approved through the other and redeemed once; concurrent
polls on both get the tokens once (the redeem is one compare-and-swap transaction); wrong user
codes count towards one limit (attempt counters in etcd)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from dex_py.oauth.device_codes import WRONG_CODES_PER_BROWSER
from tests.device.conftest import (
    browser_login,
    device_config,
    enter_code,
    error_of,
    poll,
    polls_at_once,
    refresh,
    start,
)
from tests.etcd_server import etcd_server
from tests.live import LiveServer, live_server

pytestmark = [pytest.mark.live, pytest.mark.etcd]


@pytest.fixture(scope="module")
def replicas(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[LiveServer]]:
    base = tmp_path_factory.mktemp("device-etcd")
    with etcd_server(base / "etcd") as url:
        storage = {"type": "etcd", "config": {"endpoints": [url], "namespace": "dex/"}}
        servers: list[LiveServer] = []
        try:
            for _ in range(2):
                servers.append(live_server(device_config(), storage=storage, base_dir=base))
            yield servers
        finally:
            for server in servers:
                server.stop()


def test_started_on_one_replica_approved_on_the_other(replicas: list[LiveServer]) -> None:
    a, b = replicas
    body = start(a)
    done = browser_login(b, body["user_code"])
    assert 'id="device-approved"' in done.text, done.text[:500]
    resp = poll(a, body["device_code"])  # the first poll: no interval to wait
    assert resp.status_code == 200, resp.text
    token = resp.json()
    refreshed = refresh(b, token["refresh_token"])
    assert refreshed.status_code == 200, refreshed.text


def test_polls_at_once_on_both_replicas_get_the_tokens_once(replicas: list[LiveServer]) -> None:
    body = start(replicas[0])
    browser_login(replicas[0], body["user_code"])
    results = polls_at_once(replicas, body["device_code"])
    winners = [r for r in results if r.status_code == 200]
    assert len(winners) == 1, [r.text for r in results]
    assert {error_of(r) for r in results if r.status_code != 200} <= {"invalid_grant", "slow_down"}


def test_wrong_codes_count_once_across_replicas(replicas: list[LiveServer]) -> None:
    browser = requests.Session()  # one cookie for both: cookies do not depend on the port
    for i in range(WRONG_CODES_PER_BROWSER):
        assert enter_code(browser, replicas[i % 2], "BBBB-BBBB").status_code == 400, i
    for replica in replicas:
        limited = enter_code(browser, replica, "BBBB-BBBB")
        assert limited.status_code == 429
        assert "Too many wrong codes" in limited.text
