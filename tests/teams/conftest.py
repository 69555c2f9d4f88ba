"""Fixtures for the teams tests: compiled rules from a plain dict, and config files on disk."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from dex_py.teams import TeamRules

CONNECTOR_IDS = ("ldap", "github", "mock")


@pytest.fixture
def make_rules() -> Callable[..., TeamRules]:
    """``make_rules(rule, ..., unmatched=..., connectors=...)`` -> compiled ``TeamRules``."""

    def make(*rules: dict[str, Any], **section: Any) -> TeamRules:
        return TeamRules.from_config({"rules": list(rules), **section}, connector_ids=CONNECTOR_IDS)

    return make


@pytest.fixture
def write_config(tmp_path: Path) -> Callable[[dict[str, Any] | None], Path]:
    """Writes a runnable config (sqlite3 in tmp, mockCallback connector ``mock``) with the given
    ``teams`` section (omitted when None) and returns its path."""

    def write(teams: dict[str, Any] | None) -> Path:
        data: dict[str, Any] = {
            "issuer": "http://127.0.0.1:5556/dex",
            "storage": {"type": "sqlite3", "config": {"file": str(tmp_path / "dex.db")}},
            "web": {"http": "127.0.0.1:5556"},
            "connectors": [{"type": "mockCallback", "id": "mock", "name": "Mock"}],
        }
        if teams is not None:
            data["teams"] = teams
        path = tmp_path / "config.yaml"
        path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
        return path

    return write
