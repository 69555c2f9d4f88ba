"""Slow and idle clients must not stall ``dex-py serve`` on its default settings (issue 7 #13).

A real ``dex-py serve`` (default engine, the harness's two workers) gets 300 connections that
send their request head one byte a second, 100 that send a POST body one byte a second (which
would hold a Python thread each under Granian's own WSGI interface) and 100 that send nothing;
while they are all held open, ordinary requests must still be answered. Under gunicorn's sync
workers (the engine before Granian) the first slow connections occupy every worker and the
probes get no answer.
"""

from __future__ import annotations

import time

import pytest
import requests

from tests.live import ADMIN_EMAIL, ADMIN_PASSWORD, EXAMPLE_CLIENT_ID, EXAMPLE_CLIENT_SECRET
from tests.slowclients import SlowClients

pytestmark = [pytest.mark.live, pytest.mark.slow]

SLOW, IDLE, SLOW_BODY, PROBES = 300, 100, 100, 20


@pytest.mark.parametrize(
    "engine",
    [
        None,  # the default
        pytest.param(
            "gunicorn",
            marks=pytest.mark.xfail(
                strict=True, reason="sync workers read request heads themselves"
            ),
        ),
    ],
)
def test_slow_and_idle_clients_do_not_stall_the_server(make_live_server, engine) -> None:
    overrides: dict = {"oauth2": {"passwordConnector": "local"}}
    if engine:
        overrides["server"] = {"engine": engine}
    server = make_live_server(overrides)
    token_url = server.url("/token")
    with SlowClients(
        "127.0.0.1", server.port, slow=SLOW, idle=IDLE, slow_body=SLOW_BODY, interval=1.0
    ) as clients:
        while clients.sent < 2:  # every slow connection has started its head or body
            time.sleep(0.1)
        assert clients.open_count() == SLOW + IDLE + SLOW_BODY  # held, not refused or closed
        statuses = []
        for _ in range(PROBES):
            try:
                statuses.append(requests.get(server.url("/healthz"), timeout=5).status_code)
            except requests.RequestException as exc:
                statuses.append(type(exc).__name__)
                break  # stalled: the rest would wait just as long
        token = requests.post(
            token_url,
            data={
                "grant_type": "password",
                "username": ADMIN_EMAIL,
                "password": ADMIN_PASSWORD,
                "scope": "openid",
            },
            auth=(EXAMPLE_CLIENT_ID, EXAMPLE_CLIENT_SECRET),
            timeout=5,
        )
    assert statuses == [200] * PROBES
    assert token.status_code == 200, token.text
    assert token.json()["id_token"]
    assert "Traceback" not in server.log_text()
