"""Fixtures for the ``oidc`` connector tests.

- ``fake`` / ``make_connector``: a fake upstream the test controls (``fake_upstream.py``) and
  connectors pointed at it;
- ``upstream``: the REAL upstream provider (npm oidc-provider, ``tests/services/oidc_upstream.py``,
  once per session and xdist worker, on a free port) and ``dev_login``, its browserless login
  (``tests/services/oidc_dev_login.py``);
- ``oidc_dex``: a live ``dex-py serve`` (one per session and worker) whose only connector is
  ``type: oidc`` against ``upstream``. Its port is chosen first, so the upstream can register
  ``<issuer>/callback`` as a redirect URI before dex-py starts.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
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
from tests.live import LiveServer, live_server
from tests.services import free_port, missing_service, oidc_dev_login
from tests.services.oidc_upstream import CLIENT_ID as UPSTREAM_CLIENT_ID
from tests.services.oidc_upstream import CLIENT_SECRET as UPSTREAM_CLIENT_SECRET
from tests.services.oidc_upstream import PUBLIC_CLIENT_ID as UPSTREAM_PUBLIC_CLIENT_ID
from tests.services.oidc_upstream import OIDCUpstream as Upstream
from tests.services.oidc_upstream import UpstreamError

__all__ = ["UPSTREAM_CLIENT_ID", "UPSTREAM_CLIENT_SECRET", "UPSTREAM_PUBLIC_CLIENT_ID", "Upstream"]
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


@pytest.fixture(scope="session")
def dev_login() -> Callable[..., str]:
    return oidc_dev_login.dev_login


@pytest.fixture(scope="session")
def dex_port() -> int:
    """The port of this session's dex-py server, chosen before the upstream starts."""
    return free_port()


@pytest.fixture(scope="session")
def upstream(dex_port: int, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Upstream]:
    redirect_uris = [f"http://127.0.0.1:{dex_port}/dex/callback", DIRECT_CALLBACK]
    log_path = tmp_path_factory.mktemp("oidc-upstream") / "server.log"
    up = Upstream(free_port(), redirect_uris, log_path)
    try:
        up.start()
    except UpstreamError as err:
        missing_service("oidc-upstream", str(err))
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
