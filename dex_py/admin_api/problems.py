"""Errors of the admin API as RFC 9457 problem details (``application/problem+json``).

Every refusal the API makes, whatever raised it, leaves as one JSON object with ``type``,
``title``, ``status`` and ``detail`` (RFC 9457 §3.1), and for invalid input an ``errors`` list
of ``{field, message}`` (an extension member, §3.2) naming every problem at once. ``type`` is
``about:blank`` when the HTTP status says it all (§4.2.1: then ``title`` is the status phrase),
otherwise a ``urn:dex-py:problem:<name>`` URI from ``TYPES`` (§3.1.1: a type URI need not be
dereferenceable). Nothing here ever carries a stack trace or a secret: an unexpected error is
logged with an incident id and answered 500 with only that id.

Authentication failures follow RFC 6750 §3: ``WWW-Authenticate: Bearer`` on 401 (with
``error="invalid_token"`` when a token was sent and refused) and on 403
``error="insufficient_scope"``.
"""

from __future__ import annotations

import json
import logging
import secrets
from typing import Any

from flask import request
from werkzeug import Response
from werkzeug.exceptions import HTTPException
from werkzeug.http import HTTP_STATUS_CODES

from dex_py.management.errors import (
    AlreadyExists,
    Conflict,
    Invalid,
    ManagementError,
    NotFound,
    ReadOnly,
)
from dex_py.services import services
from dex_py.storage import error_reason

log = logging.getLogger("dex_py.admin_api")

API_PATH = "/admin/api/v1"  # under the issuer's path
PROBLEM_JSON = "application/problem+json"
REALM = "dex-py admin API"

# Our problem types (RFC 9457 §3.1.1), by name; the OpenAPI document lists them.
TYPES = {
    "invalid-token": "urn:dex-py:problem:invalid-token",
    "insufficient-scope": "urn:dex-py:problem:insufficient-scope",
    "invalid-input": "urn:dex-py:problem:invalid-input",
    "not-found": "urn:dex-py:problem:not-found",
    "already-exists": "urn:dex-py:problem:already-exists",
    "read-only": "urn:dex-py:problem:read-only",
    "conflict": "urn:dex-py:problem:conflict",
    "precondition-failed": "urn:dex-py:problem:precondition-failed",
    "precondition-required": "urn:dex-py:problem:precondition-required",
    "unavailable": "urn:dex-py:problem:unavailable",
    "server-error": "urn:dex-py:problem:server-error",
}
ABOUT_BLANK = "about:blank"


class Problem(Exception):
    """A refusal of the API, rendered by ``problem_response``."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        kind: str = "",
        title: str = "",
        errors: list[tuple[str, str]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.type = TYPES[kind] if kind else ABOUT_BLANK
        self.title = title or HTTP_STATUS_CODES.get(status, "Error")
        self.errors = list(errors or [])
        self.headers = dict(headers or {})


def invalid(errors: list[tuple[str, str]]) -> Problem:
    """400 naming every bad field."""
    detail = "; ".join(f"{field}: {message}" for field, message in errors)
    return Problem(400, detail, kind="invalid-input", title="Invalid input", errors=errors)


def bad_request(detail: str) -> Problem:
    return Problem(400, detail)


def _bearer_header(error: str = "", description: str = "", scope: str = "") -> str:
    params = [f'realm="{REALM}"']
    if error:
        params.append(f'error="{error}"')
    if description:
        params.append('error_description="' + description.replace('"', "'") + '"')
    if scope:
        params.append(f'scope="{scope}"')
    return "Bearer " + ", ".join(params)


def no_token() -> Problem:
    """RFC 6750 §3.1: no credentials at all, so no error code."""
    return Problem(
        401,
        "a bearer access token is required",
        headers={"WWW-Authenticate": _bearer_header()},
    )


def invalid_token(detail: str) -> Problem:
    return Problem(
        401,
        detail,
        kind="invalid-token",
        title="Invalid access token",
        headers={"WWW-Authenticate": _bearer_header("invalid_token", detail)},
    )


def insufficient_scope(detail: str, scope: str) -> Problem:
    return Problem(
        403,
        detail,
        kind="insufficient-scope",
        title="Insufficient scope",
        headers={"WWW-Authenticate": _bearer_header("insufficient_scope", detail, scope)},
    )


def from_management(exc: ManagementError) -> Problem:
    """The answer to a refused management operation."""
    detail = str(exc)
    if isinstance(exc, Invalid):
        return invalid(exc.errors)
    if isinstance(exc, NotFound):
        return Problem(404, detail, kind="not-found", title="Not found")
    if isinstance(exc, AlreadyExists):
        return Problem(409, detail, kind="already-exists", title="Already exists")
    if isinstance(exc, ReadOnly):
        return Problem(409, detail, kind="read-only", title="Read-only (from config.yaml)")
    if isinstance(exc, Conflict):
        return Problem(412, detail, kind="precondition-failed", title="Precondition failed")
    return Problem(409, detail, kind="conflict", title="Conflict")


def from_http(exc: HTTPException) -> Problem:
    """A werkzeug HTTP error (routing, size limits, ...) as a problem; 405 keeps ``Allow``."""
    status = exc.code or 500
    headers: dict[str, str] = {}
    valid = getattr(exc, "valid_methods", None)
    if status == 405 and valid:
        headers["Allow"] = ", ".join(valid)
    detail = {
        404: "no such resource in the admin API",
        405: f"{request.method} is not allowed on this resource",
        413: "the request body is too large",
    }.get(status, exc.description or exc.name)
    return Problem(status, detail, headers=headers)


def unavailable(exc: Exception) -> Problem:
    """503 for a database that does not answer (logged once, like the rest of the server)."""
    incident = secrets.token_hex(6)
    log.error(
        "database unavailable (incident %s) on %s %s: %s",
        incident,
        request.method,
        request.path,
        error_reason(exc),
    )
    return Problem(
        503,
        f"the storage is temporarily unavailable (incident {incident}); try again",
        kind="unavailable",
        title="Service unavailable",
        headers={"Retry-After": "5"},
    )


def unexpected(exc: Exception) -> Problem:
    incident = secrets.token_hex(6)
    log.exception("unhandled error (incident %s) on %s %s", incident, request.method, request.path)
    return Problem(
        500,
        f"internal error (incident {incident})",
        kind="server-error",
        title="Internal server error",
    )


def is_api_request() -> bool:
    """Whether the current request is for the admin API (its errors are problems even when no
    route matched)."""
    prefix = services().issuer_path + API_PATH
    return request.path == prefix or request.path.startswith(prefix + "/")


def problem_response(problem: Problem) -> Response:
    body: dict[str, Any] = {
        "type": problem.type,
        "title": problem.title,
        "status": problem.status,
        "detail": problem.detail,
    }
    if problem.errors:
        body["errors"] = [{"field": f, "message": m} for f, m in problem.errors]
    resp = Response(
        json.dumps(body, separators=(",", ":")), status=problem.status, mimetype=PROBLEM_JSON
    )
    for name, value in problem.headers.items():
        resp.headers[name] = value
    resp.headers["Cache-Control"] = "no-store"
    return resp
