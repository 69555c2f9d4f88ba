"""Team rules managed at run time: read them, replace the stored ones, explain a user's teams.

The rules a server applies are the ``teams`` section's of ``config.yaml`` (read-only, first)
followed by the stored ones (the setting ``team-rules``, a list shaped like ``teams.rules``;
``dex_py.teams.LiveTeamRules``). ``set_rules`` replaces the whole stored list at once, checked
by the same compiler as the config section (``Invalid`` lists every problem with its index,
``rules[2].regex: ...``) and guarded by the version it was read at (``Conflict`` when someone
else changed it since); every worker and replica applies it within about a second, this
process at once. ``explain`` shows, per upstream group, the rules that matched and the teams
that came out, as a token would get them now.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from dex_py.config.model import ConfigError
from dex_py.management.actor import Actor, audited
from dex_py.management.errors import Conflict, Invalid, NotFound
from dex_py.services import Services
from dex_py.storage.base import ConflictError
from dex_py.teams import TEAM_RULES_SETTING, Decision, LiveTeamRules, compile_rules

__all__ = [
    "Explanation",
    "TeamRuleView",
    "TeamRulesView",
    "explain",
    "get_rules",
    "set_rules",
]


@dataclass(frozen=True)
class TeamRuleView:
    """One rule as written (``rule``: exact/glob/regex, team(s) or drop, connectors, continue),
    its ``index`` among its own kind and whether it comes from config.yaml (``static``)."""

    index: int
    rule: dict[str, Any]
    static: bool

    @property
    def label(self) -> str:
        """How ``explain`` names it: ``rules[0]`` (config.yaml) or ``stored rules[0]``."""
        return f"rules[{self.index}]" if self.static else f"stored rules[{self.index}]"


@dataclass(frozen=True)
class TeamRulesView:
    """Every rule in the order they are tried, the ``unmatched`` policy of groups no rule
    decides, and ``version``: the stored rules' version (the ETag; "0" before any were
    stored)."""

    rules: tuple[TeamRuleView, ...]
    unmatched: str
    version: str

    @property
    def stored(self) -> list[dict[str, Any]]:
        """The stored rules alone, to edit and send back to ``set_rules``."""
        return [r.rule for r in self.rules if not r.static]


@dataclass(frozen=True)
class Explanation:
    """What the rules make of ``groups`` reported by ``connector_id``: one ``Decision`` per
    group (its matches, each with a ``label`` and ``stored`` flag, its outcome and teams), and
    the teams a token would carry."""

    connector_id: str
    decisions: tuple[Decision, ...]
    teams: tuple[str, ...]


def _section(svc: Services) -> dict[str, Any]:
    section = svc.config.extensions.get("teams")
    return section if isinstance(section, dict) else {}


def get_rules(svc: Services) -> TeamRulesView:
    """The config rules (static) and the stored ones, as written, with the stored version."""
    section = _section(svc)
    stored, version = svc.storage.get_setting(TEAM_RULES_SETTING)
    rules = [TeamRuleView(i, dict(r), True) for i, r in enumerate(section.get("rules") or [])]
    rules += [TeamRuleView(i, r, False) for i, r in enumerate(stored or [])]
    return TeamRulesView(tuple(rules), str(section.get("unmatched", "keep")), str(version))


def _version(expected: str | int | None) -> int | None:
    if expected is None:
        return None
    text = str(expected).strip().removeprefix("W/").strip('"')
    if not text.isdigit():
        raise Conflict(f"the team rules changed since version {text!r}: reload them")
    return int(text)


def set_rules(
    svc: Services,
    actor: Actor,
    rules: Sequence[dict[str, Any]],
    *,
    expected_version: str | int | None = None,
) -> TeamRulesView:
    """Replace the stored rules with ``rules`` (every worker applies them within about a
    second). ``Invalid`` lists every problem as ``rules[i]...``; with ``expected_version``,
    rules changed since that version are ``Conflict`` and nothing is written."""
    raw = list(rules)
    with audited(svc, actor, "team_rules.update", "team_rules", "stored", rules=len(raw)):
        known = [e.id for e in svc.connectors.all()]
        try:
            compile_rules(raw, known)
        except ConfigError as exc:
            raise Invalid(list(exc.errors)) from None
        wanted = _version(expected_version)
        current = svc.storage.get_setting(TEAM_RULES_SETTING)[1]
        if wanted is not None and wanted != current:
            raise Conflict(f"the team rules changed since version {wanted}: reload them")
        try:
            svc.storage.put_setting(TEAM_RULES_SETTING, raw, current)
        except ConflictError:
            raise Conflict("the team rules changed meanwhile: reload them") from None
        svc.storage.bump_generation()
        if isinstance(svc.teams, LiveTeamRules):
            svc.teams.refresh()
    return get_rules(svc)


def explain(svc: Services, connector_id: str, groups: Sequence[str]) -> Explanation:
    """Which rule decides each of ``groups`` from ``connector_id``, and the resulting teams."""
    if svc.connectors.get(connector_id) is None:
        raise NotFound(f"no connector {connector_id!r}")
    names = [str(g) for g in groups]
    return Explanation(
        connector_id,
        tuple(svc.teams.explain(connector_id, names)),
        svc.teams.map(connector_id, names),
    )
