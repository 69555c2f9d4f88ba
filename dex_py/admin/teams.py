"""``/admin/teams``: the team rules, and "explain a user's teams": an upstream connector and
groups in, each group's trace through the rules and the resulting teams out (DESIGN §5), without
logging in as the user."""

from __future__ import annotations

from flask import request
from werkzeug import Response

from dex_py.admin.render import render_admin
from dex_py.services import services

SECTION = "admin.teams"
MAX_GROUPS = 100


def parse_groups(text: str) -> list[str]:
    """One group per line (LDAP DNs hold commas), blank lines ignored."""
    return [line.strip() for line in text.splitlines() if line.strip()][:MAX_GROUPS]


def list_view() -> Response:
    svc = services()
    connector = request.args.get("connector", "")[:128]
    groups_text = request.args.get("groups", "")[:8192]
    decisions = None
    teams: tuple[str, ...] = ()
    errors: dict[str, list[str]] = {}
    if "connector" in request.args:
        groups = parse_groups(groups_text)
        if not connector:
            errors["connector"] = ["Choose a connector."]
        elif svc.connectors.get(connector) is None:
            errors["connector"] = ["No such connector."]
        else:
            decisions = svc.teams.explain(connector, groups)
            teams = svc.teams.map(connector, groups)
    return render_admin(
        "admin/teams.html",
        section=SECTION,
        status=400 if errors else 200,
        connectors=[e.id for e in svc.connectors.all()],
        connector=connector,
        groups_text=groups_text,
        decisions=decisions,
        teams=teams,
        errors=errors,
        identity=svc.teams.identity,
    )
