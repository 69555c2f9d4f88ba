"""Concurrent refreshes of one refresh token against a real ``dex-py serve`` (several worker
processes, so the requests race through the database's row lock, not a Python lock), on SQLite,
PostgreSQL, MariaDB and etcd (issue 7, item 7).

Within ``reuseInterval`` every request presenting the same secret must get the same successor,
and that successor must keep working; with ``reuseInterval: 0s`` only one of them may succeed.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests

from tests.live import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    EXAMPLE_CLIENT_ID,
    EXAMPLE_CLIENT_SECRET,
    EXAMPLE_REDIRECT_URI,
    LiveServer,
)
from tests.login_flow import login_password
from tests.storage.conftest import Namespaces

pytestmark = [pytest.mark.live, pytest.mark.slow]

CONCURRENT = 8
KINDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
    pytest.param("mysql", id="mysql", marks=pytest.mark.mysql),
    pytest.param("etcd", id="etcd", marks=pytest.mark.etcd),  # compare-and-swap, no row lock
]


@pytest.fixture
def namespaces(tmp_path: Path) -> Iterator[Namespaces]:
    ns = Namespaces(tmp_path)
    yield ns
    ns.drop_all()


@pytest.fixture
def start_server(
    make_live_server: Callable[..., LiveServer], namespaces: Namespaces
) -> Callable[[str, str], LiveServer]:
    """``start_server(kind, reuse_interval)``: a 3-worker server on a fresh database."""

    def start(kind: str, reuse_interval: str) -> LiveServer:
        storage = None
        if kind != "sqlite":
            cfg = namespaces.create(kind)
            storage = {"type": cfg.type, "config": cfg.config}
        overrides = {"expiry": {"refreshTokens": {"reuseInterval": reuse_interval}}}
        return make_live_server(overrides, storage=storage, workers=3)

    return start


def offline_login(server: LiveServer) -> dict[str, Any]:
    params = {
        "client_id": EXAMPLE_CLIENT_ID,
        "redirect_uri": EXAMPLE_REDIRECT_URI,
        "response_type": "code",
        "scope": "openid email offline_access",
        "state": secrets.token_hex(8),
    }
    with requests.Session() as browser:
        back = login_password(
            browser, server.url("/auth") + "?" + urlencode(params), ADMIN_EMAIL, ADMIN_PASSWORD
        )
    code = parse_qs(urlsplit(back).query)["code"][0]
    resp = token_request(
        server,
        {"grant_type": "authorization_code", "code": code, "redirect_uri": EXAMPLE_REDIRECT_URI},
    )
    assert resp.status_code == 200, resp.text
    return dict(resp.json())


def token_request(server: LiveServer, data: dict[str, str]) -> requests.Response:
    return requests.post(
        server.url("/token"),
        data=data,
        auth=(EXAMPLE_CLIENT_ID, EXAMPLE_CLIENT_SECRET),
        timeout=30,
    )


def refresh_at_once(server: LiveServer, token: str) -> list[requests.Response]:
    """``CONCURRENT`` threads, released together, each refreshing ``token``."""
    barrier = threading.Barrier(CONCURRENT)
    answers: list[requests.Response] = []
    lock = threading.Lock()

    def one() -> None:
        barrier.wait(timeout=30)
        resp = token_request(server, {"grant_type": "refresh_token", "refresh_token": token})
        with lock:
            answers.append(resp)

    threads = [threading.Thread(target=one) for _ in range(CONCURRENT)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(answers) == CONCURRENT
    return answers


@pytest.mark.parametrize("kind", KINDS)
def test_concurrent_refreshes_get_one_successor(
    kind: str, start_server: Callable[[str, str], LiveServer]
) -> None:
    # A generous interval: the property under test is "same successor", not speed.
    server = start_server(kind, "60s")
    first = offline_login(server)
    answers = refresh_at_once(server, first["refresh_token"])
    assert [r.status_code for r in answers] == [200] * CONCURRENT, [r.text for r in answers]
    successors = {r.json()["refresh_token"] for r in answers}
    assert len(successors) == 1, successors
    (successor,) = successors
    assert successor != first["refresh_token"]
    # the one successor works, and using it revoked nothing
    after = token_request(server, {"grant_type": "refresh_token", "refresh_token": successor})
    assert after.status_code == 200, after.text
    info = requests.get(
        server.url("/userinfo"),
        headers={"Authorization": "Bearer " + after.json()["access_token"]},
        timeout=30,
    )
    assert info.status_code == 200


@pytest.mark.parametrize("kind", KINDS)
def test_zero_reuse_interval_lets_only_one_concurrent_refresh_succeed(
    kind: str, start_server: Callable[[str, str], LiveServer]
) -> None:
    server = start_server(kind, "0s")
    first = offline_login(server)
    answers = refresh_at_once(server, first["refresh_token"])
    codes = sorted(r.status_code for r in answers)
    assert codes == [200] + [400] * (CONCURRENT - 1), [r.text for r in answers]
    assert all(r.json()["error"] == "invalid_grant" for r in answers if r.status_code == 400)
