"""The vocabulary the admin API's OpenAPI document (``openapi``) is written in: references,
responses (problem responses, ETag and ``Link`` headers, pages), parameters, the components
every operation shares (the bearer security scheme, ``limit``/``cursor``/``If-Match``, the
RFC 9457 problem schema), and JSON Schemas derived from the management layer's dataclasses so
that the document describes exactly the fields the views answer with.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from dex_py.admin_api.problems import ABOUT_BLANK, PROBLEM_JSON, TYPES
from dex_py.admin_api.rest import DEFAULT_LIMIT, MAX_LIMIT
from dex_py.config.admin import ADMIN_SCOPE

Schema = dict[str, Any]


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def _problem_schema() -> Schema:
    return {
        "type": "object",
        "description": "RFC 9457 problem details.",
        "required": ["type", "title", "status", "detail"],
        "properties": {
            "type": {"type": "string", "enum": [ABOUT_BLANK, *TYPES.values()]},
            "title": {"type": "string"},
            "status": {"type": "integer", "minimum": 400, "maximum": 599},
            "detail": {"type": "string"},
            "errors": {
                "type": "array",
                "description": "For invalid input: every bad field at once.",
                "items": {
                    "type": "object",
                    "required": ["field", "message"],
                    "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
                    "additionalProperties": False,
                },
            },
        },
        "additionalProperties": False,
    }


_AUTH_HEADER = {
    "WWW-Authenticate": {
        "description": "RFC 6750 §3: the Bearer challenge.",
        "schema": {"type": "string", "pattern": "^Bearer "},
    }
}
_NO_STORE = {"Cache-Control": {"schema": {"type": "string", "const": "no-store"}}}

# status -> (component name, description, extra headers)
PROBLEMS: dict[int, tuple[str, str, dict[str, Any]]] = {
    400: ("BadRequest", "Malformed request or invalid input (with `errors`).", {}),
    401: ("Unauthorized", "No bearer token, or an invalid, expired or revoked one.", _AUTH_HEADER),
    403: ("Forbidden", f"The token lacks the scope `{ADMIN_SCOPE}`.", _AUTH_HEADER),
    404: ("NotFound", "No such object or resource.", {}),
    405: (
        "MethodNotAllowed",
        "Method not allowed on this resource.",
        {"Allow": {"schema": {"type": "string"}}},
    ),
    409: ("Conflict", "The id is taken, or the object is read-only (from config.yaml).", {}),
    412: ("PreconditionFailed", "`If-Match` does not match the object's ETag.", {}),
    413: ("PayloadTooLarge", "The request body is too large.", {}),
    415: ("UnsupportedMediaType", "The request body is not `application/json`.", {}),
    428: ("PreconditionRequired", "`If-Match` is required to change an object.", {}),
    503: (
        "Unavailable",
        "The storage is temporarily unavailable.",
        {"Retry-After": {"schema": {"type": "string"}}},
    ),
}


def _problem_response(description: str, headers: dict[str, Any]) -> Schema:
    return {
        "description": description,
        "headers": {**_NO_STORE, **headers},
        "content": {PROBLEM_JSON: {"schema": ref("Problem")}},
    }


def problems(*statuses: int, public: bool = False) -> dict[str, Any]:
    """References to the problem responses for ``statuses``, plus those every authenticated
    call can get (only 405 for a ``public`` one)."""
    wanted = sorted({405, *statuses} if public else {400, 401, 403, 405, 503, *statuses})
    return {str(s): {"$ref": f"#/components/responses/{PROBLEMS[s][0]}"} for s in wanted}


def ok(description: str, schema: Schema | None, *, status: int = 200, etag: bool = False) -> Schema:
    headers: dict[str, Any] = dict(_NO_STORE)
    if etag:
        headers["ETag"] = {
            "description": "The object's version; send it back in `If-Match` to change it.",
            "schema": {"type": "string", "pattern": '^"[^"]+"$'},
        }
    out: Schema = {"description": description, "headers": headers}
    if schema is not None:
        out["content"] = {"application/json": {"schema": schema}}
    return {str(status): out}


def page_of(item: str) -> Schema:
    return {
        "type": "object",
        "required": ["items", "next"],
        "properties": {
            "items": {"type": "array", "items": ref(item)},
            "next": {
                "type": ["string", "null"],
                "description": "The cursor of the next page; null on the last page.",
            },
        },
        "additionalProperties": False,
    }


def list_responses(item: str) -> dict[str, Any]:
    page = ok(f"A page of {item} objects.", page_of(item))
    page["200"]["headers"]["Link"] = {
        "description": 'RFC 8288: `<url>; rel="next"` when there is a next page.',
        "schema": {"type": "string"},
    }
    return page


def body(schema: Schema, *, required: bool = True) -> Schema:
    return {"required": required, "content": {"application/json": {"schema": schema}}}


PAGINATION = [{"$ref": "#/components/parameters/limit"}, {"$ref": "#/components/parameters/cursor"}]
IF_MATCH = {"$ref": "#/components/parameters/ifMatch"}


def path_param(name: str, description: str, schema: Schema | None = None) -> Schema:
    """A path segment: never a ``/`` (it would be another path; the router answers 404)."""
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": description,
        "schema": {"pattern": "^[^/]+$", **(schema or {"type": "string", "minLength": 1})},
    }


def query_param(name: str, description: str, schema: Schema) -> Schema:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema,
    }


def components(schemas: dict[str, Schema]) -> Schema:
    return {
        "securitySchemes": {
            "adminToken": {
                "type": "http",
                "scheme": "bearer",
                "bearerFormat": "JWT",
                "description": (
                    "An access token from the token endpoint's client_credentials grant with "
                    f"`scope={ADMIN_SCOPE}`, for a client listed in the config's "
                    "`admin.clients`."
                ),
            }
        },
        "parameters": {
            "limit": query_param(
                "limit",
                "Page size.",
                {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT},
            ),
            "cursor": query_param(
                "cursor",
                "Opaque: the `next` of the previous page.",
                {"type": "string", "minLength": 1, "maxLength": 512},
            ),
            "ifMatch": {
                "name": "If-Match",
                "in": "header",
                "required": True,
                "description": (
                    "The object's ETag as last read (or `*`). Missing: 428; stale: 412."
                ),
                "schema": {"type": "string", "minLength": 1},
            },
        },
        "responses": {
            name: _problem_response(description, headers)
            for name, description, headers in PROBLEMS.values()
        },
        "schemas": {"Problem": _problem_schema(), **schemas},
    }


# --- object schemas, from the management layer's dataclasses --------------------------------

_SCALARS: dict[str, Schema] = {
    "str": {"type": "string"},
    "bool": {"type": "boolean"},
    "int": {"type": "integer"},
    "float": {"type": "number"},
    "datetime": {"type": "string", "format": "date-time"},
    "timedelta": {"type": "integer", "description": "seconds"},
    "tuple[str, ...]": {"type": "array", "items": {"type": "string"}},
    "dict[str, Any]": {"type": "object"},
    "dict": {"type": "object"},
}


def _field_schema(annotation: str) -> Schema:
    optional = annotation.endswith(" | None")
    schema = dict(_SCALARS[annotation.removesuffix(" | None")])
    if optional:
        schema["type"] = [schema["type"], "null"]
    return schema


def nullable(schema: Schema) -> Schema:
    """``schema`` or ``null``."""
    return {"oneOf": [schema, {"type": "null"}]}


def view_schema(
    cls: type, description: str, *, extra: tuple[str, ...] = (), **fields: Schema
) -> Schema:
    """An answer's object: every field of the view ``cls`` (and ``extra`` ones), all present;
    ``fields`` override the schema derived from a field's annotation."""
    props = {
        f.name: fields.get(f.name) or _field_schema(str(f.type)) for f in dataclasses.fields(cls)
    }
    props.update((name, fields[name]) for name in extra)
    return {
        "type": "object",
        "description": description,
        "required": list(props),
        "properties": props,
        "additionalProperties": False,
    }


def input_schema(
    cls: type,
    description: str,
    fields: dict[str, Schema],
    *,
    only: tuple[str, ...] | None = None,
    required: tuple[str, ...] = (),
    nullable: bool = False,
) -> Schema:
    """A request body's object for the spec ``cls`` (its fields, or ``only`` these); with
    ``nullable``, a merge patch where ``null`` resets a field with a default."""
    props: dict[str, Schema] = {}
    for f in dataclasses.fields(cls):
        if only is not None and f.name not in only:
            continue
        schema = dict(fields.get(f.name) or _field_schema(str(f.type)))
        has_default = f.default is not dataclasses.MISSING
        if nullable and has_default:
            schema = {"oneOf": [schema, {"type": "null"}]}
        props[f.name] = schema
    out: Schema = {
        "type": "object",
        "description": description,
        "properties": props,
        "additionalProperties": False,
    }
    if required:
        out["required"] = list(required)
    if nullable:
        out["minProperties"] = 1
    return out
