"""The HTTP conventions every admin API resource shares: JSON in and out, ETags and
``If-Match`` (RFC 9110 §8.8.3, §13.1.1), and pagination with an opaque cursor.

**Bodies.** Requests with a body must be ``application/json`` (else 415) holding a JSON object
(else 400), ``PATCH`` a JSON merge patch (RFC 7396, ``application/merge-patch+json`` or
``application/json``: ``null`` resets a field); responses are ``application/json`` with
``Cache-Control: no-store``.

**ETags.** An object's ETag is its management view's ``version``, quoted (a strong validator).
``PUT``, ``PATCH`` and ``DELETE`` on an object that has one must send ``If-Match`` with that
ETag (or ``*``): a missing ``If-Match`` is refused with 428 Precondition Required (RFC 6585
§3), so that no automation overwrites a change it never saw; a stale one with 412
Precondition Failed (RFC 9110 §13.1.1). The version is compared by the management operation
itself, inside its write, so a change landing between the read and the write is refused too.

**Pagination.** Lists take ``limit`` (1 to ``MAX_LIMIT``, default ``DEFAULT_LIMIT``) and
``cursor``, and answer ``{"items": [...], "next": <cursor or null>}`` plus a
``Link: <...>; rel="next"`` header (RFC 8288) when there is more. A cursor is opaque to the
client (base64url of the last key returned); a malformed one is a 400.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import urlencode

from flask import request
from werkzeug import Response

from dex_py.admin_api.convert import to_json
from dex_py.admin_api.problems import Problem, bad_request, invalid
from dex_py.services import services

T = TypeVar("T")

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
JSON = "application/json"
MERGE_PATCH = "application/merge-patch+json"


def json_response(body: Any, status: int = 200, *, etag: str = "") -> Response:
    resp = Response(json.dumps(body, separators=(",", ":")), status=status, mimetype=JSON)
    resp.headers["Cache-Control"] = "no-store"
    if etag:
        resp.set_etag(etag)
    return resp


def object_response(view: Any, status: int = 200) -> Response:
    """A management view as the answer, its ``version`` as the ETag."""
    return json_response(to_json(view), status, etag=view.version)


def no_content() -> Response:
    resp = Response(status=204)
    resp.headers["Cache-Control"] = "no-store"
    return resp


def json_body(media_types: tuple[str, ...] = (JSON,)) -> dict[str, Any]:
    """The request's JSON object; 415 for another media type, 400 for malformed JSON."""
    if request.mimetype not in media_types:
        raise Problem(415, f"the request body must be {' or '.join(media_types)}")
    raw = request.get_data(cache=True)
    try:
        body = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise bad_request("the request body is not valid JSON") from None
    except RecursionError:  # nested deeper than the parser's stack
        raise bad_request("the request body is nested too deeply") from None
    if not isinstance(body, dict):
        raise bad_request("the request body must be a JSON object")
    return body


def merge_patch_body() -> dict[str, Any]:
    """The body of a ``PATCH``: a JSON merge patch (RFC 7396), as either media type."""
    return json_body((JSON, MERGE_PATCH))


def optional_json_body() -> dict[str, Any]:
    """For actions whose body is optional: ``{}`` when none was sent."""
    if not request.get_data(cache=True):
        return {}
    return json_body()


# --- ETags -------------------------------------------------------------------------------


def if_match() -> str | None:
    """The version ``If-Match`` asks for (``None`` for ``*``: any current version), handed to
    the management operation, which refuses a stale one (``Conflict``, answered 412)."""
    if "If-Match" not in request.headers:
        raise Problem(
            428,
            "send If-Match with the object's ETag (or *) to change it",
            kind="precondition-required",
            title="Precondition required",
        )
    match = request.if_match
    if match.star_tag:
        return None
    tags = list(match.as_set(include_weak=False))
    if not tags:  # a weak ETag never matches in If-Match (RFC 9110 §13.1.1)
        raise stale()
    if len(tags) != 1:
        raise bad_request("If-Match must hold one strong ETag (or *)")
    return tags[0]


def stale() -> Problem:
    return Problem(
        412,
        "the object changed since it was read (ETag mismatch); read it again",
        kind="precondition-failed",
        title="Precondition failed",
    )


# --- pagination ----------------------------------------------------------------------------


def limit() -> int:
    raw = request.args.get("limit", "")
    if not raw:
        return DEFAULT_LIMIT
    if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= MAX_LIMIT:
        raise invalid([("limit", f"must be an integer from 1 to {MAX_LIMIT}")])
    return int(raw)


def encode_cursor(key: Sequence[str]) -> str:
    data = json.dumps(list(key), separators=(",", ":")).encode("utf-8")
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _decode_cursor(cursor: str) -> tuple[str, ...]:
    try:
        data = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        key = json.loads(data.decode("utf-8"))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        key = None
    if not isinstance(key, list) or not key or not all(isinstance(k, str) for k in key):
        raise invalid([("cursor", "not a cursor from this API")])
    return tuple(key)


def paginate(
    items: Sequence[T],
    key: Callable[[T], tuple[str, ...]],
    render: Callable[[T], Any],
    *,
    descending: bool = False,
) -> Response:
    """One page of ``items`` as the list answer. ``items`` are in their order, ascending by
    ``key`` (or descending): a page starts after the cursor's key, so an object removed
    between two pages shifts nothing."""
    size = limit()
    cursor = request.args.get("cursor", "")
    start = 0
    if cursor:
        after = _decode_cursor(cursor)
        start = next(
            (
                i
                for i, item in enumerate(items)
                if (key(item) < after if descending else key(item) > after)
            ),
            len(items),
        )
    page = items[start : start + size]
    more = start + size < len(items)
    next_cursor = encode_cursor(key(page[-1])) if more and page else ""
    return page_response([render(item) for item in page], next_cursor, size)


def page_response(items: list[Any], next_cursor: str, size: int) -> Response:
    """The answer of a list: ``items``, ``next`` and, when there is more, the ``Link``."""
    resp = json_response({"items": items, "next": next_cursor or None})
    if next_cursor:
        args = {k: v for k, v in request.args.items() if k != "cursor"}
        args.update(limit=str(size), cursor=next_cursor)
        # from the configured issuer, not the request's scheme and host (wrong behind a proxy)
        svc = services()
        origin = svc.issuer[: len(svc.issuer) - len(svc.issuer_path)]
        resp.headers["Link"] = f'<{origin}{request.path}?{urlencode(args)}>; rel="next"'
    return resp


def query_text(name: str, *, max_length: int = 256) -> str:
    """A query parameter that is a plain string ("" when absent)."""
    value = request.args.get(name, "")
    if len(value) > max_length:
        raise invalid([(name, f"at most {max_length} characters")])
    return value


def query_time(name: str) -> datetime | None:
    """A query parameter that is an RFC 3339 time with its offset (``None`` when absent)."""
    value = query_text(name, max_length=64)
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise invalid(
            [(name, "must be an RFC 3339 time with an offset, like 2026-12-04T10:00:00Z")]
        )
    return moment
