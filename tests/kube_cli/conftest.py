"""Fixtures for the kubectl plugin tests: the go-oidc verifier binary, a dex-py issuer with a
loopback redirect for its clients, and the fake API server behind TLS."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.kube_cli.fake_apiserver import FakeAPIServer
from tests.kube_cli.helpers import LOOPBACK_REDIRECT
from tests.live import LiveServer, deep_merge
from tests.services import k8s_oidc_verify
from tests.tls import CAFiles, make_test_ca


@pytest.fixture(scope="session")
def oidc_verifier() -> str:
    """The path of k8s-oidc-verify (built once; a failure to build fails the test)."""
    try:
        return str(k8s_oidc_verify.build())
    except k8s_oidc_verify.BuildError as err:
        pytest.fail(f"cannot build k8s-oidc-verify: {err}")


@pytest.fixture
def kube_issuer(make_live_server: Callable[..., LiveServer]) -> Callable[..., LiveServer]:
    """``kube_issuer(overrides=None)``: a live dex-py whose clients accept the loopback
    redirect of ``dex-py kube login``."""

    def start(overrides: dict | None = None, **kw: Any) -> LiveServer:
        config = deep_merge({"oauth2": {"passwordConnector": "local"}}, overrides or {})
        return make_live_server(config, redirect_uris=[LOOPBACK_REDIRECT], workers=1, **kw)

    return start


@pytest.fixture
def api_ca(tmp_path: Path) -> CAFiles:
    return make_test_ca(tmp_path / "api-ca")


@pytest.fixture
def fake_apiserver(oidc_verifier: str, api_ca: CAFiles) -> Iterator[FakeAPIServer]:
    """Bound (its URL is known) but not serving until ``.start(flags)``."""
    server = FakeAPIServer(oidc_verifier, api_ca.cert_pem, api_ca.key_pem)
    yield server
    server.stop()
