"""``dex-py teams explain`` through click's CliRunner against a config file on disk."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from dex_py.cli.teams import teams

TEAMS: dict[str, Any] = {
    "unmatched": "drop",
    "rules": [
        {"exact": "cn=admins,ou=Groups,dc=example,dc=org", "team": "platform-admins"},
        {"glob": "acme:*", "team": "acme-members", "connectors": ["mock"]},
        {"regex": r"^team-(?P<name>\w+)$", "team": "t-${name}"},
        {"glob": "*-interns", "drop": True},
    ],
}


def run(*args: str) -> Any:
    return CliRunner().invoke(teams, list(args))


def test_explain_table_and_final_teams(write_config: Callable[..., Path]) -> None:
    path = write_config(TEAMS)
    result = run(
        "explain",
        str(path),
        "--connector",
        "mock",
        "--group",
        "cn=admins,ou=Groups,dc=example,dc=org",
        "--groups",
        "acme:web, team-ops,eng-interns",
        "--group",
        "stray",
    )
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "connector mock: groups no rule decides are dropped"
    assert lines[1].split() == ["GROUP", "RULE", "TEAMS"]
    body = {line.split()[0]: line for line in lines[2:7]}
    assert "rules[0] exact" in body["cn=admins,ou=Groups,dc=example,dc=org"]
    assert body["cn=admins,ou=Groups,dc=example,dc=org"].endswith("platform-admins")
    assert body["acme:web"].endswith("acme-members")
    assert "rules[2] regex" in body["team-ops"] and body["team-ops"].endswith("t-ops")
    assert "rules[3] drop glob '*-interns'" in body["eng-interns"]
    assert "unmatched: drop" in body["stray"]
    # --group values come first, then --groups, each in the order given.
    assert [line.split()[0] for line in lines[2:7]] == [
        "cn=admins,ou=Groups,dc=example,dc=org",
        "stray",
        "acme:web",
        "team-ops",
        "eng-interns",
    ]
    assert lines[-1] == "teams: platform-admins, acme-members, t-ops"


def test_explain_utf8_groups(write_config: Callable[..., Path]) -> None:
    path = write_config({"rules": [{"regex": "équipe-(.+)", "team": "团队-${1}"}]})
    result = run("explain", str(path), "--connector", "mock", "--groups", "équipe-数据,Ünï")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1] == "teams: 团队-数据, Ünï"


def test_explain_without_teams_section_is_identity(write_config: Callable[..., Path]) -> None:
    path = write_config(None)
    result = run("explain", str(path), "--connector", "mock", "--groups", "b,a")
    assert result.exit_code == 0, result.output
    assert "pass through unchanged" in result.output
    assert result.output.splitlines()[-1] == "teams: b, a"


def test_explain_invalid_rules_lists_every_error(write_config: Callable[..., Path]) -> None:
    path = write_config(
        {"rules": [{"regex": "(", "team": "x"}, {"exact": "a", "connectors": ["ldap"]}]}
    )
    result = run("explain", str(path), "--connector", "mock", "--group", "a")
    assert result.exit_code == 1
    assert "teams.rules[0].regex: invalid regular expression" in result.output
    assert "teams.rules[1].connectors[0]: unknown connector id 'ldap'" in result.output
    assert "teams.rules[1]: needs exactly one of team, teams or drop" in result.output


def test_explain_unknown_connector(write_config: Callable[..., Path]) -> None:
    path = write_config(TEAMS)
    result = run("explain", str(path), "--connector", "ldap", "--group", "a")
    assert result.exit_code == 1
    assert "unknown connector id 'ldap' (configured: mock)" in result.output


def test_explain_needs_groups(write_config: Callable[..., Path]) -> None:
    path = write_config(TEAMS)
    result = run("explain", str(path), "--connector", "mock", "--groups", " , ")
    assert result.exit_code == 1
    assert "at least one --group" in result.output


def test_explain_prints_shadow_warning(write_config: Callable[..., Path]) -> None:
    path = write_config({"rules": [{"glob": "a*", "team": "x"}, {"exact": "ab", "team": "never"}]})
    result = run("explain", str(path), "--connector", "mock", "--group", "ab")
    assert result.exit_code == 0, result.output
    assert "warning: teams.rules[1]: never matches: rules[0]" in result.output
    assert result.output.splitlines()[-1] == "teams: x"
