"""Fixtures for the config tests: a valid Dex-shaped config as a dict, and loaders that write
it to a unique temporary file (safe under pytest-xdist)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from dex_py.config import Config, ConfigError
from dex_py.config.loader import load

DATA = Path(__file__).parent / "data"
REPO_ROOT = Path(__file__).resolve().parents[2]
# bcrypt of "password" (the hash Dex's examples use; verified in test_load).
PASSWORD_HASH = "$2a$10$2b2cU8CPhOTaGrs1HRQuAueS7JTT5ZHsHSzYiFPm1leZck7Mc8T4W"

VALID: dict[str, Any] = {
    "issuer": "http://127.0.0.1:5556/dex",
    "storage": {"type": "sqlite3", "config": {"file": "var/dex.db"}},
    "web": {"http": "127.0.0.1:5556"},
    "staticClients": [
        {
            "id": "example-app",
            "secret": "ZXhhbXBsZS1hcHAtc2VjcmV0",
            "name": "Example App",
            "redirectURIs": ["http://127.0.0.1:5555/callback"],
        },
        {"id": "cli", "name": "CLI", "public": True},
    ],
    "connectors": [{"type": "mockCallback", "id": "mock", "name": "Example"}],
    "enablePasswordDB": True,
    "staticPasswords": [
        {
            "email": "admin@example.com",
            "hash": PASSWORD_HASH,
            "username": "admin",
            "userID": "08a8684b-db88-4b73-90a9-3cd1661f5466",
        }
    ],
}


@pytest.fixture
def valid() -> dict[str, Any]:
    """A fresh deep copy of a valid config, to mutate per test."""
    return copy.deepcopy(VALID)


@pytest.fixture
def write_yaml(tmp_path: Path) -> Callable[[Any], Path]:
    """Write ``data`` (a dict, or raw YAML text) to a new file under ``tmp_path``."""
    counter = iter(range(1_000_000))

    def write(data: Any) -> Path:
        path = tmp_path / f"config-{next(counter)}.yaml"
        text = data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False)
        path.write_text(text, encoding="utf-8")
        return path

    return write


@pytest.fixture
def load_data(write_yaml: Callable[[Any], Path]) -> Callable[[Any], Config]:
    """Write ``data`` as YAML and ``load`` it."""

    def load_it(data: Any) -> Config:
        return load(write_yaml(data))

    return load_it


@pytest.fixture
def errors_of(load_data: Callable[[Any], Config]) -> Callable[[Any], list[tuple[str, str]]]:
    """The ``(path, message)`` errors that loading ``data`` raises (fails if it loads)."""

    def errors(data: Any) -> list[tuple[str, str]]:
        with pytest.raises(ConfigError) as info:
            load_data(data)
        return info.value.errors

    return errors


class OpaqueConnector:
    """Stands in for connector types whose config these tests treat as opaque data (``ldap``
    until its connector lands): the config loader must pass ``config:`` through untouched."""

    Config = None


@pytest.fixture(autouse=True)
def _opaque_ldap_connector(monkeypatch: pytest.MonkeyPatch) -> None:
    import connectors

    real_resolve = connectors.resolve

    def resolve(type_name: str) -> Any:
        return OpaqueConnector if type_name == "ldap" else real_resolve(type_name)

    monkeypatch.setattr(connectors, "resolve", resolve)
