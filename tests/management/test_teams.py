"""Team rules managed at run time, on memory, SQLite and PostgreSQL: the config's rules
(read-only, first) and the stored ones, replaced as a whole under a version, checked by the
section's own compiler, applied at once to tokens, and explained per group."""

from __future__ import annotations

from typing import Any

import pytest

from dex_py.management import teams
from dex_py.management.actor import Actor
from dex_py.management.errors import Conflict, Invalid, NotFound
from dex_py.services import Services


@pytest.fixture
def config_overrides() -> dict[str, Any]:
    return {
        "teams": {
            "unmatched": "drop",
            "rules": [
                {"exact": "admins", "team": "platform-admins"},
                {"glob": "acme:*", "team": "acme", "continue": True},
            ],
        }
    }


STORED = [
    {"regex": "acme:(?P<name>.+)", "team": "acme-${name}"},
    {"exact": "interns", "drop": True, "connectors": ["local"]},
]


def test_the_config_rules_come_first_and_are_marked(svc: Services) -> None:
    view = teams.get_rules(svc)
    assert view.version == "0" and view.unmatched == "drop"
    assert [(r.label, r.static) for r in view.rules] == [("rules[0]", True), ("rules[1]", True)]
    assert view.stored == []


def test_stored_rules_apply_at_once_and_are_audited(svc: Services, actor: Actor) -> None:
    assert svc.teams.map("local", ["acme:web", "admins"]) == ("acme", "platform-admins")
    before = svc.storage.generation()
    view = teams.set_rules(svc, actor, STORED, expected_version="0")
    assert view.version == "1" and view.stored == STORED
    assert [r.label for r in view.rules][2:] == ["stored rules[0]", "stored rules[1]"]
    assert svc.storage.generation() == before + 1
    assert svc.teams.map("local", ["acme:web", "admins", "interns"]) == (
        "acme",
        "acme-web",
        "platform-admins",
    )
    [record] = svc.storage.list_audit_records(event="admin")
    assert record.object == "team_rules:stored" and record.outcome == "success"
    assert teams.set_rules(svc, actor, [], expected_version='W/"1"').version == "2"
    assert svc.teams.map("local", ["acme:web"]) == ("acme",)


def test_every_problem_is_listed_with_its_index_and_nothing_stored(
    svc: Services, actor: Actor
) -> None:
    bad = [
        {"exact": "fine", "team": "ok"},
        {"regex": "(", "team": "x"},
        {"glob": "a*", "team": "x", "connectors": ["no-such-connector"]},
        {"exact": "b", "team": "${name}"},
    ]
    with pytest.raises(Invalid) as e:
        teams.set_rules(svc, actor, bad)
    assert [path for path, _ in e.value.errors] == [
        "rules[1].regex",
        "rules[2].connectors[0]",
        "rules[3].team",
    ]
    assert teams.get_rules(svc).version == "0"
    [record] = svc.storage.list_audit_records(event="admin")
    assert record.outcome == "failure"


def test_a_stale_version_is_a_conflict(svc: Services, actor: Actor) -> None:
    teams.set_rules(svc, actor, STORED)
    for stale in ("0", "2", "not-a-version"):
        with pytest.raises(Conflict):
            teams.set_rules(svc, actor, [], expected_version=stale)
    assert teams.get_rules(svc).stored == STORED


def test_explain_names_the_rule_behind_each_group(svc: Services, actor: Actor) -> None:
    teams.set_rules(svc, actor, STORED)
    result = teams.explain(svc, "local", ["admins", "acme:web", "interns", "other"])
    assert result.teams == ("platform-admins", "acme", "acme-web")
    admins, acme, interns, other = result.decisions
    assert admins.decided_by is not None and admins.decided_by.label == "rules[0]"
    assert [(m.label, m.stored) for m in acme.matches] == [
        ("rules[1]", False),
        ("stored rules[0]", True),
    ]
    assert interns.outcome == "rule" and interns.teams == ()
    assert other.outcome == "dropped"  # the config's unmatched policy
    (mock_interns,) = teams.explain(svc, "mock", ["interns"]).decisions
    assert mock_interns.outcome == "dropped"  # the drop rule is for local only: unmatched here
    with pytest.raises(NotFound):
        teams.explain(svc, "nothing", ["a"])
