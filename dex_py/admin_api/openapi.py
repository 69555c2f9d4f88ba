"""The OpenAPI 3.1 document of the admin API, built from Python data (never hand-written JSON),
served at ``{issuer}/admin/api/v1/openapi.json`` without authentication (it holds no secret).

It describes every path of ``ROUTES`` with its parameters, request bodies (JSON Schema 2020-12
as OpenAPI 3.1 uses it), every response it can give, the problem responses included, and the
bearer security scheme. It is precise enough to drive a property-based fuzzer
(``tests/admin_api/test_fuzz.py`` runs ``schemathesis`` against it): the bodies it describes
are the bodies the views accept, and every answer of a view matches one of its responses.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from werkzeug import Response

from dex_py.admin_api.problems import ABOUT_BLANK, API_PATH, PROBLEM_JSON, TYPES
from dex_py.admin_api.clients import CHANGEABLE as CLIENT_CHANGEABLE
from dex_py.admin_api.rest import DEFAULT_LIMIT, MAX_LIMIT, MERGE_PATCH, json_response
from dex_py.config.admin import ADMIN_SCOPE
from dex_py.config.model import GRANT_TYPES
from dex_py.config.validation import CLIENT_AUTH_METHODS
from dex_py.management import clients as mc
from dex_py.management import keys as mk
from dex_py.management import sessions as ms
from dex_py.management import users as mu
from dex_py.management.client_rules import ClientSpec
from dex_py.services import services

Schema = dict[str, Any]

VERSION = "1.0.0"
SECURITY = [{"adminToken": []}]


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


def problems(*statuses: int) -> dict[str, Any]:
    """References to the problem responses for ``statuses``, plus those every call can get."""
    wanted = sorted({400, 401, 403, 405, 503, *statuses})
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
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": description,
        "schema": schema or {"type": "string", "minLength": 1},
    }


def query_param(name: str, description: str, schema: Schema) -> Schema:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema,
    }


def _components(schemas: dict[str, Schema]) -> Schema:
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
    *,
    only: tuple[str, ...] | None = None,
    required: tuple[str, ...] = (),
    nullable: bool = False,
    **fields: Schema,
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


_TEXT = {"type": "string", "maxLength": 2000}
_URI_LIST = {"type": "array", "maxItems": 100, "items": {"type": "string", "maxLength": 2000}}
_NAME_LIST = {
    "type": "array",
    "maxItems": 100,
    "uniqueItems": True,
    "items": {"type": "string", "minLength": 1, "maxLength": 200},
}
CLIENT_ID = {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9._~-]{0,127}$"}
_CLIENT_INPUT: dict[str, Schema] = {
    "id": CLIENT_ID,
    "name": {"type": "string", "maxLength": 200},
    "redirect_uris": _URI_LIST,
    "post_logout_redirect_uris": _URI_LIST,
    "trusted_peers": {"type": "array", "maxItems": 100, "items": CLIENT_ID},
    "logo_url": _TEXT,
    "allowed_connectors": _NAME_LIST,
    "allowed_groups": _NAME_LIST,
    "grant_types": {
        "type": "array",
        "maxItems": len(GRANT_TYPES),
        "uniqueItems": True,
        "items": {"type": "string", "enum": list(GRANT_TYPES)},
    },
    "token_endpoint_auth_method": {"type": "string", "enum": ["", *CLIENT_AUTH_METHODS]},
    "jwks": {
        "type": "string",
        "maxLength": 20000,
        "description": "A JWK Set (public keys) as JSON text.",
    },
    "jwks_uri": _TEXT,
    "backchannel_logout_uri": _TEXT,
}
_USER_INPUT: dict[str, Schema] = {
    "email": {"type": "string", "format": "email", "maxLength": 254},
    "username": {"type": "string", "minLength": 1, "maxLength": 200},
    "password": {"type": "string", "minLength": 1, "maxLength": 72, "writeOnly": True},
    "user_id": {"type": "string", "maxLength": 200},
    "groups": _NAME_LIST,
}
_SESSION_FILTERS = [
    query_param(
        "sub",
        "A user, as the `sub` of their tokens.",
        {"type": "string", "minLength": 1, "maxLength": 256},
    ),
    query_param(
        "user_id",
        "A user id (with `connector_id`).",
        {"type": "string", "minLength": 1, "maxLength": 256},
    ),
    query_param(
        "connector_id",
        "The user's connector (with `user_id`).",
        {"type": "string", "maxLength": 256},
    ),
    query_param(
        "client_id",
        "Only those a client got tokens in.",
        {"type": "string", "minLength": 1, "maxLength": 256},
    ),
]
_REVOKE_USER = {
    "oneOf": [
        {
            "type": "object",
            "required": ["sub"],
            "properties": {"sub": {"type": "string", "minLength": 1, "maxLength": 512}},
            "additionalProperties": False,
        },
        {
            "type": "object",
            "required": ["user_id", "connector_id"],
            "properties": {
                "user_id": {"type": "string", "minLength": 1, "maxLength": 256},
                "connector_id": {"type": "string", "maxLength": 256},
            },
            "additionalProperties": False,
        },
    ]
}

SCHEMAS: dict[str, Schema] = {
    "Client": view_schema(mc.ClientView, "A client (never its secret)."),
    "ClientCreated": view_schema(
        mc.ClientView,
        "A new client, with its secret shown this once (null: it has none).",
        secret={"type": ["string", "null"]},
        extra=("secret",),
    ),
    "ClientInput": input_schema(
        ClientSpec, "A client's settings; `id` empty or left out: generated.", **_CLIENT_INPUT
    ),
    "ClientPatch": input_schema(
        ClientSpec,
        "Settings to change (RFC 7396).",
        only=CLIENT_CHANGEABLE,
        nullable=True,
        **_CLIENT_INPUT,
    ),
    "User": view_schema(mu.UserView, "A password user (never the password or its hash)."),
    "UserInput": input_schema(
        mu.UserSpec,
        "A new password user.",
        required=("email", "username", "password"),
        **_USER_INPUT,
    ),
    "UserReplace": input_schema(
        mu.UserSpec,
        "Every changeable setting; without `password` it stays.",
        only=mu.CHANGEABLE,
        required=("username",),
        **_USER_INPUT,
    ),
    "UserPatch": input_schema(
        mu.UserSpec,
        "Settings to change (RFC 7396).",
        only=mu.CHANGEABLE,
        nullable=True,
        **_USER_INPUT,
    ),
    "Session": view_schema(ms.SessionView, "An SSO session (never its cookie secret)."),
    "RefreshToken": view_schema(ms.RefreshTokenView, "A refresh token chain (never the token)."),
    "RevokeUser": _REVOKE_USER,
    "RevokedUser": view_schema(ms.RevokedUser, "What was revoked."),
    "Key": view_schema(mk.KeyView, "A published signing key (public part only)."),
    "KeySet": view_schema(
        mk.KeySet,
        "The signing keys, their schedule and the published JWKS.",
        keys={"type": "array", "items": ref("Key")},
    ),
}


def _op(op_id: str, summary: str, responses: dict[str, Any], **extra: Any) -> Schema:
    return {"operationId": op_id, "summary": summary, "responses": responses, **extra}


def _object_paths(
    name: str, plural: str, param: Schema, *, create: str, replace: str, patch: str
) -> dict[str, Any]:
    """The list/create and get/put/patch/delete operations of one kind of object."""
    one = {"parameters": [param]}
    return {
        f"/{plural}": {
            "get": _op(
                f"list{name}s",
                f"List {plural}.",
                {**list_responses(name), **problems()},
                parameters=PAGINATION,
            ),
            "post": _op(
                f"create{name}",
                f"Create a {name.lower()}.",
                {
                    **ok(
                        f"The new {name.lower()}.",
                        ref(create if create.endswith("Created") else name),
                        status=201,
                        etag=True,
                    ),
                    **problems(409, 413, 415),
                },
                requestBody=body(ref(create.replace("Created", "Input"))),
            ),
        },
        f"/{plural}/{{{param['name']}}}": {
            **one,
            "get": _op(
                f"get{name}",
                f"Read a {name.lower()}.",
                {**ok(f"The {name.lower()}.", ref(name), etag=True), **problems(404)},
            ),
            "put": _op(
                f"replace{name}",
                f"Replace a {name.lower()}'s settings.",
                {
                    **ok(f"The {name.lower()}.", ref(name), etag=True),
                    **problems(404, 409, 412, 413, 415, 428),
                },
                parameters=[IF_MATCH],
                requestBody=body(ref(replace)),
            ),
            "patch": _op(
                f"patch{name}",
                f"Change some of a {name.lower()}'s settings.",
                {
                    **ok(f"The {name.lower()}.", ref(name), etag=True),
                    **problems(404, 409, 412, 413, 415, 428),
                },
                parameters=[IF_MATCH],
                requestBody={
                    "required": True,
                    "content": {
                        MERGE_PATCH: {"schema": ref(patch)},
                        "application/json": {"schema": ref(patch)},
                    },
                },
            ),
            "delete": _op(
                f"delete{name}",
                f"Delete a {name.lower()}.",
                {**ok("Deleted.", None, status=204), **problems(404, 409, 412, 428)},
                parameters=[IF_MATCH],
            ),
        },
    }


PATHS: dict[str, Any] = {
    "/openapi.json": {
        "get": _op(
            "getOpenAPI",
            "This document.",
            {**ok("The OpenAPI 3.1 document.", {"type": "object"}), **problems()},
            security=[],
        )
    },
    **_object_paths(
        "Client",
        "clients",
        path_param("client_id", "The client's id.", CLIENT_ID),
        create="ClientCreated",
        replace="ClientInput",
        patch="ClientPatch",
    ),
    **_object_paths(
        "User",
        "users",
        path_param(
            "email",
            "The user's e-mail address.",
            {"type": "string", "minLength": 1, "maxLength": 254},
        ),
        create="User",
        replace="UserReplace",
        patch="UserPatch",
    ),
    "/sessions": {
        "get": _op(
            "listSessions",
            "List SSO sessions (of a user, or a client).",
            {**list_responses("Session"), **problems()},
            parameters=[*_SESSION_FILTERS, *PAGINATION],
        ),
    },
    "/sessions/{session_id}": {
        "parameters": [path_param("session_id", "The session's id (`sid`).")],
        "delete": _op(
            "revokeSession",
            "End a session (with back-channel logout).",
            {
                **ok(
                    "Ended.",
                    {
                        "type": "object",
                        "required": ["logout_deliveries"],
                        "properties": {"logout_deliveries": {"type": "integer", "minimum": 0}},
                        "additionalProperties": False,
                    },
                ),
                **problems(404),
            },
        ),
    },
    "/sessions/revoke-user": {
        "post": _op(
            "revokeUser",
            "End every session and refresh token of one user.",
            {**ok("What was revoked.", ref("RevokedUser")), **problems(413, 415)},
            requestBody=body(ref("RevokeUser")),
        )
    },
    "/refresh-tokens": {
        "get": _op(
            "listRefreshTokens",
            "List refresh tokens (of a user, or a client).",
            {**list_responses("RefreshToken"), **problems()},
            parameters=[*_SESSION_FILTERS, *PAGINATION],
        ),
    },
    "/refresh-tokens/{token_id}": {
        "parameters": [path_param("token_id", "The refresh token's id.")],
        "delete": _op(
            "revokeRefreshToken",
            "Revoke a refresh token chain.",
            {**ok("Revoked.", None, status=204), **problems(404)},
        ),
    },
    "/keys": {
        "get": _op(
            "getKeys", "The signing keys.", {**ok("The key set.", ref("KeySet")), **problems()}
        ),
    },
    "/keys/rotate": {
        "post": _op(
            "rotateKeys",
            "Rotate the signing key now.",
            {
                **ok(
                    "The new key's id.",
                    {
                        "type": "object",
                        "required": ["kid"],
                        "properties": {"kid": {"type": "string"}},
                        "additionalProperties": False,
                    },
                ),
                **problems(),
            },
        )
    },
}


def build(server_url: str) -> Schema:
    """The whole document for an API served at ``server_url``."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "dex-py admin API",
            "version": VERSION,
            "description": (
                "Manage clients, connectors, users, team rules, sessions, signing keys and the "
                "audit log of a dex-py server. Errors are RFC 9457 problem details; lists are "
                "paginated with an opaque cursor; objects carry an ETag, and changing one "
                "requires `If-Match`."
            ),
        },
        "servers": [{"url": server_url}],
        "security": SECURITY,
        "paths": PATHS,
        "components": _components(SCHEMAS),
    }


def openapi_view() -> Response:
    svc = services()
    doc = svc.memo.get("admin_api.openapi")
    if doc is None:
        doc = svc.memo["admin_api.openapi"] = build(svc.issuer + API_PATH)
    return json_response(doc)
