"""``/admin/clients``: the OAuth2 clients: list and details."""

from __future__ import annotations

from flask import abort
from werkzeug import Response

from dex_py.admin.login import CLIENT_ID as CONSOLE_CLIENT
from dex_py.admin.render import render_admin
from dex_py.services import Services, services
from dex_py.storage.base import Client, NotFoundError

SECTION = "admin.clients"


def source_of(svc: Services, client_id: str) -> str:
    """``built-in`` (the console's own), ``config`` (config.yaml) or ``stored``."""
    if client_id == CONSOLE_CLIENT:
        return "built-in"
    if any(c.id == client_id for c in svc.config.static_clients):
        return "config"
    return "stored"


def _row(svc: Services, c: Client) -> dict[str, object]:
    return {"client": c, "source": source_of(svc, c.id)}


def list_view() -> Response:
    svc = services()
    clients = sorted(svc.storage.list_clients(), key=lambda c: c.id)
    return render_admin("admin/clients.html", section=SECTION, rows=[_row(svc, c) for c in clients])


def detail_view(client_id: str) -> Response:
    svc = services()
    try:
        client = svc.storage.get_client(client_id)
    except NotFoundError:
        abort(404)
    return render_admin(
        "admin/client.html", section=SECTION, client=client, source=source_of(svc, client.id)
    )
