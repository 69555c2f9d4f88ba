"""Parsing and validation of the ``teams`` config section (a dex-py addition; DESIGN §5).

``compile_section`` turns the raw mapping into compiled ``Rule`` objects for ``dex_py.teams``'s
rule engine, collecting every problem with its key path (``teams.rules[2].regex: invalid regular
expression: ...``) into one ``ConfigError``; ``validate_teams_section`` reports them as a list for
``check-config``. The section's syntax and semantics are documented in ``dex_py.teams``.
``compile_rules`` compiles a bare list of rules the same way: the rules kept in storage (added
at run time), whose problems are reported as ``rules[2].regex: ...``.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dex_py.config.model import LOCAL_CONNECTOR_ID, ConfigError

if TYPE_CHECKING:
    from dex_py.config.model import Config

__all__ = [
    "MAX_PATTERN_LENGTH",
    "UNMATCHED_POLICIES",
    "Rule",
    "compile_rules",
    "compile_section",
    "connector_ids",
    "validate_teams_section",
]

UNMATCHED_POLICIES = ("keep", "drop")
MAX_PATTERN_LENGTH = 1000  # a cheap guard against pathological patterns; groups are short
_MATCH_KEYS = ("exact", "glob", "regex")
# The section's keys (the JSON Schema of dex_py.config.schema lists them for editors).
SECTION_KEYS = ("unmatched", "connectors", "rules")
CONNECTOR_KEYS = ("unmatched",)
RULE_KEYS = (*_MATCH_KEYS, "connectors", "team", "teams", "drop", "continue")
_REF = re.compile(r"\$(?:(\$)|\{([^{}]*)\})?")

# A template is a tuple of parts: a literal string, or a capture reference (int index or name).
_Part = str | int | tuple[str]  # tuple[str] wraps a named reference
_Template = tuple[_Part, ...]


@dataclass(frozen=True)
class Rule:
    """One compiled rule of ``teams.rules`` (``index`` is its position there)."""

    index: int
    kind: str
    pattern: str
    match: Callable[[str], re.Match[str] | None]
    connectors: frozenset[str] | None
    templates: tuple[_Template, ...]
    drop: bool
    continues: bool
    stored: bool = False  # kept in storage (added at run time), not from the config file

    @property
    def description(self) -> str:
        text = f"{self.kind} {self.pattern!r}"
        if self.connectors is not None:
            text += f" (connectors: {', '.join(sorted(self.connectors))})"
        return text

    def teams_for(self, group: str, m: re.Match[str] | None) -> tuple[str, ...]:
        out: list[str] = []
        for template in self.templates:
            team = _expand(template, group, m)
            if team and team not in out:
                out.append(team)
        return tuple(out)


def _expand(template: _Template, group: str, m: re.Match[str] | None) -> str:
    if len(template) == 1 and isinstance(template[0], str):
        return template[0]
    parts: list[str] = []
    for part in template:
        if isinstance(part, str):
            parts.append(part)
        elif part == 0 or m is None:
            parts.append(group)
        else:
            parts.append(m.group(part if isinstance(part, int) else part[0]) or "")
    return "".join(parts)


def connector_ids(config: Config) -> list[str]:
    """Every connector id the server will open: config connectors, plus ``local`` (password DB)."""
    ids = [c.id for c in config.connectors if c.id]
    if config.enable_password_db:
        ids.append(LOCAL_CONNECTOR_ID)
    return ids


def validate_teams_section(config: Config) -> list[tuple[str, str]]:
    """Every problem in ``config``'s ``teams`` section as ``(key path, message)``; [] if fine."""
    section = config.extensions.get("teams")
    if section is None:
        return []
    try:
        compile_section(section, connector_ids(config))
    except ConfigError as exc:
        return list(exc.errors)
    return []


def compile_section(
    section: Any, known_ids: Iterable[str] = ()
) -> tuple[list[Rule], str, dict[str, str], list[str]]:
    """Validate and compile a (non-``None``) ``teams`` section: the rules, the top-level
    ``unmatched`` policy, the per-connector policies and warnings. Raises ``ConfigError`` listing
    every problem; ``known_ids``, when given, are the only ids the section may name."""
    parser = _SectionParser(frozenset(known_ids))
    rules, unmatched, per_connector = parser.parse(section)
    if parser.errors:
        raise ConfigError(errors=parser.errors)
    return rules, unmatched, per_connector, _shadowed(rules)


def _glob_matcher(pattern: str) -> Callable[[str], re.Match[str] | None]:
    return re.compile(fnmatch.translate(pattern)).match  # translate() anchors with \Z


def _exact_matcher(pattern: str) -> Callable[[str], re.Match[str] | None]:
    return re.compile(re.escape(pattern)).fullmatch


