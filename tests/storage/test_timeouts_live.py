"""End to end: a real ``dex-py serve`` whose database stops answering (SIGSTOP) answers 503
(OAuth2 JSON on ``/token``, an error page on ``/auth``) within its timeouts, logs no traceback,
and serves normally again once the database is back."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import requests

from tests.live import EXAMPLE_CLIENT_ID, EXAMPLE_CLIENT_SECRET, EXAMPLE_REDIRECT_URI, LiveServer
from tests.storage.own_db import OwnServer

# one xdist worker starts the module's own servers
pytestmark = [pytest.mark.live, pytest.mark.slow, pytest.mark.xdist_group("own_db")]

HANG = 60.0  # far above the 1 s timeouts configured below: only a hang reaches it


def _token(server: LiveServer) -> requests.Response:
    return requests.post(
        server.url("/token"),
        data={
            "grant_type": "authorization_code",
            "code": "no-such-code",
            "redirect_uri": EXAMPLE_REDIRECT_URI,
        },
        auth=(EXAMPLE_CLIENT_ID, EXAMPLE_CLIENT_SECRET),
        timeout=HANG,
    )


def _auth(server: LiveServer) -> requests.Response:
    return requests.get(
        server.url("/auth"),
        params={
            "client_id": EXAMPLE_CLIENT_ID,
            "redirect_uri": EXAMPLE_REDIRECT_URI,
            "response_type": "code",
            "scope": "openid",
            "state": "s1",
            "connector_id": "mock",
        },
        allow_redirects=False,
        timeout=HANG,
    )


def test_paused_database_gives_503_then_recovers(
    pausable_server: OwnServer, make_live_server: Callable[..., LiveServer]
) -> None:
    conf = pausable_server.storage_config(connectionTimeout=1, statementTimeout=1, poolTimeout=1)
    server = make_live_server(storage={"type": pausable_server.kind, "config": conf}, workers=1)
    before = _token(server)
    assert before.status_code == 400 and before.json()["error"] == "invalid_grant"
    assert _auth(server).status_code in (200, 302, 303)

    with pausable_server.paused():
        token = _token(server)
        assert token.status_code == 503
        assert token.json()["error"] == "temporarily_unavailable"
        assert token.headers["Retry-After"]
        page = _auth(server)
        assert page.status_code == 503
        assert page.headers["Content-Type"].startswith("text/html")
        assert "temporarily unavailable" in page.text

    after = _token(server)
    assert after.status_code == 400 and after.json()["error"] == "invalid_grant"
    assert _auth(server).status_code in (200, 302, 303)
    log = server.log_text()
    assert "database unavailable" in log
    assert "Traceback" not in log, log[log.find("Traceback") - 1500 :][:4000]
