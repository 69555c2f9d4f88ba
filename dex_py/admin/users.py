"""``/admin/users``: the users of the built-in password database (``staticPasswords`` from
config.yaml, read-only, and the stored ones)."""

from __future__ import annotations

from werkzeug import Response

from dex_py.admin.render import render_admin
from dex_py.services import services

SECTION = "admin.users"


def list_view() -> Response:
    svc = services()
    rows = [
        {
            "email": p.email.lower(),
            "username": p.username,
            "user_id": p.user_id,
            "groups": tuple(p.groups),
            "source": "config",
        }
        for p in svc.config.static_passwords
    ]
    static = {r["email"] for r in rows}
    rows += [
        {
            "email": p.email,
            "username": p.username,
            "user_id": p.user_id,
            "groups": p.groups,
            "source": "stored",
        }
        for p in svc.storage.list_passwords()
        if p.email not in static
    ]
    rows.sort(key=lambda r: str(r["email"]))
    return render_admin(
        "admin/users.html",
        section=SECTION,
        rows=rows,
        password_db=svc.config.enable_password_db,
    )