def _shadowed(rules: Sequence[Rule]) -> list[str]:
    """Warnings for ``exact`` rules that an earlier deciding rule always takes first."""
    found: list[str] = []
    for j, later in enumerate(rules):
        if later.kind != "exact":
            continue
        for earlier in rules[:j]:
            covers = earlier.connectors is None or (
                later.connectors is not None and later.connectors <= earlier.connectors
            )
            if not earlier.continues and covers and earlier.match(later.pattern):
                found.append(
                    f"teams.rules[{later.index}]: never matches: rules[{earlier.index}] "
                    f"({earlier.description}) decides {later.pattern!r} first"
                )
                break
    return found


def compile_rules(raw_rules: Any, known_ids: Iterable[str] = ()) -> list[Rule]:
    """Validate and compile a list of stored rules (each shaped like a ``teams.rules`` entry),
    marked ``stored``. Raises ``ConfigError`` listing every problem as ``rules[i]...``."""
    parser = _SectionParser(frozenset(known_ids), rules_path="rules", stored=True)
    if not isinstance(raw_rules, list):
        raise ConfigError(errors=[("rules", "must be a list of rules")])
    rules = [r for i, raw in enumerate(raw_rules) if (r := parser.rule(i, raw)) is not None]
    if parser.errors:
        raise ConfigError(errors=parser.errors)
    return rules


