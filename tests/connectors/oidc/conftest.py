"""Fixtures for the ``oidc`` connector tests.

- ``fake`` / ``make_connector``: a fake upstream the test controls (``fake_upstream.py``) and
  connectors pointed at it;
- ``upstream``: the REAL upstream provider (npm oidc-provider, started with
  ../shared/tools/oidc-upstream-up.sh once per session and xdist worker, port offset by worker);
- ``oidc_dex``: a live ``dex-py serve`` (one per session and worker) whose only connector is
  ``type: oidc`` against ``upstream``. Its port is chosen first, so the upstream can register
  ``<issuer>/callback`` as a redirect URI before dex-py starts.
"""

from __future__ import annotations

import fcntl
import importlib.util
import logging
import os
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests

from connectors.base import CallbackRequest, Identity, Scopes, parse_config
from connectors.oidc import OIDCConnector
from connectors.oidc_provider import UpstreamProvider
from tests.connectors.oidc.fake_upstream import (
    CLIENT_ID,
    CLIENT_SECRET,
    FakeUpstream,
    serve_fake_upstream,
)
from tests.live import REPO_ROOT, LiveServer, live_server
from tests.services import free_port, missing_service, port_open

TOOLS = REPO_ROOT.parent / "shared" / "tools"
UPSTREAM_BASE_PORT = 19470
UPSTREAM_CLIENT_ID = "idp-connector"
UPSTREAM_CLIENT_SECRET = "connector-secret"
UPSTREAM_PUBLIC_CLIENT_ID = "public-pkce"
DIRECT_CALLBACK = "http://127.0.0.1:1/oidc-test/callback"  # never fetched: dev_login stops there
FAKE_CALLBACK = "http://127.0.0.1:1/dex/callback"
CONNECTOR_ID = "upstream"
NO_SCOPES = Scopes()


class FakeClock:
    """A monotonic clock the test advances by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


# --- the fake upstream ---------------------------------------------------------------------------


@pytest.fixture
def fake() -> Iterator[FakeUpstream]:
    with serve_fake_upstream() as upstream:
        yield upstream


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def make_connector(fake: FakeUpstream, clock: FakeClock) -> Iterator[Callable[..., OIDCConnector]]:
    """``make_connector(**config)``: a connector for ``fake`` (config keys in Dex spelling
    override the defaults; ``None`` deletes one), on the test's monotonic ``clock``."""
    made: list[OIDCConnector] = []

    def make(**overrides: Any) -> OIDCConnector:
        raw: dict[str, Any] = {
            "issuer": fake.issuer,
            "clientID": CLIENT_ID,
            "clientSecret": CLIENT_SECRET,
            "insecureEnableGroups": True,
            "scopes": ["profile", "email", "groups"],
        }
        raw.update(overrides)
        raw = {k: v for k, v in raw.items() if v is not None}
        cfg = parse_config(OIDCConnector.Config, raw)
        log = logging.getLogger("dex_py.connectors.test-oidc")
        provider = UpstreamProvider(
            cfg.issuer,
            http=requests.Session(),
            log=log,
            overrides=cfg.provider_discovery_overrides,
            monotonic=clock,
        )
        conn = OIDCConnector(cfg, connector_id="test-oidc", logger=log, provider=provider)
        made.append(conn)
        return conn

    yield make
    for conn in made:
        conn.close()


def callback_request(url: str) -> CallbackRequest:
    return CallbackRequest(url=url, args=dict(parse_qsl(urlsplit(url).query)))


def start_login(
    conn: OIDCConnector, scopes: Scopes = NO_SCOPES, callback: str = FAKE_CALLBACK
) -> tuple[str, dict[str, str], bytes | None]:
    """``login_url`` -> (URL, its query parameters, login state)."""
    url, state = conn.login_url(scopes, callback, "auth-req-1")
    return url, dict(parse_qsl(urlsplit(url).query)), state


def fake_login(conn: OIDCConnector, scopes: Scopes = NO_SCOPES) -> Identity:
    """The whole browser round trip through the fake upstream, then ``handle_callback``."""
    url, _, state = start_login(conn, scopes)
    resp = requests.get(url, allow_redirects=False, timeout=10)
    assert resp.status_code == 302, resp.text
    return conn.handle_callback(scopes, callback_request(resp.headers["Location"]), state)


# --- the real upstream ---------------------------------------------------------------------------


def _worker_index() -> int:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    digits = worker.removeprefix("gw")
    return int(digits) if digits.isdigit() else 0


