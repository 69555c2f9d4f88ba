"""A real ``dex-py proxy`` process next to a real ``dex-py serve`` issuer, and a browser
(``requests``) logging in through it.

``issuer_for_proxies(ports)`` starts an issuer whose static clients include one proxy client per
entry of ``ports`` (redirect, post-logout and back-channel logout URIs on that port);
``ProxyProcess`` writes a proxy config, starts ``dex-py proxy`` in its own process group and
waits for ``/ready``; ``browser_login`` drives /oauth2/start -> issuer -> /oauth2/callback.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import pytest
import requests
import yaml

from tests.live import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    EXAMPLE_CLIENT_ID,
    EXAMPLE_CLIENT_SECRET,
    EXAMPLE_REDIRECT_URI,
    REPO_ROOT,
    LiveServer,
    _dex_py_command,
    live_server,
)
from tests.login_flow import follow_login
from tests.proxy.helpers import SECRET

PROXY_SECRET = "cHJveHktdGVzdC1zZWNyZXQ"


def proxy_client(client_id: str, port: int) -> dict[str, Any]:
    base = f"http://127.0.0.1:{port}"
    return {
        "id": client_id,
        "secret": PROXY_SECRET,
        "name": client_id,
        "redirectURIs": [f"{base}/oauth2/callback"],
        "postLogoutRedirectURIs": [f"{base}/signed-out"],
        "backchannelLogoutURI": f"{base}/oauth2/backchannel-logout",
    }


def issuer_for_proxies(
    clients: dict[str, int], base_dir: Path, port: int | None = None
) -> LiveServer:
    """An issuer with ``example-app`` and a proxy client per (client id -> proxy port)."""
    static = [
        {
            "id": EXAMPLE_CLIENT_ID,
            "secret": EXAMPLE_CLIENT_SECRET,
            "name": "Example App",
            "redirectURIs": [EXAMPLE_REDIRECT_URI],
        },
        *(proxy_client(cid, p) for cid, p in clients.items()),
    ]
    return live_server({"staticClients": static}, base_dir=base_dir, workers=1, port=port)


class ProxyProcess:
    def __init__(self, issuer: str, client_id: str, port: int, **overrides: Any) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.dir = Path(tempfile.mkdtemp(prefix="dexpy-proxy-"))
        config: dict[str, Any] = {
            "listen": f"127.0.0.1:{port}",
            "workers": 1,
            "issuer": issuer,
            "clientID": client_id,
            "clientSecret": PROXY_SECRET,
            "redirectURL": f"{self.url}/oauth2/callback",
            "cookie": {"secrets": [SECRET], "secure": False},
            "rules": [
                {"path": "/healthz", "skipAuth": True},
                {"path": "/", "allow": {"teams": ["admins"]}},
            ],
            "signOut": {"issuerLogout": True, "postLogoutRedirectURL": f"{self.url}/signed-out"},
            "logging": {"format": "json", "level": "debug"},
        }
        config.update(overrides)
        self.config = config
        self.config_path = self.dir / "proxy.yaml"
        self.config_path.write_text(yaml.safe_dump(config))
        self.log_path = self.dir / "proxy.log"
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [*_dex_py_command(), "proxy", str(self.config_path)],
            cwd=REPO_ROOT,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )

    def log_text(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(errors="replace")

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.stop()  # its workers, if any are left
                pytest.fail(f"dex-py proxy exited {self.process.returncode}:\n{self.log_text()}")
            with contextlib.suppress(requests.RequestException):
                if requests.get(self.url + "/ready", timeout=2).status_code == 200:
                    return
            time.sleep(0.1)
        self.stop()
        pytest.fail(f"dex-py proxy not ready:\n{self.log_text()[-3000:]}")

    def stop(self) -> int | None:
        """SIGTERM the master (it stops its workers); SIGKILL the group if it hangs."""
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self._log.close()
        return self.process.returncode


def browser_login(
    proxy: ProxyProcess,
    *,
    rd: str = "/app",
    credentials: tuple[str, str] | None = (ADMIN_EMAIL, ADMIN_PASSWORD),
    chooser: str = "/auth/local",
    browser: requests.Session | None = None,
) -> tuple[requests.Session, requests.Response]:
    """Log in through the proxy; returns the browser and the callback's answer (not followed)."""
    browser = browser or requests.Session()
    start = browser.get(f"{proxy.url}/oauth2/start", params={"rd": rd}, allow_redirects=False)
    assert start.status_code == 302, start.text
    callback = follow_login(
        browser,
        browser.get(start.headers["Location"], allow_redirects=False, timeout=10),
        back_to_client=lambda location: location.startswith(proxy.url + "/oauth2/callback"),
        credentials=credentials,
        chooser=chooser,
    )
    answer = browser.get(urljoin(proxy.url, callback), allow_redirects=False, timeout=10)
    return browser, answer