class _SectionParser:
    """Turns a raw ``teams`` mapping into compiled rules, collecting every error."""

    def __init__(
        self, known_ids: frozenset[str], *, rules_path: str = "teams.rules", stored: bool = False
    ) -> None:
        self.known_ids = known_ids
        self.rules_path = rules_path
        self.stored = stored
        self.errors: list[tuple[str, str]] = []

    def error(self, path: str, message: str) -> None:
        self.errors.append((path, message))

    def unknown_keys(self, data: Mapping[Any, Any], path: str, known: Sequence[str]) -> None:
        for key in data:
            if key not in known:
                self.error(f"{path}.{key}", f"unknown key (expected one of: {', '.join(known)})")

    def policy(self, data: Mapping[Any, Any], path: str, default: str) -> str:
        value = data.get("unmatched", default)
        if value not in UNMATCHED_POLICIES:
            self.error(f"{path}.unmatched", f"must be keep or drop, not {value!r}")
            return default
        return str(value)

    def connector_id(self, value: Any, path: str) -> str | None:
        if not isinstance(value, str) or not value:
            self.error(path, "must be a non-empty connector id")
            return None
        if self.known_ids and value not in self.known_ids:
            known = ", ".join(sorted(self.known_ids))
            self.error(path, f"unknown connector id {value!r} (configured: {known})")
            return None
        return value

    def parse(self, section: Any) -> tuple[list[Rule], str, dict[str, str]]:
        if not isinstance(section, Mapping):
            self.error("teams", "must be a mapping")
            return [], "keep", {}
        self.unknown_keys(section, "teams", SECTION_KEYS)
        unmatched = self.policy(section, "teams", "keep")
        per_connector: dict[str, str] = {}
        raw_connectors = section.get("connectors") or {}
        if not isinstance(raw_connectors, Mapping):
            self.error("teams.connectors", "must be a mapping of connector id to settings")
            raw_connectors = {}
        for cid, settings in raw_connectors.items():
            path = f"teams.connectors.{cid}"
            if self.connector_id(cid, path) is None:
                continue
            if not isinstance(settings, Mapping):
                self.error(path, "must be a mapping (unmatched: keep|drop)")
                continue
            self.unknown_keys(settings, path, CONNECTOR_KEYS)
            if "unmatched" in settings:
                per_connector[cid] = self.policy(settings, path, unmatched)
        raw_rules = section.get("rules") or []
        if not isinstance(raw_rules, list):
            self.error("teams.rules", "must be a list of rules")
            raw_rules = []
        rules = [r for i, raw in enumerate(raw_rules) if (r := self.rule(i, raw)) is not None]
        return rules, unmatched, per_connector

    def rule(self, index: int, raw: Any) -> Rule | None:
        path = f"{self.rules_path}[{index}]"
        if not isinstance(raw, Mapping):
            self.error(path, "must be a mapping")
            return None
        before = len(self.errors)
        self.unknown_keys(raw, path, RULE_KEYS)
        kind, pattern, matcher, compiled = self.matcher(raw, path)
        scope = self.scope(raw, path)
        drop = self.flag(raw, "drop", path)
        continues = self.flag(raw, "continue", path)
        raw_teams = self.team_values(raw, path, drop)
        if drop and continues:
            self.error(f"{path}.continue", "a drop rule always stops; remove continue")
        templates = []
        for key, value in raw_teams:
            template = self.template(value, f"{path}.{key}", compiled, kind)
            if template is not None:
                templates.append(template)
        if len(self.errors) > before or matcher is None:
            return None
        return Rule(
            index, kind, pattern, matcher, scope, tuple(templates), drop, continues, self.stored
        )

    def matcher(
        self, raw: Mapping[Any, Any], path: str
    ) -> tuple[str, str, Callable[[str], re.Match[str] | None] | None, re.Pattern[str] | None]:
        given = [k for k in _MATCH_KEYS if k in raw]
        if len(given) != 1:
            which = "none" if not given else " and ".join(given)
            self.error(path, f"needs exactly one of exact, glob or regex ({which} given)")
            return "", "", None, None
        kind = given[0]
        pattern = raw[kind]
        at = f"{path}.{kind}"
        if not isinstance(pattern, str) or not pattern:
            self.error(at, "must be a non-empty string")
            return kind, "", None, None
        if len(pattern) > MAX_PATTERN_LENGTH:
            self.error(at, f"longer than {MAX_PATTERN_LENGTH} characters")
            return kind, pattern, None, None
        if kind == "exact":
            return kind, pattern, _exact_matcher(pattern), None
        if kind == "glob":
            return kind, pattern, _glob_matcher(pattern), None
        try:
            compiled = re.compile(pattern)
        except re.error as exc:
            self.error(at, f"invalid regular expression: {exc}")
            return kind, pattern, None, None
        return kind, pattern, compiled.fullmatch, compiled

    def scope(self, raw: Mapping[Any, Any], path: str) -> frozenset[str] | None:
        if "connectors" not in raw:
            return None
        value = raw["connectors"]
        at = f"{path}.connectors"
        if not isinstance(value, list) or not value:
            self.error(at, "must be a non-empty list of connector ids")
            return None
        ids = [self.connector_id(v, f"{at}[{j}]") for j, v in enumerate(value)]
        return frozenset(i for i in ids if i is not None)

    def flag(self, raw: Mapping[Any, Any], key: str, path: str) -> bool:
        value = raw.get(key, False)
        if not isinstance(value, bool):
            self.error(f"{path}.{key}", f"must be true or false, not {value!r}")
            return False
        return value

    def team_values(self, raw: Mapping[Any, Any], path: str, drop: bool) -> list[tuple[str, Any]]:
        given = [k for k in ("team", "teams") if k in raw] + (["drop"] if drop else [])
        if len(given) != 1:
            which = "none" if not given else " and ".join(given)
            self.error(path, f"needs exactly one of team, teams or drop: true ({which} given)")
            return []
        if drop:
            return []
        if "team" in raw:
            return [("team", raw["team"])]
        values = raw["teams"]
        if not isinstance(values, list) or not values:
            self.error(f"{path}.teams", "must be a non-empty list of team names")
            return []
        return [(f"teams[{j}]", v) for j, v in enumerate(values)]

    def template(
        self, value: Any, path: str, compiled: re.Pattern[str] | None, kind: str
    ) -> _Template | None:
        if not isinstance(value, str):
            self.error(path, f"must be a string, not {value!r}")
            return None
        if not value.strip():
            self.error(path, "must not be empty")
            return None
        parts: list[_Part] = []
        pos = 0
        ok = True
        for m in _REF.finditer(value):
            parts.append(value[pos : m.start()])
            pos = m.end()
            if m.group(1):  # "$$"
                parts.append("$")
                continue
            ref = self.reference(m.group(2), path, compiled, kind)
            if ref is None:
                ok = False
            else:
                parts.append(ref)
        parts.append(value[pos:])
        if not ok:
            return None
        merged: list[_Part] = []
        for part in parts:
            if isinstance(part, str) and merged and isinstance(merged[-1], str):
                merged[-1] += part
            elif part != "":
                merged.append(part)
        return tuple(merged) or ("",)

    def reference(
        self, name: str | None, path: str, compiled: re.Pattern[str] | None, kind: str
    ) -> _Part | None:
        if name is None:
            self.error(path, "'$' must be written '$$' or start a capture like ${1} or ${name}")
            return None
        if name.isascii() and name.isdigit():
            number = int(name)
            if number == 0:
                return 0
            if compiled is None:
                self.error(path, f"${{{name}}}: captures other than ${{0}} need a regex rule")
                return None
            if number > compiled.groups:
                self.error(path, f"${{{name}}}: the regex has only {compiled.groups} group(s)")
                return None
            return number
        if not name.isidentifier():
            self.error(path, f"${{{name}}}: not a group number or name")
            return None
        if compiled is None:
            self.error(path, f"${{{name}}}: named captures need a regex rule ({kind} given)")
            return None
        if name not in compiled.groupindex:
            self.error(path, f"${{{name}}}: the regex has no group named {name!r}")
            return None
        return (name,)
