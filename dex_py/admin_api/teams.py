"""``/teams``: the team rules (config.yaml's, read-only, then the stored ones) and explaining a
user's teams, through ``dex_py.management.teams``. ``PUT /teams/rules`` replaces the stored
rules at once, guarded by the ETag of the rules it was read at."""

from __future__ import annotations

from werkzeug import Response

from dex_py.admin_api.auth import current_actor
from dex_py.admin_api.convert import to_json
from dex_py.admin_api.problems import invalid
from dex_py.admin_api.rest import if_match, json_body, json_response
from dex_py.management import teams as mt
from dex_py.services import services

MAX_GROUPS = 1000


def _rules(view: mt.TeamRulesView) -> Response:
    return json_response(to_json(view), etag=view.version)


def rules_view() -> Response:
    return _rules(mt.get_rules(services()))


def replace_rules_view() -> Response:
    """``{"rules": [...]}``: the stored rules, shaped like ``teams.rules`` in config.yaml."""
    body = json_body()
    errors = [(k, "unknown field") for k in body if k != "rules"]
    rules = body.get("rules")
    if not isinstance(rules, list) or not all(isinstance(r, dict) for r in rules):
        errors.append(("rules", "must be an array of objects"))
    if errors or not isinstance(rules, list):
        raise invalid(errors)
    expected = if_match()
    return _rules(mt.set_rules(services(), current_actor(), rules, expected_version=expected))


def explain_view() -> Response:
    """``{"connector_id": ..., "groups": [...]}``: the teams those upstream groups give."""
    body = json_body()
    errors = [(k, "unknown field") for k in body if k not in ("connector_id", "groups")]
    connector_id, groups = body.get("connector_id"), body.get("groups")
    if not isinstance(connector_id, str) or not connector_id:
        errors.append(("connector_id", "required, a string"))
    if not isinstance(groups, list) or not all(isinstance(g, str) for g in groups):
        errors.append(("groups", "required, an array of strings"))
    elif len(groups) > MAX_GROUPS:
        errors.append(("groups", f"at most {MAX_GROUPS}"))
    if errors or not isinstance(connector_id, str) or not isinstance(groups, list):
        raise invalid(errors)
    return json_response(to_json(mt.explain(services(), connector_id, groups)))
