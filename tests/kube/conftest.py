"""Fixtures of the TokenReview webhook tests: one live server with the webhook on, per module."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import pytest

from tests.kube.reviews import CALLER, CALLER_ENV, review_config
from tests.live import LiveServer, live_server


@pytest.fixture(autouse=True, scope="session")
def _caller_token_in_environment() -> Iterator[None]:
    """The servers read their first caller token from ``$CALLER_ENV`` (``$VAR`` expansion)."""
    previous = os.environ.get(CALLER_ENV)
    os.environ[CALLER_ENV] = CALLER
    yield
    if previous is None:
        os.environ.pop(CALLER_ENV, None)
    else:
        os.environ[CALLER_ENV] = previous


@pytest.fixture(scope="module")
def kube_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A live server with the webhook on for ``example-app`` (see ``review_config``)."""
    server = live_server(review_config(), base_dir=tmp_path_factory.mktemp("kube"))
    yield server
    server.stop()
    shutil.rmtree(server.data_dir, ignore_errors=True)
