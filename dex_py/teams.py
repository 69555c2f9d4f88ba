"""Group -> team mapping: the one rule engine behind tokens, TokenReview and the proxy (DESIGN §5).

Connectors report upstream groups as they see them (``cn=admins,ou=Groups,dc=example,dc=org``,
``acme:platform``, ``/gitlab/group``). The top-level ``teams`` section (a dex-py addition) maps
them to the team names that tokens carry::

    teams:
      unmatched: keep              # keep (default, Dex behaviour) | drop
      connectors:                  # optional per-connector defaults
        ldap: {unmatched: drop}
      rules:
        - exact: "cn=admins,ou=Groups,dc=example,dc=org"
          connectors: [ldap]       # optional: only for these connector ids
          team: platform-admins
        - regex: '^cn=(?P<name>[^,]+),ou=Groups,dc=example,dc=org$'
          team: 'ldap-${name}'
        - glob: "*-interns"
          drop: true
        - glob: "acme:*"
          teams: [acme-members, everyone]
          continue: true

Semantics, for each upstream group in order:

* Rules are tried top to bottom; a rule with ``connectors`` only applies to those connector ids.
  ``exact`` compares the whole name, ``glob`` is ``fnmatch`` syntax (``*``, ``?``, ``[seq]``,
  ``[!seq]``; case-sensitive; ``*`` also matches ``/``), ``regex`` is Python ``re`` syntax and
  must match the *whole* name (``re.fullmatch``; ``^``/``$`` are allowed but not needed).
* A matching rule with ``continue: true`` adds its teams and evaluation goes on.
* The first matching rule without ``continue`` decides: it adds its teams (``team``/``teams``),
  or nothing (``drop: true``), and evaluation stops. Teams already added by ``continue`` rules stay;
  to remove a group entirely, put its ``drop`` rule before those.
* If no rule decided, the ``unmatched`` policy of the connector (``connectors.<id>.unmatched``,
  else the top-level ``unmatched``) applies: ``keep`` passes the group through as its own team
  name, ``drop`` discards it.
* Team values are templates: ``${0}`` is the whole group name, ``${1}``.. and ``${name}`` are the
  regex's numbered and named groups (regex rules only), ``$$`` is a literal ``$``; any other
  ``$`` is an error. A capture that did not participate expands to ``""``; a team that expands to
  an empty string is omitted.
* The result is de-duplicated, keeping the first occurrence (order-stable). Empty upstream group
  names are ignored.

Without a ``teams`` section the mapping is the identity: groups pass through unchanged, exactly
as in Dex. ``TeamRules.from_config`` validates the whole section (``dex_py.config.teams``) and
raises ``ConfigError`` listing every problem with its key path; unknown keys and unknown
connector ids are errors, because a typo there would silently change who gets which team.

At run time more rules can be kept in storage (the setting ``team-rules``: a list shaped like
``teams.rules``, set by the admin console or API). ``LiveTeamRules`` is the engine a server uses:
the config section's rules first (read-only), then the stored ones, rebuilt in every process
when the storage's change counter moves (``storage.change_watch``). Stored rules keep the
section's ``unmatched`` policies; without a ``teams`` section and without stored rules, groups
pass through unchanged.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dex_py.config.model import ConfigError
from dex_py.config.teams import (
    MAX_PATTERN_LENGTH,
    UNMATCHED_POLICIES,
    Rule,
    compile_rules,
    compile_section,
    connector_ids,
    validate_teams_section,
)
from dex_py.storage.base import Storage
from dex_py.storage.change_watch import ChangeWatch
from dex_py.storage.records import TEAM_RULES_SETTING

if TYPE_CHECKING:
    from dex_py.config import Config

__all__ = [
    "MAX_PATTERN_LENGTH",
    "TEAM_RULES_SETTING",
    "UNMATCHED_POLICIES",
    "Decision",
    "LiveTeamRules",
    "RuleMatch",
    "TeamRules",
    "compile_rules",
    "connector_ids",
    "live_team_rules",
    "load_team_rules",
    "validate_teams_section",
]

log = logging.getLogger(__name__)

_CACHE_SIZE = 4096  # (connector id, group) -> teams; logins repeat the same groups


@dataclass(frozen=True)
class RuleMatch:
    """One rule that matched a group: its position in ``teams.rules`` and what it produced."""

    index: int
    description: str  # e.g. "glob 'acme:*' (connectors: ldap)"
    teams: tuple[str, ...]
    drop: bool = False
    continues: bool = False
    stored: bool = False  # a rule kept in storage (``index`` counts among those)

    @property
    def label(self) -> str:
        return f"stored rules[{self.index}]" if self.stored else f"rules[{self.index}]"


@dataclass(frozen=True)
class Decision:
    """What happened to one upstream group.

    ``outcome`` is ``"rule"`` (the last entry of ``matches`` decided), ``"kept"`` or ``"dropped"``
    (no rule decided; the unmatched policy did, after any ``continue`` matches), or ``"ignored"``
    (an empty group name). ``teams`` is what this group contributed, de-duplicated.
    """

    group: str
    matches: tuple[RuleMatch, ...]
    outcome: str
    teams: tuple[str, ...]

    @property
    def unmatched(self) -> bool:
        return self.outcome in ("kept", "dropped")

    @property
    def decided_by(self) -> RuleMatch | None:
        return self.matches[-1] if self.outcome == "rule" else None


class TeamRules:
    """Compiled ``teams`` rules. Build with ``from_config``; ``map`` runs on every login/refresh."""

    def __init__(
        self,
        rules: Sequence[Rule] = (),
        *,
        unmatched: str = "keep",
        per_connector: Mapping[str, str] | None = None,
        identity: bool = False,
        warnings: Sequence[str] = (),
    ) -> None:
        self._rules = tuple(rules)
        self._unmatched = unmatched
        self._per_connector = dict(per_connector or {})
        self.identity = identity  # no ``teams`` section: Dex behaviour, groups unchanged
        self.warnings = tuple(warnings)  # non-fatal findings, e.g. rules that can never match
        self._applicable: dict[str, tuple[Rule, ...]] = {}
        self._cached = functools.lru_cache(maxsize=_CACHE_SIZE)(self._decide)

    @classmethod
    def from_config(
        cls, section: Mapping[str, Any] | None, *, connector_ids: Iterable[str] = ()
    ) -> TeamRules:
        """Validate and compile a ``teams`` section; ``None`` gives the identity mapping.

        ``connector_ids`` are the configured connector ids; when given, ids the section names
        must be among them. Raises ``ConfigError`` listing every problem (``teams.rules[2].regex:
        invalid regular expression: ...``).
        """
        if section is None:
            return cls(identity=True)
        rules, unmatched, per_connector, warnings = compile_section(section, connector_ids)
        return cls(rules, unmatched=unmatched, per_connector=per_connector, warnings=warnings)

    def unmatched_policy(self, connector_id: str) -> str:
        """``keep`` or ``drop``: what happens to a group no rule decides for ``connector_id``."""
        return self._per_connector.get(connector_id, self._unmatched)

    def _rules_for(self, connector_id: str) -> tuple[Rule, ...]:
        rules = self._applicable.get(connector_id)
        if rules is None:
            rules = tuple(
                r for r in self._rules if r.connectors is None or connector_id in r.connectors
            )
            self._applicable[connector_id] = rules
        return rules

    def _decide(self, connector_id: str, group: str) -> Decision:
        if self.identity:
            return Decision(group, (), "kept", (group,))
        if not group:
            return Decision(group, (), "ignored", ())
        matches: list[RuleMatch] = []
        teams: list[str] = []
        for rule in self._rules_for(connector_id):
            m = rule.match(group)
            if m is None:
                continue
            produced = () if rule.drop else rule.teams_for(group, m)
            matches.append(
                RuleMatch(
                    rule.index, rule.description, produced, rule.drop, rule.continues, rule.stored
                )
            )
            teams.extend(t for t in produced if t not in teams)
            if not rule.continues:
                return Decision(group, tuple(matches), "rule", tuple(teams))
        if self.unmatched_policy(connector_id) == "keep":
            if group not in teams:
                teams.append(group)
            return Decision(group, tuple(matches), "kept", tuple(teams))
        return Decision(group, tuple(matches), "dropped", tuple(teams))

    def map(self, connector_id: str, groups: Sequence[str]) -> tuple[str, ...]:
        """The team names for ``groups`` reported by connector ``connector_id``."""
        if self.identity:
            return tuple(groups)
        if not self._rules and self.unmatched_policy(connector_id) == "keep":
            return tuple(dict.fromkeys(g for g in groups if g))
        seen: dict[str, None] = {}
        for group in groups:
            for team in self._cached(connector_id, group).teams:
                seen[team] = None
        return tuple(seen)

    def explain(self, connector_id: str, groups: Sequence[str]) -> list[Decision]:
        """One ``Decision`` per upstream group (in input order), for previews and debugging."""
        return [self._decide(connector_id, group) for group in groups]


class LiveTeamRules:
    """The team rules of a running server: the config section's, then the stored ones; rebuilt
    when the storage's change counter moves (see the module docstring). Offers what
    ``TeamRules`` offers, on the rules current when asked."""

    def __init__(
        self,
        section: Mapping[str, Any] | None,
        storage: Storage,
        *,
        connector_ids: Iterable[str] = (),
    ) -> None:
        self._section = section
        self._storage = storage
        self._rules: list[Rule] = []
        self._unmatched = "keep"
        self._per_connector: dict[str, str] = {}
        self._warnings: list[str] = []
        if section is not None:
            compiled = compile_section(section, connector_ids)
            self._rules, self._unmatched, self._per_connector, self._warnings = compiled
        self._engine = self._build([])
        self.stored_version = 0  # the version of the stored rules in use (0: none stored yet)
        self._watch = ChangeWatch(storage, self._sync, what="team rules")
        self._watch.force()

    def _build(self, stored: list[Rule]) -> TeamRules:
        if self._section is None and not stored:
            return TeamRules(identity=True)
        return TeamRules(
            [*self._rules, *stored],
            unmatched=self._unmatched,
            per_connector=self._per_connector,
            warnings=self._warnings,
        )

    def _sync(self) -> None:
        raw, version = self._storage.get_setting(TEAM_RULES_SETTING)
        try:
            stored = compile_rules(raw if raw is not None else [])
        except ConfigError as exc:  # written around the validation: keep the rules in use
            log.error("the stored team rules (version %d) are invalid: %s", version, exc)
            return
        self._engine = self._build(stored)
        self.stored_version = version

    def refresh(self) -> None:
        """Pick up a stored change now (after this process made one)."""
        self._watch.force()

    @property
    def current(self) -> TeamRules:
        """The compiled rules in use now (after looking for a change, at most once a second)."""
        self._watch.poll()
        return self._engine

    @property
    def identity(self) -> bool:
        return self.current.identity

    @property
    def warnings(self) -> tuple[str, ...]:
        return self.current.warnings

    def unmatched_policy(self, connector_id: str) -> str:
        return self.current.unmatched_policy(connector_id)

    def map(self, connector_id: str, groups: Sequence[str]) -> tuple[str, ...]:
        return self.current.map(connector_id, groups)

    def explain(self, connector_id: str, groups: Sequence[str]) -> list[Decision]:
        return self.current.explain(connector_id, groups)


def live_team_rules(config: Config, storage: Storage) -> LiveTeamRules:
    """The rules a server runs with: ``config``'s ``teams`` section (raises ``ConfigError`` when
    it is bad) followed by the rules kept in ``storage``."""
    return LiveTeamRules(
        config.extensions.get("teams"), storage, connector_ids=connector_ids(config)
    )


def load_team_rules(config: Config) -> TeamRules:
    """The compiled rules of ``config`` (raises ``ConfigError`` on a bad ``teams`` section)."""
    return TeamRules.from_config(
        config.extensions.get("teams"), connector_ids=connector_ids(config)
    )
