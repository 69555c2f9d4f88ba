"""A real ``dex-py serve`` with ``logger.format: json``: every line it writes is JSON, config
warnings at start-up included; ``logger.accessLog: true`` adds a line per request (and without
it there is none)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
import requests

from tests.live import LiveServer

pytestmark = [pytest.mark.live, pytest.mark.slow]


def _lines(server: LiveServer) -> list[dict[str, Any]]:
    entries = []
    for line in server.log_text().splitlines():
        if line.strip():
            entries.append(json.loads(line))  # fails the test on any line that is not JSON
    return entries


@pytest.mark.parametrize("access_log", [True, False])
def test_every_line_is_json_and_the_access_log_follows_its_switch(
    make_live_server: Callable[..., LiveServer], access_log: bool
) -> None:
    server = make_live_server(
        {"logger": {"format": "json", "level": "info", "accessLog": access_log}, "colour": "blue"},
        workers=1,
    )
    path = "/dex/.well-known/openid-configuration"
    assert requests.get(server.url("/.well-known/openid-configuration"), timeout=10).ok
    server.stop()
    entries = _lines(server)
    assert any(
        e["level"] == "warn" and "colour: unknown key (ignored)" in e["msg"] for e in entries
    ), entries[:5]
    mentions = [e for e in entries if path in json.dumps(e)]
    assert bool(mentions) is access_log, mentions
