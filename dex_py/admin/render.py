"""Rendering console pages: the layout's context (navigation, the admin, CSRF tokens per form),
forms shown again with each error next to its field, and the confirmation step every
destructive action goes through (a GET page with the consequences, then the POST).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from flask import abort, request, url_for
from werkzeug import Response

import dex_py
from dex_py.admin.access import csrf_for, current_admin
from dex_py.admin.forms import errors_of
from dex_py.management.errors import ManagementError, NotFound
from dex_py.services import Services, services
from dex_py.web.pages import render_page

V = TypeVar("V")


def found(get: Callable[[Services, str], V], key: str) -> V:
    """``get(services(), key)`` (a management lookup), or the 404 page when there is none."""
    try:
        return get(services(), key)
    except NotFound:
        abort(404)


# (endpoint, label): the console's sections, in the order of the navigation
NAV: tuple[tuple[str, str], ...] = (
    ("admin.overview", "Overview"),
    ("admin.clients", "Clients"),
    ("admin.connectors", "Connectors"),
    ("admin.users", "Users"),
    ("admin.teams", "Teams"),
    ("admin.sessions", "Sessions"),
    ("admin.keys", "Signing keys"),
    ("admin.audit", "Audit log"),
)


def render_admin(template: str, *, section: str, status: int = 200, **context: Any) -> Response:
    """A console page (``templates/admin/``) inside the layout; ``section`` is the endpoint of
    the navigation entry to highlight."""
    return render_page(
        template,
        status=status,
        admin=current_admin(),
        nav=[(url_for(endpoint), label, endpoint == section) for endpoint, label in NAV],
        csrf_for=csrf_for,
        logout_url=url_for("admin.logout"),
        server_version=dex_py.__version__,
        **context,
    )


_ITEM = re.compile(r"^(?P<field>[A-Za-z_]+)\[(?P<index>\d+)\]$")


def field_errors(errors: Sequence[tuple[str, str]]) -> dict[str, list[str]]:
    """``(field, message)`` pairs grouped by field, for the form's template; an item of a list
    (``redirect_uris[1]``, a textarea with one value per line) goes to its field, naming the
    line."""
    grouped: dict[str, list[str]] = {}
    for field, message in errors:
        item = _ITEM.match(field)
        if item is not None:
            field = item["field"]
            message = f"line {int(item['index']) + 1}: {message}"
        grouped.setdefault(field, []).append(message)
    return grouped


def refused(section: str, messages: Sequence[str]) -> Response:
    """A change that management refused (409), saying why, with a way back."""
    return render_admin(
        "admin/refused.html",
        section=section,
        status=409,
        messages=list(messages),
        back_url=url_for(section),
    )


def confirmed(act: Callable[[], Response], **page: Any) -> Response:
    """A destructive action: on GET its confirmation page (``confirm(**page)``), on POST
    ``act()`` (CSRF was checked by ``access``); a change management refuses shows why
    (``refused``)."""
    if request.method == "GET":
        return confirm(**page)
    try:
        return act()
    except ManagementError as exc:
        return refused(page["section"], [m for _field, m in errors_of(exc)])


def confirm(
    *,
    section: str,
    title: str,
    message: str,
    button: str,
    cancel_url: str,
    details: Mapping[str, str] | None = None,
    choice: tuple[str, str, Sequence[tuple[str, str]], str] | None = None,
) -> Response:
    """The confirmation page of a destructive action: its form posts to this same URL.
    ``choice`` adds one select to the form: (name, label, [(value, text)], preselected)."""
    return render_admin(
        "admin/confirm.html",
        section=section,
        title=title,
        message=message,
        button=button,
        action_url=request.full_path.rstrip("?"),
        cancel_url=cancel_url,
        details=dict(details or {}),
        choice=choice,
    )
