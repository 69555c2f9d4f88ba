"""The commented examples in config.example.yaml are real configs: uncommented, each one
validates, so the documentation cannot drift from the code."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

import connectors
from dex_py.config.session import SessionPolicy
from dex_py.teams import TeamRules

EXAMPLE = Path(__file__).resolve().parents[2] / "config.example.yaml"


def _commented_blocks(indent: str, start: re.Pattern[str]) -> list[str]:
    """Runs of commented lines that begin with ``start``, uncommented."""
    blocks: list[list[str]] = []
    current: list[str] | None = None
    for line in EXAMPLE.read_text().splitlines():
        if line.startswith(indent + "# ") or line == indent + "#":
            body = line[len(indent) + 2 :]
            if start.match(body):
                current = [body]
                blocks.append(current)
            elif current is not None and body.startswith("  "):
                current.append(body)
            else:
                current = None
        else:
            current = None
    return ["\n".join(b) for b in blocks]


def _uncomment_nested(text: str) -> str:
    """Optional keys are commented once more inside an example: enable them too."""
    return re.sub(r"^(\s*)# ?", r"\1", text, flags=re.M)


def test_every_connector_type_has_a_valid_example() -> None:
    blocks = _commented_blocks("  ", re.compile(r"- type: "))
    seen: set[str] = set()
    for block in blocks:
        [spec] = yaml.safe_load(_uncomment_nested(block))
        errors = connectors.validate_connector_config(spec["type"], spec.get("config") or {})
        assert errors == [], (spec["type"], errors)
        seen.add(spec["type"])
    builtin_real = {t for t in connectors.BUILTIN if not t.startswith("mock") and t != "local"}
    assert seen == builtin_real


def test_teams_and_session_examples_are_valid() -> None:
    [teams_block] = _commented_blocks("", re.compile(r"teams:$"))
    [session_block] = _commented_blocks("", re.compile(r"session:$"))
    teams: dict[str, Any] = yaml.safe_load(teams_block)["teams"]
    rules = TeamRules.from_config(teams, connector_ids=["ldap", "mock"])
    assert rules.map("ldap", ["cn=admins,ou=Groups,dc=example,dc=org"]) == ("platform-admins",)
    assert rules.map("ldap", ["cn=dev,ou=Groups,dc=example,dc=org"]) == ("ldap-dev",)
    assert rules.map("github", ["summer-interns"]) == ()
    SessionPolicy.from_config(yaml.safe_load(session_block)["session"])
