"""The mapping semantics of ``dex_py.teams``: matching kinds, scoping, drop, continue, unmatched
policies, captures, order and de-duplication, and the identity mapping without a section."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from dex_py.teams import TeamRules

DN_ADMINS = "cn=admins,ou=Groups,dc=example,dc=org"
LDAP_CN = {"regex": r"^cn=([^,]+),ou=Groups,dc=example,dc=org$", "team": "ldap-${1}"}

# (id, rules, section extras, connector, groups, expected teams)
CASES: list[tuple[str, list[dict[str, Any]], dict[str, Any], str, list[str], tuple[str, ...]]] = [
    (
        "exact renames, others pass through",
        [{"exact": DN_ADMINS, "team": "platform-admins"}],
        {},
        "ldap",
        [DN_ADMINS, "other"],
        ("platform-admins", "other"),
    ),
    (
        "exact is not a substring or prefix match",
        [{"exact": "acme", "team": "x-${0}"}],
        {"unmatched": "drop"},
        "ldap",
        ["acme:platform", "xacme", "acme"],
        ("x-acme",),
    ),
    (
        "glob",
        [{"glob": "acme:*", "team": "m-${0}"}],
        {"unmatched": "drop"},
        "github",
        ["acme:platform", "acme:", "other:acme", "ACME:x"],
        ("m-acme:platform", "m-acme:"),
    ),
    (
        "glob ? and [seq] and [!seq]",
        [{"glob": "team-?[0-9][!x]", "team": "${0}"}],
        {"unmatched": "drop"},
        "mock",
        ["team-a1y", "team-a1x", "team-ab1y", "team-a9z"],
        ("team-a1y", "team-a9z"),
    ),
    (
        "glob star crosses slashes",
        [{"glob": "/gitlab/*", "team": "gl-${0}"}],
        {"unmatched": "drop"},
        "mock",
        ["/gitlab/a/b", "/github/a"],
        ("gl-/gitlab/a/b",),
    ),
    (
        "regex numbered capture",
        [LDAP_CN],
        {"unmatched": "drop"},
        "ldap",
        [DN_ADMINS, "cn=dev,ou=Groups,dc=example,dc=org", "cn=x,ou=People,dc=example,dc=org"],
        ("ldap-admins", "ldap-dev"),
    ),
    (
        "regex named capture and literal dollar",
        [{"regex": r"(?P<org>\w+):(?P<team>\w+)", "team": "${team}@${org}$$"}],
        {},
        "github",
        ["acme:web"],
        ("web@acme$",),
    ),
    (
        "regex must match the whole name",
        [{"regex": "admin", "team": "a-${0}"}],
        {"unmatched": "drop"},
        "ldap",
        ["admin", "admins", "sysadmin"],
        ("a-admin",),
    ),
    (
        "regex unmatched optional group expands to empty",
        [{"regex": r"g(-(\w+))?", "teams": ["x${2}", "${2}"]}],
        {"unmatched": "drop"},
        "ldap",
        ["g", "g-y"],
        ("x", "xy", "y"),
    ),
    (
        "connector scoping",
        [{"exact": "admins", "connectors": ["ldap"], "team": "ldap-admins"}],
        {"unmatched": "drop"},
        "github",
        ["admins"],
        (),
    ),
    (
        "connector scoping applies to listed connector",
        [
            {"exact": "admins", "connectors": ["ldap", "mock"], "team": "scoped"},
            {"exact": "admins", "team": "global"},
        ],
        {},
        "mock",
        ["admins"],
        ("scoped",),
    ),
    (
        "scoped rule skipped for other connector, later rule decides",
        [
            {"exact": "admins", "connectors": ["ldap"], "team": "scoped"},
            {"exact": "admins", "team": "global"},
        ],
        {},
        "github",
        ["admins"],
        ("global",),
    ),
    (
        "drop stops evaluation",
        [{"glob": "*-interns", "drop": True}, {"glob": "*", "team": "everyone"}],
        {},
        "ldap",
        ["eng-interns", "eng"],
        ("everyone",),
    ),
    (
        "first match wins",
        [{"glob": "acme:*", "team": "acme"}, {"exact": "acme:platform", "team": "platform"}],
        {},
        "github",
        ["acme:platform"],
        ("acme",),
    ),
    (
        "continue adds and goes on to a deciding rule",
        [
            {"exact": "acme:platform", "teams": ["platform", "on-call"], "continue": True},
            {"glob": "acme:*", "team": "acme-members"},
        ],
        {},
        "github",
        ["acme:platform"],
        ("platform", "on-call", "acme-members"),
    ),
    (
        "continue then no deciding rule: unmatched keep passes the group through",
        [{"exact": "acme:platform", "team": "platform", "continue": True}],
        {},
        "github",
        ["acme:platform"],
        ("platform", "acme:platform"),
    ),
    (
        "continue then no deciding rule: unmatched drop keeps only the added teams",
        [{"exact": "acme:platform", "team": "platform", "continue": True}],
        {"unmatched": "drop"},
        "github",
        ["acme:platform"],
        ("platform",),
    ),
    (
        "drop after continue keeps the teams already added",
        [
            {"glob": "*", "team": "everyone", "continue": True},
            {"glob": "*-interns", "drop": True},
        ],
        {},
        "ldap",
        ["eng-interns"],
        ("everyone",),
    ),
    (
        "several teams per rule",
        [{"exact": "a", "teams": ["x", "y", "z"]}],
        {},
        "ldap",
        ["a"],
        ("x", "y", "z"),
    ),
    (
        "unmatched keep is the default",
        [{"exact": "nope", "team": "x"}],
        {},
        "ldap",
        ["b", "a"],
        ("b", "a"),
    ),
    (
        "unmatched drop",
        [{"exact": "a", "team": "x"}],
        {"unmatched": "drop"},
        "ldap",
        ["b", "a", "c"],
        ("x",),
    ),
    (
        "per-connector unmatched overrides the default",
        [],
        {"unmatched": "keep", "connectors": {"ldap": {"unmatched": "drop"}}},
        "ldap",
        ["a", "b"],
        (),
    ),
    (
        "per-connector unmatched leaves other connectors alone",
        [],
        {"unmatched": "drop", "connectors": {"ldap": {"unmatched": "keep"}}},
        "github",
        ["a", "b"],
        (),
    ),
    (
        "per-connector keep",
        [],
        {"unmatched": "drop", "connectors": {"ldap": {"unmatched": "keep"}}},
        "ldap",
        ["a", "b"],
        ("a", "b"),
    ),
    (
        "order follows the upstream groups, first occurrence wins",
        [{"exact": "b", "teams": ["shared", "b-team"]}, {"exact": "a", "team": "shared"}],
        {},
        "ldap",
        ["c", "b", "a", "c"],
        ("c", "shared", "b-team"),
    ),
    (
        "de-duplication across rules and pass-through",
        [{"glob": "x*", "team": "x"}],
        {},
        "ldap",
        ["x1", "x", "x2", "x"],
        ("x",),
    ),
    (
        "empty group names are ignored",
        [],
        {},
        "ldap",
        ["", "a", ""],
        ("a",),
    ),
    (
        "UTF-8 groups and teams",
        [{"regex": "équipe-(.+)", "team": "团队-${1}"}, {"exact": "Ünïcødé", "team": "ü"}],
        {},
        "ldap",
        ["équipe-数据", "Ünïcødé", "ñ"],
        ("团队-数据", "ü", "ñ"),
    ),
    (
        "regex-special characters in exact are literal",
        [{"exact": "a.b+(c)[d]*$", "team": "s-${0}"}],
        {"unmatched": "drop"},
        "ldap",
        ["a.b+(c)[d]*$", "aXb+(c)[d]*$", "a.bb(c)d"],
        ("s-a.b+(c)[d]*$",),
    ),
    (
        "regex-special characters in glob are literal except glob syntax",
        [{"glob": "a.b+(c)^$|*", "team": "${0}"}],
        {"unmatched": "drop"},
        "ldap",
        ["a.b+(c)^$|tail", "aXb+(c)^$|tail", "a.bb(c)^$|"],
        ("a.b+(c)^$|tail",),
    ),
    (
        "glob is case-sensitive",
        [{"glob": "Admins*", "team": "${0}"}],
        {"unmatched": "drop"},
        "ldap",
        ["admins", "ADMINS", "Admins-1"],
        ("Admins-1",),
    ),
    (
        "newline in a group does not fool exact, glob or regex anchors",
        [{"exact": "a", "team": "e"}, {"glob": "b", "team": "g"}, {"regex": "^c$", "team": "r"}],
        {"unmatched": "drop"},
        "ldap",
        ["a\n", "b\n", "c\n"],
        (),
    ),
]


@pytest.mark.parametrize(
    ("rules", "extra", "connector", "groups", "expected"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_map(
    make_rules: Callable[..., TeamRules],
    rules: list[dict[str, Any]],
    extra: dict[str, Any],
    connector: str,
    groups: list[str],
    expected: tuple[str, ...],
) -> None:
    engine = make_rules(*rules, **extra)
    assert engine.map(connector, groups) == expected
    # The cached path and the uncached explain path agree.
    assert engine.map(connector, groups) == expected
    from_explain = [t for d in engine.explain(connector, groups) for t in d.teams]
    assert tuple(dict.fromkeys(from_explain)) == expected


def test_no_section_is_identity() -> None:
    engine = TeamRules.from_config(None)
    groups = ["b", "a", "b", "", "cn=x,dc=y"]
    assert engine.identity
    assert engine.map("anything", groups) == ("b", "a", "b", "", "cn=x,dc=y")
    assert [d.outcome for d in engine.explain("anything", ["b"])] == ["kept"]


def test_empty_section_keeps_everything() -> None:
    engine = TeamRules.from_config({}, connector_ids=["ldap"])
    assert not engine.identity
    assert engine.map("ldap", ["b", "a", "b"]) == ("b", "a")


def test_connector_scoped_cache_does_not_leak_between_connectors(
    make_rules: Callable[..., TeamRules],
) -> None:
    engine = make_rules({"exact": "g", "connectors": ["ldap"], "team": "scoped"})
    assert engine.map("ldap", ["g"]) == ("scoped",)
    assert engine.map("github", ["g"]) == ("g",)
    assert engine.map("ldap", ["g"]) == ("scoped",)


def test_unmatched_policy_lookup(make_rules: Callable[..., TeamRules]) -> None:
    engine = make_rules(unmatched="drop", connectors={"ldap": {"unmatched": "keep"}})
    assert engine.unmatched_policy("ldap") == "keep"
    assert engine.unmatched_policy("github") == "drop"


def test_many_groups_and_rules(make_rules: Callable[..., TeamRules]) -> None:
    rules = [{"exact": f"g{i}", "team": f"t{i % 7}"} for i in range(50)]
    engine = make_rules(*rules, {"regex": r"x(\d+)", "team": "x${1}"}, unmatched="drop")
    groups = [f"g{i}" for i in range(50)] + [f"x{i}" for i in range(3)]
    assert engine.map("ldap", groups) == (
        *(f"t{i}" for i in range(7)),
        "x0",
        "x1",
        "x2",
    )
