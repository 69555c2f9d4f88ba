"""``TeamRules.explain``: one Decision per upstream group naming the rules that matched."""

from __future__ import annotations

from collections.abc import Callable

from dex_py.cli.teams import format_explanation
from dex_py.teams import Decision, RuleMatch, TeamRules


def test_explain_decisions(make_rules: Callable[..., TeamRules]) -> None:
    engine = make_rules(
        {"exact": "cn=admins", "connectors": ["ldap"], "team": "platform-admins"},
        {"glob": "*-interns", "drop": True},
        {"exact": "acme:platform", "teams": ["platform", "on-call"], "continue": True},
        {"glob": "acme:*", "team": "acme-members"},
        unmatched="keep",
        connectors={"ldap": {"unmatched": "drop"}},
    )
    groups = ["cn=admins", "eng-interns", "acme:platform", "stray", ""]
    decisions = engine.explain("ldap", groups)
    assert [d.group for d in decisions] == groups
    admins, interns, platform, stray, empty = decisions

    assert admins == Decision(
        "cn=admins",
        (RuleMatch(0, "exact 'cn=admins' (connectors: ldap)", ("platform-admins",)),),
        "rule",
        ("platform-admins",),
    )
    assert admins.decided_by is admins.matches[0]
    assert not admins.unmatched

    assert interns.outcome == "rule"
    assert interns.matches == (RuleMatch(1, "glob '*-interns'", (), drop=True),)
    assert interns.teams == ()

    assert [(m.index, m.teams, m.continues) for m in platform.matches] == [
        (2, ("platform", "on-call"), True),
        (3, ("acme-members",), False),
    ]
    assert platform.decided_by is not None and platform.decided_by.label == "rules[3]"
    assert platform.teams == ("platform", "on-call", "acme-members")

    assert (stray.outcome, stray.matches, stray.teams, stray.unmatched) == (
        "dropped",
        (),
        (),
        True,
    )
    assert stray.decided_by is None
    assert empty.outcome == "ignored"

    # The same group under another connector: the scoped rule is skipped, unmatched is keep.
    other = engine.explain("github", ["cn=admins"])[0]
    assert (other.outcome, other.teams) == ("kept", ("cn=admins",))


def test_explain_continue_then_unmatched(make_rules: Callable[..., TeamRules]) -> None:
    engine = make_rules({"exact": "a", "team": "x", "continue": True})
    (decision,) = engine.explain("mock", ["a"])
    assert decision.outcome == "kept"
    assert decision.decided_by is None
    assert [m.index for m in decision.matches] == [0]
    assert decision.teams == ("x", "a")


def test_format_explanation_table(make_rules: Callable[..., TeamRules]) -> None:
    engine = make_rules(
        {"regex": "team-(.*)", "team": "t-${1}", "continue": True},
        {"glob": "*-x", "drop": True},
        unmatched="drop",
    )
    groups = ["team-a", "team-x", "other"]
    lines = format_explanation(engine.explain("mock", groups), engine.map("mock", groups))
    assert lines == [
        "GROUP   RULE                                   TEAMS",
        "team-a  rules[0] regex 'team-(.*)' (continue)  t-a",
        "        unmatched: drop                        (dropped)",
        "team-x  rules[0] regex 'team-(.*)' (continue)  t-x",
        "        rules[1] drop glob '*-x'               (dropped)",
        "other   unmatched: drop                        (dropped)",
        "",
        "teams: t-a, t-x",
    ]
