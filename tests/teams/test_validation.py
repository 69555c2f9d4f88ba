"""Validation of the ``teams`` section: every problem reported at once, with exact key paths."""

from __future__ import annotations

from typing import Any

import pytest

from dex_py.config import Config, ConfigError, ConnectorConfig
from dex_py.teams import (
    MAX_PATTERN_LENGTH,
    TeamRules,
    load_team_rules,
    validate_teams_section,
)

IDS = ("ldap", "mock")


def errors_of(section: Any, ids: tuple[str, ...] = IDS) -> list[tuple[str, str]]:
    with pytest.raises(ConfigError) as info:
        TeamRules.from_config(section, connector_ids=ids)
    return info.value.errors


def paths_of(section: Any, ids: tuple[str, ...] = IDS) -> list[str]:
    return [path for path, _ in errors_of(section, ids)]


# (id, one rule, expected (path, message fragment))
RULE_CASES: list[tuple[str, Any, str, str]] = [
    ("bad regex", {"regex": "(a", "team": "x"}, "teams.rules[0].regex", "invalid regular"),
    (
        "exact and glob",
        {"exact": "a", "glob": "b", "team": "x"},
        "teams.rules[0]",
        "exact and glob",
    ),
    ("no matcher", {"team": "x"}, "teams.rules[0]", "none given"),
    ("no team", {"exact": "a"}, "teams.rules[0]", "team, teams or drop"),
    ("team and teams", {"exact": "a", "team": "x", "teams": ["y"]}, "teams.rules[0]", "team and"),
    ("team and drop", {"exact": "a", "team": "x", "drop": True}, "teams.rules[0]", "and drop"),
    ("empty team", {"exact": "a", "team": "  "}, "teams.rules[0].team", "must not be empty"),
    ("empty teams list", {"exact": "a", "teams": []}, "teams.rules[0].teams", "non-empty list"),
    ("empty in teams", {"exact": "a", "teams": ["x", ""]}, "teams.rules[0].teams[1]", "empty"),
    ("non-string team", {"exact": "a", "team": 7}, "teams.rules[0].team", "must be a string"),
    ("empty pattern", {"glob": "", "team": "x"}, "teams.rules[0].glob", "non-empty string"),
    ("non-string pattern", {"exact": 3, "team": "x"}, "teams.rules[0].exact", "non-empty string"),
    (
        "capture beyond groups",
        {"regex": "(a)(b)", "team": "${3}"},
        "teams.rules[0].team",
        "only 2 group",
    ),
    (
        "unknown named capture",
        {"regex": "(?P<org>a)", "teams": ["ok-${org}", "${team}"]},
        "teams.rules[0].teams[1]",
        "no group named 'team'",
    ),
    ("capture in glob", {"glob": "a*", "team": "${1}"}, "teams.rules[0].team", "need a regex"),
    ("name in exact", {"exact": "a", "team": "${x}"}, "teams.rules[0].team", "need a regex"),
    ("bare dollar", {"regex": "(a)", "team": "$1"}, "teams.rules[0].team", "'$$'"),
    ("unclosed ref", {"regex": "(a)", "team": "${1"}, "teams.rules[0].team", "'$$'"),
    ("bad ref name", {"regex": "(a)", "team": "${1-a}"}, "teams.rules[0].team", "not a group"),
    (
        "unknown key",
        {"exact": "a", "team": "x", "contine": True},
        "teams.rules[0].contine",
        "unknown",
    ),
    ("drop not bool", {"exact": "a", "drop": "yes"}, "teams.rules[0].drop", "true or false"),
    (
        "continue not bool",
        {"exact": "a", "team": "x", "continue": 1},
        "teams.rules[0].continue",
        "true",
    ),
    (
        "drop and continue",
        {"exact": "a", "drop": True, "continue": True},
        "teams.rules[0].continue",
        "stops",
    ),
    (
        "unknown connector",
        {"exact": "a", "team": "x", "connectors": ["ldap", "ldpa"]},
        "teams.rules[0].connectors[1]",
        "unknown connector id 'ldpa'",
    ),
    (
        "connectors not list",
        {"exact": "a", "team": "x", "connectors": "ldap"},
        "teams.rules[0].connectors",
        "list",
    ),
    (
        "empty connectors",
        {"exact": "a", "team": "x", "connectors": []},
        "teams.rules[0].connectors",
        "list",
    ),
    (
        "pattern too long",
        {"regex": "a" * (MAX_PATTERN_LENGTH + 1), "team": "x"},
        "teams.rules[0].regex",
        f"longer than {MAX_PATTERN_LENGTH}",
    ),
    ("rule not a mapping", "exact: a", "teams.rules[0]", "must be a mapping"),
]


@pytest.mark.parametrize(
    ("rule", "path", "fragment"), [c[1:] for c in RULE_CASES], ids=[c[0] for c in RULE_CASES]
)
def test_rule_error(rule: Any, path: str, fragment: str) -> None:
    errors = errors_of({"rules": [{"exact": "fine", "team": "ok"}, rule]})
    # The bad rule is rules[1] here: the path names its real index.
    path = path.replace("rules[0]", "rules[1]")
    assert any(p == path and fragment in m for p, m in errors), errors


