"""``/admin/teams``: the team rules (config.yaml's read-only, then the stored ones, edited as
YAML and saved through ``dex_py.management.teams``; every worker applies them within about a
second), and "explain a user's teams": an upstream connector and groups in, each group's trace
through the rules and the resulting teams out (DESIGN §5), without logging in as the user."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import yaml
from flask import redirect, request, url_for
from werkzeug import Response

from dex_py.admin import forms
from dex_py.admin.access import current_admin
from dex_py.admin.render import field_errors, render_admin
from dex_py.management import teams as ops
from dex_py.management.errors import Invalid, ManagementError, NotFound
from dex_py.services import services

SECTION = "admin.teams"
MAX_GROUPS = 100
MAX_RULES_TEXT = 64 * 1024


def parse_groups(text: str) -> list[str]:
    """One group per line (LDAP DNs hold commas), blank lines ignored."""
    return [line.strip() for line in text.splitlines() if line.strip()][:MAX_GROUPS]


def parse_rules(text: str) -> list[dict[str, Any]]:
    """The stored rules typed as a YAML list (like ``teams.rules``); ``Invalid`` if not one."""
    if len(text) > MAX_RULES_TEXT:
        raise Invalid([("rules", f"at most {MAX_RULES_TEXT // 1024} KiB")])
    try:
        value = yaml.safe_load(text) if text.strip() else []
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise Invalid([("rules", f"not valid YAML{where}")]) from None
    if not isinstance(value, list) or not all(isinstance(r, dict) for r in value):
        raise Invalid([("rules", "must be a list of rules (mappings)")])
    return value


def rules_text(rules: list[dict[str, Any]]) -> str:
    return yaml.safe_dump(rules, sort_keys=False, default_flow_style=False) if rules else ""


def _page(
    *,
    rules_input: str | None = None,
    version: str | None = None,
    rule_errors: Sequence[tuple[str, str]] = (),
) -> Response:
    svc = services()
    view = ops.get_rules(svc)
    connector = request.args.get("connector", "")[:128]
    groups_text = request.args.get("groups", "")[:8192]
    explanation = None
    problems: list[tuple[str, str]] = []
    if "connector" in request.args:
        try:
            explanation = ops.explain(svc, connector, parse_groups(groups_text))
        except NotFound:
            problems.append(("connector", "No such connector."))
    errors = field_errors([*problems, *(_rule_field(f, m) for f, m in rule_errors)])
    return render_admin(
        "admin/teams.html",
        section=SECTION,
        status=400 if errors else 200,
        rules=view.rules,
        unmatched=view.unmatched,
        stored_text=rules_text(view.stored) if rules_input is None else rules_input,
        version=view.version if version is None else version,
        connectors=[e.id for e in svc.connectors.all()],
        connector=connector,
        groups_text=groups_text,
        explanation=explanation,
        errors=errors,
        notice=forms.notice(),
    )


def _rule_field(field: str, message: str) -> tuple[str, str]:
    """Every problem of the stored rules goes next to the rules' field, naming the rule."""
    return ("rules", message if field in ("", "rules") else f"{field}: {message}")


def list_view() -> Response:
    return _page()


def save_rules_view() -> Response:
    text = request.form.get("rules", "")[: MAX_RULES_TEXT + 1]
    version = forms.text("version", 64)
    try:
        ops.set_rules(
            services(), current_admin().actor, parse_rules(text), expected_version=version or None
        )
    except ManagementError as exc:
        return _page(
            rules_input=text, version=version, rule_errors=forms.errors_of(exc, id_field="rules")
        )
    return redirect(url_for(SECTION, done="saved"), code=303)
