"""Between JSON and the management layer's dataclasses: views out, specs and changes in.

Out: a view (a frozen dataclass) becomes a JSON object with its field names as keys (snake
case, as OAuth 2.0 metadata in RFC 7591 §2 is spelled), tuples as arrays, datetimes as RFC 3339
UTC strings and durations as seconds.

In: a JSON object becomes a spec dataclass or a mapping of changes, checked field by field
against the dataclass's annotations; unknown fields, wrong types and missing required fields
are reported together (400 with ``errors``), so nothing malformed reaches an operation.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from dex_py.admin_api.problems import invalid

T = TypeVar("T")


def to_json(value: Any) -> Any:
    """A view (or anything inside one) as JSON data."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_json(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, datetime):
        return timestamp(value)
    if isinstance(value, timedelta):
        return int(value.total_seconds())
    if isinstance(value, tuple | list | frozenset | set):
        return [to_json(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): to_json(v) for k, v in value.items()}
    return value


def timestamp(value: datetime) -> str:
    """RFC 3339, in UTC: ``2026-12-04T17:00:00Z`` (``.123456`` when not a whole second)."""
    if value.tzinfo is not None:
        value = value.astimezone(UTC)
    return value.replace(tzinfo=None).isoformat() + "Z"


def _kind(annotation: Any) -> str:
    """The JSON kind of a field from its (string) annotation."""
    text = str(annotation).replace("typing.", "")
    for prefix, kind in (
        ("tuple", "array"),
        ("list", "array"),
        ("dict", "object"),
        ("Mapping", "object"),
        ("bool", "boolean"),
        ("int", "integer"),
        ("str", "string"),
    ):
        if text.startswith(prefix):
            return kind
    raise TypeError(f"no JSON kind for {annotation!r}")


def field_kinds(cls: type) -> dict[str, str]:
    """Field name -> JSON kind (string, boolean, integer, array of strings, object)."""
    return {f.name: _kind(f.type) for f in dataclasses.fields(cls)}


def required_fields(cls: type) -> list[str]:
    return [
        f.name
        for f in dataclasses.fields(cls)
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    ]


def _check(name: str, kind: str, value: Any, errors: list[tuple[str, str]]) -> Any:
    if kind == "array":
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            errors.append((name, "must be an array of strings"))
            return ()
        return tuple(value)
    ok = {
        "string": isinstance(value, str),
        "boolean": isinstance(value, bool),
        "integer": isinstance(value, int) and not isinstance(value, bool),
        "object": isinstance(value, dict),
    }[kind]
    if not ok:
        errors.append((name, f"must be a{'n' if kind[0] in 'aeiou' else ''} {kind}"))
    return value


def spec_from_json(
    cls: type[T], body: Mapping[str, Any], *, fixed: Mapping[str, Any] | None = None
) -> T:
    """A whole spec from ``body`` (fields left out take their defaults). ``fixed`` fields come
    from the URL, not the body (a body naming them differently is refused)."""
    kinds = field_kinds(cls)
    fixed = dict(fixed or {})
    errors: list[tuple[str, str]] = []
    values: dict[str, Any] = {}
    for name, value in body.items():
        if name not in kinds:
            errors.append((name, "unknown field"))
        elif name in fixed:
            if value != fixed[name]:
                errors.append((name, "must match the URL"))
        else:
            values[name] = _check(name, kinds[name], value, errors)
    values.update(fixed)
    errors.extend((name, "required") for name in required_fields(cls) if name not in values)
    if errors:
        raise invalid(errors)
    return cls(**values)


def changes_from_json(
    cls: type, body: Mapping[str, Any], allowed: Collection[str]
) -> dict[str, Any]:
    """The fields of a partial update (``PATCH``, RFC 7396 merge patch): each one of
    ``allowed``, of its type; ``null`` resets a field to its default."""
    kinds = field_kinds(cls)
    defaults = {
        f.name: f.default if f.default is not dataclasses.MISSING else None
        for f in dataclasses.fields(cls)
    }
    errors: list[tuple[str, str]] = []
    changes: dict[str, Any] = {}
    for name, value in body.items():
        if name not in allowed:
            errors.append((name, "unknown field" if name not in kinds else "cannot be changed"))
        elif value is None:
            if defaults.get(name) is None:
                errors.append((name, "cannot be null"))
            else:
                changes[name] = defaults[name]
        else:
            changes[name] = _check(name, kinds[name], value, errors)
    if errors:
        raise invalid(errors)
    if not changes:
        raise invalid([("", "name at least one field to change")])
    return changes
