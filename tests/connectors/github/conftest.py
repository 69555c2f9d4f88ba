"""Fixtures for the ``github`` connector tests: a test CA, the fake GitHub Enterprise Server
(one per xdist worker, reset before each test) and a connector factory pointed at it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from connectors.github import GitHubConnector
from tests.connectors.github.fake_github import FakeGitHub
from tests.tls import CAFiles, make_test_ca


@pytest.fixture(scope="session")
def github_ca(tmp_path_factory: pytest.TempPathFactory) -> CAFiles:
    return make_test_ca(tmp_path_factory.mktemp("github-ca"))


@pytest.fixture(scope="session")
def _fake_github_server(github_ca: CAFiles) -> Iterator[FakeGitHub]:
    fake = FakeGitHub(github_ca)
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture
def fake_github(_fake_github_server: FakeGitHub) -> FakeGitHub:
    """The running fake, with its state cleared."""
    _fake_github_server.reset()
    return _fake_github_server


@pytest.fixture
def ghe_config(fake_github: FakeGitHub) -> dict[str, Any]:
    """A connector config for the fake, as a GitHub Enterprise user writes it."""
    return fake_github.connector_config()


@pytest.fixture
def make_connector(ghe_config: dict[str, Any]) -> Callable[..., GitHubConnector]:
    """``make_connector(**config)``: a connector for the fake with extra config keys."""

    def factory(**extra: Any) -> GitHubConnector:
        return GitHubConnector.open({**ghe_config, **extra}, connector_id="github")

    return factory


@pytest.fixture
def ca_path(github_ca: CAFiles) -> Path:
    return github_ca.ca_pem
