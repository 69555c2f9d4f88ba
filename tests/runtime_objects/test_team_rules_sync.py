"""``LiveTeamRules``: the config section's rules first (read-only), then the rules kept in
storage, rebuilt when the change counter moves; stored rules are compiled like the section's
and reported with their own index; stored rules that do not compile leave the rules in use."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from dex_py.config.model import ConfigError
from dex_py.storage.memory import MemoryStorage
from dex_py.teams import TEAM_RULES_SETTING, LiveTeamRules, compile_rules

SECTION: dict[str, Any] = {
    "rules": [
        {"exact": "cn=admins", "team": "admins"},
        {"glob": "acme:*", "team": "acme", "continue": True},
    ]
}


def _store(storage: MemoryStorage, rules: list[Any]) -> None:
    _, version = storage.get_setting(TEAM_RULES_SETTING)
    storage.put_setting(TEAM_RULES_SETTING, rules, version)
    storage.bump_generation()


def test_without_a_section_or_stored_rules_groups_pass_unchanged() -> None:
    storage = MemoryStorage()
    rules = LiveTeamRules(None, storage)
    assert rules.identity and rules.map("ldap", ["a", "b"]) == ("a", "b")
    _store(storage, [{"glob": "a*", "team": "alpha"}])
    rules.refresh()
    assert not rules.identity
    assert rules.map("ldap", ["a", "b"]) == ("alpha", "b")  # unmatched groups kept
    assert rules.stored_version == 1
    _store(storage, [])
    rules.refresh()
    assert rules.identity and rules.stored_version == 2


def test_stored_rules_come_after_the_config_ones() -> None:
    storage = MemoryStorage()
    _store(
        storage,
        [
            {"exact": "cn=admins", "team": "never"},  # the config rule decides first
            {"glob": "acme:*", "team": "acme-${0}"},
            {"exact": "interns", "drop": True, "connectors": ["ldap"]},
        ],
    )
    rules = LiveTeamRules(SECTION, storage)
    assert rules.map("ldap", ["cn=admins", "acme:x", "interns"]) == (
        "admins",
        "acme",
        "acme-acme:x",
    )
    assert rules.map("github", ["interns"]) == ("interns",)
    admins, acme, interns = rules.explain("ldap", ["cn=admins", "acme:x", "interns"])
    assert [m.label for m in admins.matches] == ["rules[0]"]
    assert [m.label for m in acme.matches] == ["rules[1]", "stored rules[1]"]
    assert acme.decided_by is not None and acme.decided_by.stored
    assert interns.outcome == "rule" and interns.decided_by.drop  # type: ignore[union-attr]


def test_a_change_shows_after_the_poll_interval_without_refresh(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    storage = MemoryStorage()
    rules = LiveTeamRules(SECTION, storage)
    assert rules.map("ldap", ["x"]) == ("x",)
    _store(storage, [{"exact": "x", "team": "ex"}])
    assert rules.map("ldap", ["x"]) == ("x",)  # within the second: the rules in use
    monkeypatch.setattr(rules._watch, "_next", 0.0)  # the second has passed
    assert rules.map("ldap", ["x"]) == ("ex",)


def test_stored_rules_that_do_not_compile_leave_the_rules_in_use(
    caplog: pytest.LogCaptureFixture,
) -> None:
    storage = MemoryStorage()
    _store(storage, [{"exact": "x", "team": "ex"}])
    rules = LiveTeamRules(SECTION, storage)
    _store(storage, [{"regex": "(", "team": "broken"}])  # written around the validation
    with caplog.at_level(logging.ERROR):
        rules.refresh()
    assert rules.map("ldap", ["x"]) == ("ex",)
    assert rules.stored_version == 1
    assert "stored team rules (version 2) are invalid" in caplog.text


def test_compile_rules_lists_every_problem_with_its_index() -> None:
    with pytest.raises(ConfigError) as e:
        compile_rules(
            [
                {"exact": "ok", "team": "fine"},
                {"regex": "(", "team": "t"},
                {"glob": "*", "teams": []},
                "not a mapping",
                {"exact": "a", "team": "b", "connectors": ["gone"]},
            ],
            known_ids=["ldap"],
        )
    paths = [path for path, _ in e.value.errors]
    assert paths == ["rules[1].regex", "rules[2].teams", "rules[3]", "rules[4].connectors[0]"]
    with pytest.raises(ConfigError) as e:
        compile_rules({"rules": []})
    assert e.value.errors == [("rules", "must be a list of rules")]
    (rule,) = compile_rules([{"exact": "a", "team": "b"}])
    assert rule.stored and rule.index == 0