def _load_dev_login() -> Callable[..., str]:
    path = TOOLS / "oidc-upstream" / "dev_login.py"
    spec = importlib.util.spec_from_file_location("oidc_upstream_dev_login", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    dev_login: Callable[..., str] = module.dev_login
    return dev_login


@dataclass
class Upstream:
    """The real upstream provider of this session (see ``oidc-upstream-up.sh``)."""

    port: int
    redirect_uris: list[str]
    env: dict[str, str] = field(default_factory=dict)

    @property
    def issuer(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        """(Re)start it: a restart forgets sessions and tokens and makes new signing keys."""
        script = TOOLS / "oidc-upstream-up.sh"
        for attempt in range(2):
            # One npm install at a time: the node_modules cache dir is shared between workers.
            with open("/tmp/dexpy-oidc-upstream.lock", "w") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                proc = subprocess.run(
                    ["bash", str(script), str(self.port), ",".join(self.redirect_uris)],
                    capture_output=True,
                    text=True,
                    timeout=300,
                )
            if proc.returncode == 0 or "already in use" not in proc.stderr or attempt:
                break
            self._wait_port_free()  # a replaced instance may still be releasing the port
        if proc.returncode != 0:
            missing_service("oidc-upstream", proc.stderr[-800:] or f"exit {proc.returncode}")
        self.env = dict(line.split("=", 1) for line in proc.stdout.splitlines() if "=" in line)
        assert self.env["OIDC_UPSTREAM_ISSUER"] == self.issuer

    def restart(self) -> None:
        """Stop, wait for the port to be released, start again. (oidc-upstream-down.sh can
        return while node's last threads still hold the listening socket, and up.sh then
        refuses the busy port.)"""
        self.stop()
        self._wait_port_free()
        self.start()

    def _wait_port_free(self, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while port_open("127.0.0.1", self.port, timeout=0.2) and time.monotonic() < deadline:
            time.sleep(0.05)

    def stop(self) -> None:
        subprocess.run(
            ["bash", str(TOOLS / "oidc-upstream-down.sh"), str(self.port)],
            capture_output=True,
            timeout=60,
        )

    def log_text(self) -> str:
        path = Path(self.env.get("OIDC_UPSTREAM_STATE_DIR", "")) / "server.log"
        return path.read_text(errors="replace") if path.is_file() else ""

    def count_log(self, needle: str) -> int:
        return sum(needle in line for line in self.log_text().splitlines())


@pytest.fixture(scope="session")
def dev_login() -> Callable[..., str]:
    if not (TOOLS / "oidc-upstream" / "dev_login.py").is_file():
        missing_service("oidc-upstream", f"{TOOLS} has no oidc-upstream/dev_login.py")
    return _load_dev_login()


@pytest.fixture(scope="session")
def dex_port() -> int:
    """The port of this session's dex-py server, chosen before the upstream starts."""
    return free_port()


@pytest.fixture(scope="session")
def upstream(dex_port: int) -> Iterator[Upstream]:
    if not (TOOLS / "oidc-upstream-up.sh").is_file():
        missing_service("oidc-upstream", f"{TOOLS}/oidc-upstream-up.sh not found")
    redirect_uris = [f"http://127.0.0.1:{dex_port}/dex/callback", DIRECT_CALLBACK]
    up = Upstream(UPSTREAM_BASE_PORT + _worker_index(), redirect_uris)
    up.start()
    yield up
    up.stop()


def upstream_connector_config(up: Upstream, **overrides: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        "issuer": up.issuer,
        "clientID": UPSTREAM_CLIENT_ID,
        "clientSecret": UPSTREAM_CLIENT_SECRET,
        "scopes": ["openid", "profile", "email", "groups"],
        "insecureEnableGroups": True,
        "pkceChallenge": True,
    }
    config.update(overrides)
    return config


@pytest.fixture(scope="session")
def oidc_dex(
    upstream: Upstream, dex_port: int, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """dex-py with the ``oidc`` connector as its only login method."""
    overrides = {
        "enablePasswordDB": False,
        "staticPasswords": None,
        "connectors": [
            {
                "type": "oidc",
                "id": CONNECTOR_ID,
                "name": "Upstream SSO",
                "config": upstream_connector_config(upstream),
            }
        ],
    }
    server = live_server(overrides, port=dex_port, base_dir=tmp_path_factory.mktemp("oidc-live"))
    yield server
    server.stop()
