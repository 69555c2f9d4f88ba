"""A real ``Services`` (``create_app`` with a frozen clock) over each storage backend: memory,
SQLite and PostgreSQL in a fresh schema, run under an app context, plus an actor."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask

from dex_py.app import create_app
from dex_py.clock import FrozenClock
from dex_py.config.loader import from_dict
from dex_py.management.actor import Actor
from dex_py.services import Services
from dex_py.storage.base import Storage
from tests.grpc_api.conftest import grpc_namespaces as grpc_namespaces  # fixtures reused
from tests.grpc_api.conftest import storage as storage
from tests.oauth.conftest import BASE_CONFIG, merge

ADMIN = Actor("console", "admin-sub", "ops@example.com")


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
def config_overrides() -> dict[str, Any]:
    """Override in a test module to change the config."""
    return {}


@pytest.fixture
def app(storage: Storage, clock: FrozenClock, config_overrides: dict[str, Any]) -> Iterator[Flask]:
    """The app over ``storage`` (tests.oauth's config plus ``config_overrides``), with its app
    context pushed."""
    flask_app = create_app(
        from_dict(merge(BASE_CONFIG, config_overrides)), clock=clock, storage=storage
    )
    with flask_app.app_context():
        yield flask_app


@pytest.fixture
def svc(app: Flask) -> Services:
    """The app's services."""
    services: Services = app.extensions["dex_py"]
    return services


@pytest.fixture
def actor() -> Actor:
    return ADMIN
