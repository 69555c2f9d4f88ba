"""Helpers for tests that need a real service (PostgreSQL, MariaDB, OpenLDAP, Chromium).

Locally a missing service skips the test with its reason; in CI (``DEXPY_REQUIRE_SERVICES=1``,
set by ``.ci/run``) it fails instead, so a missing service can never pass silently.
"""

from __future__ import annotations

import os
import socket
from typing import NoReturn

import pytest

POSTGRES_URL = os.environ.get(
    "DEXPY_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
MYSQL_URL = os.environ.get(
    "DEXPY_TEST_MYSQL_URL", "mysql+pymysql://root@127.0.0.1:3306/test?charset=utf8mb4"
)


def services_required() -> bool:
    return os.environ.get("DEXPY_REQUIRE_SERVICES") == "1"


def missing_service(name: str, reason: str) -> NoReturn:
    """Skip (locally) or fail (CI) because service ``name`` is not available."""
    message = f"{name} unavailable: {reason}"
    if services_required():
        pytest.fail(message + " (DEXPY_REQUIRE_SERVICES=1)")
    pytest.skip(message)


def port_open(host: str, port: int, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def require_service(name: str, host: str = "127.0.0.1", port: int = 0) -> None:
    """Skip/fail unless something listens on host:port."""
    if not port_open(host, port):
        missing_service(name, f"nothing listens on {host}:{port}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
