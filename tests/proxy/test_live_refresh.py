"""Refresh against a real issuer: a session older than ``refreshInterval`` is refreshed (new
cookie); while the issuer is down the session is kept; when the issuer refuses the refresh
token (here: a new issuer that never issued it) the session ends and the cookies are cleared."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import requests

from tests.proxy.live_proxy import ProxyProcess, browser_login, issuer_for_proxies
from tests.services import free_port

pytestmark = [pytest.mark.live, pytest.mark.slow]


def _auth(proxy: ProxyProcess, browser: requests.Session) -> requests.Response:
    return browser.get(f"{proxy.url}/oauth2/auth", headers={"X-Forwarded-Uri": "/"}, timeout=15)


def test_refresh_kept_while_issuer_down_and_ended_when_refused(tmp_path: Path) -> None:
    issuer_port, proxy_port = free_port(), free_port()
    clients = {"dex-py-proxy": proxy_port}
    (tmp_path / "a").mkdir()
    issuer = issuer_for_proxies(clients, tmp_path / "a", port=issuer_port)
    proxy = ProxyProcess(
        issuer.issuer, "dex-py-proxy", proxy_port, session={"refreshInterval": "1s"}
    )
    second = None
    try:
        proxy.wait_ready()
        browser, _ = browser_login(proxy)
        first_cookie = browser.cookies.get("_dexpy_proxy")
        assert first_cookie
        time.sleep(1.2)
        refreshed = _auth(proxy, browser)
        assert refreshed.status_code == 202
        assert "_dexpy_proxy=" in refreshed.headers.get("Set-Cookie", "")
        assert browser.cookies.get("_dexpy_proxy") != first_cookie
        # The old cookie (a front proxy that drops Set-Cookie on 2xx) still works here.
        old = requests.get(
            f"{proxy.url}/oauth2/auth",
            headers={"Cookie": f"_dexpy_proxy={first_cookie}"},
            timeout=15,
        )
        assert old.status_code == 202

        issuer.stop()
        time.sleep(1.2)
        assert _auth(proxy, browser).status_code == 202  # kept: the ID token is still valid

        (tmp_path / "b").mkdir()
        second = issuer_for_proxies(clients, tmp_path / "b", port=issuer_port)
        time.sleep(1.2)
        refused = _auth(proxy, browser)
        assert refused.status_code == 401, proxy.log_text()[-2000:]
        assert "Max-Age=0" in refused.headers.get("Set-Cookie", "")
        assert '"refresh refused' in proxy.log_text() or "refresh refused" in proxy.log_text()
    finally:
        proxy.stop()
        issuer.stop()
        if second is not None:
            second.stop()