SECTION_CASES: list[tuple[str, Any, str, str]] = [
    ("not a mapping", ["x"], "teams", "must be a mapping"),
    ("unknown top key", {"rule": []}, "teams.rule", "unknown key"),
    ("bad unmatched", {"unmatched": "pass"}, "teams.unmatched", "keep or drop"),
    ("rules not a list", {"rules": {"exact": "a"}}, "teams.rules", "list"),
    ("connectors not mapping", {"connectors": ["ldap"]}, "teams.connectors", "mapping"),
    (
        "unknown connector default",
        {"connectors": {"gh": {"unmatched": "drop"}}},
        "teams.connectors.gh",
        "unknown connector",
    ),
    (
        "bad connector unmatched",
        {"connectors": {"ldap": {"unmatched": 1}}},
        "teams.connectors.ldap.unmatched",
        "keep or drop",
    ),
    (
        "unknown connector key",
        {"connectors": {"ldap": {"rules": []}}},
        "teams.connectors.ldap.rules",
        "unknown key",
    ),
    (
        "connector settings not mapping",
        {"connectors": {"ldap": "drop"}},
        "teams.connectors.ldap",
        "mapping",
    ),
]


@pytest.mark.parametrize(
    ("section", "path", "fragment"),
    [c[1:] for c in SECTION_CASES],
    ids=[c[0] for c in SECTION_CASES],
)
def test_section_error(section: Any, path: str, fragment: str) -> None:
    errors = errors_of(section)
    assert any(p == path and fragment in m for p, m in errors), errors


def test_all_problems_reported_at_once() -> None:
    section = {
        "unmatched": "maybe",
        "colour": "blue",
        "rules": [
            {"regex": "([a-z]+", "team": "x"},
            {"exact": "ok", "team": "fine"},
            {"exact": "a", "glob": "b", "team": "x"},
            {"glob": "g", "team": ""},
            {"regex": "(?P<a>x)", "team": "${b}", "connectors": ["nope"]},
        ],
    }
    assert paths_of(section) == [
        "teams.colour",
        "teams.unmatched",
        "teams.rules[0].regex",
        "teams.rules[2]",
        "teams.rules[3].team",
        "teams.rules[4].connectors[0]",
        "teams.rules[4].team",
    ]
    message = str(ConfigError(errors_of(section)))
    assert "teams.rules[0].regex: invalid regular expression: missing )" in message


def test_connector_ids_unchecked_when_not_given() -> None:
    rules = TeamRules.from_config(
        {"rules": [{"exact": "a", "team": "x", "connectors": ["anything"]}]}
    )
    assert rules.map("anything", ["a"]) == ("x",)


def test_valid_section_has_no_errors() -> None:
    rules = TeamRules.from_config(
        {
            "unmatched": "drop",
            "connectors": {"ldap": {"unmatched": "keep"}},
            "rules": [
                {"regex": r"^cn=(?P<cn>[^,]+),dc=x$", "team": "ldap-${cn}", "connectors": ["ldap"]},
                {"glob": "*-interns", "drop": True, "continue": False},
                {"exact": "a", "teams": ["b", "c"], "continue": True, "drop": False},
            ],
        },
        connector_ids=IDS,
    )
    assert rules.map("ldap", ["cn=ops,dc=x", "a", "z-interns"]) == ("ldap-ops", "b", "c", "a")
    assert rules.warnings == ()


def test_shadowed_exact_rule_is_a_warning() -> None:
    rules = TeamRules.from_config(
        {
            "rules": [
                {"glob": "acme:*", "team": "acme", "connectors": ["ldap", "mock"]},
                {"exact": "acme:x", "team": "never", "connectors": ["ldap"]},
                {"exact": "acme:y", "team": "reachable"},  # other connectors reach it
                {"exact": "b", "team": "b1", "continue": True},
                {"exact": "b", "team": "b2"},  # continue does not shadow
            ]
        },
        connector_ids=IDS,
    )
    assert len(rules.warnings) == 1
    assert rules.warnings[0].startswith("teams.rules[1]: never matches: rules[0] (glob 'acme:*'")


def make_config(teams: Any = None) -> Config:
    """A ``Config`` built directly (not loaded), so the hook is tested on its own even once the
    loader calls it."""
    config = Config(
        issuer="http://127.0.0.1:5556/dex",
        connectors=[ConnectorConfig(type="mockCallback", id="mock", name="Mock")],
        enable_password_db=True,
    )
    if teams is not None:
        config.extensions["teams"] = teams
    return config


def test_validate_teams_section_hook() -> None:
    good = make_config({"rules": [{"exact": "a", "team": "b", "connectors": ["local", "mock"]}]})
    assert validate_teams_section(good) == []
    bad = make_config(
        {
            "rules": [
                {"exact": "a", "team": "b", "connectors": ["ldap"]},
                {"regex": "(", "team": "c"},
            ]
        }
    )
    errors = validate_teams_section(bad)
    assert [p for p, _ in errors] == ["teams.rules[0].connectors[0]", "teams.rules[1].regex"]
    assert "configured: local, mock" in errors[0][1]
    assert validate_teams_section(make_config()) == []
    assert load_team_rules(make_config()).identity
