"""Refresh against a real issuer: a session older than ``refreshInterval`` is refreshed (new
cookie); while the issuer is down the session is kept; when the issuer refuses the refresh
token (here: a new issuer that never issued it) the session ends and the cookies are cleared."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.live import ADMIN_EMAIL, ADMIN_HASH, ADMIN_USER_ID, LiveServer, live_server
from tests.proxy.live_proxy import (
    ProxyProcess,
    browser_login,
    issuer_for_proxies,
    proxy_client,
)
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


def test_a_user_who_lost_the_team_is_refused_after_the_next_refresh(tmp_path: Path) -> None:
    """The issuer restarts with the same database but the admin no longer in ``admins``: the
    next refresh brings the new groups claim and the rules deny."""
    issuer_port, proxy_port = free_port(), free_port()
    storage = {"type": "sqlite3", "config": {"file": str(tmp_path / "dex.sqlite3")}}

    def start_issuer(groups: list[str], name: str) -> LiveServer:
        (tmp_path / name).mkdir()
        admin = {
            "email": ADMIN_EMAIL,
            "hash": ADMIN_HASH,
            "username": "admin",
            "userID": ADMIN_USER_ID,
            "groups": groups,
        }
        return live_server(
            {
                "staticClients": [proxy_client("dex-py-proxy", proxy_port)],
                "staticPasswords": [admin],
            },
            base_dir=tmp_path / name,
            workers=1,
            port=issuer_port,
            storage=storage,
        )

    issuer = start_issuer(["admins"], "before")
    proxy = ProxyProcess(
        issuer.issuer, "dex-py-proxy", proxy_port, session={"refreshInterval": "1s"}
    )
    later = None
    try:
        proxy.wait_ready()
        browser, _ = browser_login(proxy)
        assert _auth(proxy, browser).status_code == 202
        issuer.stop()
        later = start_issuer(["developers"], "after")
        time.sleep(1.2)
        denied = _auth(proxy, browser)
        assert denied.status_code == 403, proxy.log_text()[-2000:]
        info = browser.get(f"{proxy.url}/oauth2/userinfo", timeout=15).json()
        assert info["groups"] == ["developers"]
    finally:
        proxy.stop()
        issuer.stop()
        if later is not None:
            later.stop()


def _big_upstream(port: int) -> subprocess.Popen[bytes]:
    """A plain HTTP app answering every path with 256 KiB (the relay streams it)."""
    script = (
        "import http.server, sys\n"
        "class H(http.server.BaseHTTPRequestHandler):\n"
        "    def do_GET(self):\n"
        "        body = b'x' * 262144\n"
        "        self.send_response(200)\n"
        "        self.send_header('Content-Length', str(len(body)))\n"
        "        self.end_headers()\n"
        "        self.wfile.write(body)\n"
        "    def log_message(self, *a):\n"
        "        pass\n"
        f"http.server.HTTPServer(('127.0.0.1', {port}), H).serve_forever()\n"
    )
    return subprocess.Popen([sys.executable, "-c", script])


def test_a_refreshed_cookie_reaches_the_browser_on_a_streamed_upstream_answer(
    tmp_path: Path,
) -> None:
    """In upstream mode the upstream's head goes out before its body is read: the refreshed
    session's Set-Cookie must go with it, or the browser keeps a rotated-out refresh token."""
    issuer_port, proxy_port, app_port = free_port(), free_port(), free_port()
    issuer = issuer_for_proxies({"dex-py-proxy": proxy_port}, tmp_path, port=issuer_port)
    app = _big_upstream(app_port)
    proxy = ProxyProcess(
        issuer.issuer,
        "dex-py-proxy",
        proxy_port,
        session={"refreshInterval": "1s"},
        upstreams=[{"path": "/", "url": f"http://127.0.0.1:{app_port}"}],
    )
    try:
        proxy.wait_ready()
        browser, _ = browser_login(proxy)
        first_cookie = browser.cookies.get("_dexpy_proxy")
        assert first_cookie
        time.sleep(1.2)
        page = browser.get(f"{proxy.url}/app", timeout=15)
        assert page.status_code == 200 and len(page.content) == 262144
        assert "_dexpy_proxy=" in page.headers.get("Set-Cookie", ""), page.headers
        assert browser.cookies.get("_dexpy_proxy") != first_cookie
        time.sleep(1.2)  # the next refresh uses the refresh token the new cookie carries
        again = browser.get(f"{proxy.url}/app", timeout=15)
        assert again.status_code == 200
        assert "_dexpy_proxy=" in again.headers.get("Set-Cookie", "")
    finally:
        proxy.stop()
        app.terminate()
        app.wait(10)
        issuer.stop()
