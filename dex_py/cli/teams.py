"""``dex-py teams``: preview how the ``teams`` rules map a user's upstream groups (DESIGN §5).

``dex-py teams explain CONFIG_FILE --connector ldap --group G [--group G ...]`` (or
``--groups a,b,c``; names with commas, like LDAP DNs, need ``--group``) prints, for each group,
the rules that matched and the teams they produced, then the final team list a token would
carry. Nobody has to log in as the user.
"""

from __future__ import annotations

from collections.abc import Sequence

import click

from dex_py.cli.common import exit_with_config_errors, fail, load_config_or_exit
from dex_py.teams import Decision

__all__ = ["format_explanation", "teams"]


def _rows(decision: Decision) -> list[tuple[str, str, str]]:
    """(group, rule, teams) rows for one decision; the group is named on its first row only."""
    rows: list[tuple[str, str, str]] = []
    for m in decision.matches:
        action = "drop " if m.drop else ""
        suffix = " (continue)" if m.continues else ""
        produced = "(dropped)" if m.drop else ", ".join(m.teams) or "(none)"
        rows.append(("", f"{m.label} {action}{m.description}{suffix}", produced))
    if decision.outcome == "kept":
        rows.append(("", "unmatched: keep", decision.group))
    elif decision.outcome == "dropped":
        rows.append(("", "unmatched: drop", "(dropped)"))
    elif decision.outcome == "ignored":
        rows.append(("", "empty group name: ignored", "(none)"))
    first = rows[0]
    rows[0] = (repr(decision.group) if not decision.group else decision.group, first[1], first[2])
    return rows


def format_explanation(decisions: Sequence[Decision], teams: Sequence[str]) -> list[str]:
    """The readable table (GROUP | RULE | TEAMS) and the final team list, as lines."""
    rows = [("GROUP", "RULE", "TEAMS")]
    for decision in decisions:
        rows.extend(_rows(decision))
    width0 = max(len(r[0]) for r in rows)
    width1 = max(len(r[1]) for r in rows)
    lines = [f"{a:<{width0}}  {b:<{width1}}  {c}".rstrip() for a, b, c in rows]
    lines.append("")
    lines.append(f"teams: {', '.join(teams)}" if teams else "teams: (none)")
    return lines


@click.group()
def teams() -> None:
    """Group -> team mapping commands."""


@teams.command("explain")
@click.argument("config_file", type=click.Path(dir_okay=False))
@click.option(
    "--connector", "connector_id", required=True, help="Connector id the groups come from."
)
@click.option("--group", "group_list", multiple=True, help="An upstream group (repeatable).")
@click.option(
    "--groups",
    "groups_csv",
    multiple=True,
    help="Comma-separated upstream groups (use --group for names with commas, like LDAP DNs).",
)
def explain(
    config_file: str, connector_id: str, group_list: tuple[str, ...], groups_csv: tuple[str, ...]
) -> None:
    """Show which rule maps each upstream group, and the resulting teams."""
    from dex_py.config import ConfigError
    from dex_py.teams import connector_ids, load_team_rules

    config = load_config_or_exit(config_file)
    try:
        rules = load_team_rules(config)
    except ConfigError as exc:
        exit_with_config_errors(config_file, exc)
    for warning in rules.warnings:
        click.echo(f"warning: {warning}", err=True)
    known = connector_ids(config)
    if connector_id not in known:
        fail(f"unknown connector id {connector_id!r} (configured: {', '.join(known) or 'none'})")
    groups = list(group_list)
    for csv in groups_csv:
        groups.extend(g.strip() for g in csv.split(",") if g.strip())
    if not groups:
        fail("give at least one --group or --groups")
    if rules.identity:
        click.echo("no teams section: groups pass through unchanged (Dex behaviour)")
    else:
        policy = rules.unmatched_policy(connector_id)
        verb = "kept" if policy == "keep" else "dropped"
        click.echo(f"connector {connector_id}: groups no rule decides are {verb}")
    decisions = rules.explain(connector_id, groups)
    for line in format_explanation(decisions, rules.map(connector_id, groups)):
        click.echo(line)
