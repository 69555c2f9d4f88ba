"""Reading the console's forms: lists typed one per line, check boxes, the outcome notices a
page shows after a redirect (``?done=``, a fixed set of texts: nothing from the URL is echoed),
and the errors of a refused change mapped to the form's fields."""

from __future__ import annotations

from flask import request

from dex_py.management.errors import (
    AlreadyExists,
    Conflict,
    Invalid,
    ManagementError,
    NotFound,
    ReadOnly,
)

NOTICES = {
    "created": "Created.",
    "saved": "Saved.",
    "deleted": "Deleted.",
    "revoked": "Revoked.",
    "rotated": "Rotated.",
}
MAX_LINES = 100


def text(name: str, limit: int = 2048) -> str:
    return request.form.get(name, "").strip()[:limit]


def lines(name: str) -> tuple[str, ...]:
    """A textarea with one value per line (blank lines ignored)."""
    raw = request.form.get(name, "")[: 64 * 1024]
    return tuple(line.strip() for line in raw.splitlines() if line.strip())[:MAX_LINES]


def checked(name: str) -> bool:
    return request.form.get(name) in ("on", "true", "1", "yes")


def notice() -> str:
    """The notice of a redirect after a change (``?done=saved``), or ""."""
    return NOTICES.get(request.args.get("done", ""), "")


def errors_of(exc: ManagementError, *, id_field: str = "id") -> list[tuple[str, str]]:
    """``(field, message)`` pairs for a refused change; "" is the form as a whole."""
    if isinstance(exc, Invalid):
        return exc.errors
    if isinstance(exc, AlreadyExists):
        return [(id_field, "is already taken")]
    if isinstance(exc, Conflict):
        return [("", "Someone changed this in the meantime. Reload the page and try again.")]
    if isinstance(exc, ReadOnly):
        return [("", "This comes from config.yaml and is read-only here.")]
    if isinstance(exc, NotFound):
        return [("", "It does not exist (any more).")]
    return [("", str(exc))]
