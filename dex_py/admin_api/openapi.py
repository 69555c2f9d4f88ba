"""The OpenAPI 3.1 document of the admin API, built from Python data (never hand-written JSON),
served at ``{issuer}/admin/api/v1/openapi.json`` without authentication (it holds no secret).

It describes every path of ``ROUTES`` with its parameters, request bodies (JSON Schema 2020-12
as OpenAPI 3.1 uses it), every response it can give, the problem responses included, and the
bearer security scheme. It is precise enough to drive a property-based fuzzer
(``tests/admin_api/test_fuzz.py`` runs ``schemathesis`` against it): the bodies it describes
are the bodies the views accept, and every answer of a view matches one of its responses.
The building blocks are in ``openapi_parts``.
"""

from __future__ import annotations

from typing import Any

from werkzeug import Response

from dex_py.admin_api import teams as api_teams
from dex_py.admin_api.audit import EXPORT_MAX, JSON_LINES
from dex_py.admin_api.clients import CHANGEABLE as CLIENT_CHANGEABLE
from dex_py.admin_api.openapi_parts import (
    IF_MATCH,
    PAGINATION,
    Schema,
    body,
    components,
    input_schema,
    list_responses,
    nullable,
    ok,
    path_param,
    problems,
    query_param,
    ref,
    view_schema,
)
from dex_py.admin_api.problems import API_PATH
from dex_py.admin_api.rest import MERGE_PATCH, json_response
from dex_py.config.model import GRANT_TYPES
from dex_py.config.validation import CLIENT_AUTH_METHODS
from dex_py.management import audit as ma
from dex_py.management import clients as mc
from dex_py.management import connectors as mcn
from dex_py.management import keys as mk
from dex_py.management import overview as mo
from dex_py.management import sessions as ms
from dex_py.management import teams as mt
from dex_py.management import users as mu
from dex_py.management.client_rules import ClientSpec
from dex_py.passwords import MAX_PASSWORD_BYTES
from dex_py.services import services
from dex_py.teams import Decision, RuleMatch

VERSION = "1.0.0"
SECURITY: list[dict[str, list[str]]] = [{"adminToken": []}]

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
    "password": {
        "type": "string",
        "minLength": 1,
        "maxLength": MAX_PASSWORD_BYTES,
        "writeOnly": True,
    },
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
_CONNECTOR_INPUT: dict[str, Schema] = {
    "id": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$"},
    "type": {"type": "string", "minLength": 1, "maxLength": 100},
    "name": {"type": "string", "minLength": 1, "maxLength": 255},
    "config": {"type": "object", "description": "As in config.yaml; `********` keeps a secret."},
}


def _connector_input(
    description: str, required: tuple[str, ...], *, only: tuple[str, ...] = ()
) -> Schema:
    props = {k: v for k, v in _CONNECTOR_INPUT.items() if not only or k in only}
    return {
        "type": "object",
        "description": description,
        "required": list(required),
        "properties": props,
        "additionalProperties": False,
    }


_FILTER_TEXT: Schema = {"type": "string", "maxLength": 256}
_AUDIT_FILTERS = [
    query_param(
        "since", "Records at or after this time.", {"type": "string", "format": "date-time"}
    ),
    query_param("until", "Records before this time.", {"type": "string", "format": "date-time"}),
    query_param("event", "One event: login, admin, revocation, ...", _FILTER_TEXT),
    query_param("actor", "One actor (`api:automation`, a user id, ...).", _FILTER_TEXT),
]
_AUDIT_QUERY_ONLY = [
    query_param("action", "An action (`client.create`), or a prefix ending in `.`.", _FILTER_TEXT),
    query_param("object", "An object (`client:web`), or a type (`client`).", _FILTER_TEXT),
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
        ClientSpec, "A client's settings; `id` empty or left out: generated.", _CLIENT_INPUT
    ),
    "ClientPatch": input_schema(
        ClientSpec,
        "Settings to change (RFC 7396).",
        _CLIENT_INPUT,
        only=CLIENT_CHANGEABLE,
        nullable=True,
    ),
    "User": view_schema(mu.UserView, "A password user (never the password or its hash)."),
    "UserInput": input_schema(
        mu.UserSpec,
        "A new password user.",
        _USER_INPUT,
        required=("email", "username", "password"),
    ),
    "UserReplace": input_schema(
        mu.UserSpec,
        "Every changeable setting; without `password` it stays.",
        _USER_INPUT,
        only=mu.CHANGEABLE,
        required=("username",),
    ),
    "UserPatch": input_schema(
        mu.UserSpec,
        "Settings to change (RFC 7396).",
        _USER_INPUT,
        only=mu.CHANGEABLE,
        nullable=True,
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
    "AuditEntry": view_schema(ma.AuditView, "One audit record (never a secret)."),
    "Connector": view_schema(mcn.ConnectorView, "A connector; secrets in its config redacted."),
    "ConnectorInput": _connector_input(
        "A new connector, tested before it is stored.", ("id", "type", "name")
    ),
    "ConnectorReplace": _connector_input(
        "A connector's type, name and config (`id`, if given, must match the URL).",
        ("type", "name", "config"),
    ),
    "ConnectorPatch": {
        **_connector_input("Settings to change.", ()),
        "minProperties": 1,
        "properties": {k: v for k, v in _CONNECTOR_INPUT.items() if k != "id"},
    },
    "ConnectorTest": _connector_input(
        "A connector to open and test.", ("type", "config"), only=("type", "config")
    ),
    "TeamRule": view_schema(mt.TeamRuleView, "One rule as written, from config.yaml or stored."),
    "TeamRules": view_schema(
        mt.TeamRulesView,
        "Every rule in the order they are tried; `version` is the stored rules' ETag.",
        rules={"type": "array", "items": ref("TeamRule")},
    ),
    "TeamRulesInput": {
        "type": "object",
        "description": "The stored rules, shaped like `teams.rules` in config.yaml.",
        "required": ["rules"],
        "properties": {"rules": {"type": "array", "maxItems": 1000, "items": {"type": "object"}}},
        "additionalProperties": False,
    },
    "ExplainInput": {
        "type": "object",
        "required": ["connector_id", "groups"],
        "properties": {
            "connector_id": {"type": "string", "minLength": 1, "maxLength": 100},
            "groups": {
                "type": "array",
                "maxItems": api_teams.MAX_GROUPS,
                "items": {"type": "string", "maxLength": 1000},
            },
        },
        "additionalProperties": False,
    },
    "RuleMatch": view_schema(RuleMatch, "A rule that matched a group."),
    "Decision": view_schema(
        Decision,
        "What happened to one upstream group.",
        matches={"type": "array", "items": ref("RuleMatch")},
    ),
    "Explanation": view_schema(
        mt.Explanation,
        "Per group, the rules that matched and the teams that came out; the token's teams.",
        decisions={"type": "array", "items": ref("Decision")},
    ),
    "Counts": view_schema(mo.Counts, "How many objects there are (live sessions and tokens)."),
    "ConnectorState": view_schema(mo.ConnectorState, "A running connector and its health."),
    "Activity": view_schema(
        mo.Activity,
        "Per hour, oldest first, for the last day.",
        hours={"type": "array", "items": {"type": "string", "format": "date-time"}},
        logins={"type": "array", "items": {"type": "integer", "minimum": 0}},
        failures={"type": "array", "items": {"type": "integer", "minimum": 0}},
    ),
    "Overview": view_schema(
        mo.Overview,
        "The server at a glance; the parts that need storage are null while it is down.",
        counts=nullable(ref("Counts")),
        connectors={"type": "array", "items": ref("ConnectorState")},
        keys=nullable(ref("KeySet")),
        activity=nullable(ref("Activity")),
        recent_failures={"type": "array", "items": ref("AuditEntry")},
    ),
}


def _op(op_id: str, summary: str, responses: dict[str, Any], **extra: Any) -> Schema:
    return {"operationId": op_id, "summary": summary, "responses": responses, **extra}


def _links(name: str, param: str, key: str) -> dict[str, Any]:
    """OpenAPI links from an answer carrying one object to the operations on it: its id from
    the body, its ETag as their ``If-Match`` (so a client, or a fuzzer, can follow them)."""
    target = {param: f"$response.body#/{key}"}
    guarded = {**target, "header.If-Match": "$response.header.ETag"}
    return {
        f"Get{name}": {"operationId": f"get{name}", "parameters": target},
        f"Replace{name}": {"operationId": f"replace{name}", "parameters": guarded},
        f"Patch{name}": {"operationId": f"patch{name}", "parameters": guarded},
        f"Delete{name}": {"operationId": f"delete{name}", "parameters": guarded},
    }


def _object_paths(
    name: str,
    plural: str,
    param: Schema,
    *,
    key: str,
    created: str,
    create: str,
    replace: str,
    patch: str,
) -> dict[str, Any]:
    """The list/create and get/put/patch/delete operations of one kind of object: ``key`` is
    the field of the object its path parameter takes, ``created`` names the schema of the 201
    answer, the others those of the request bodies."""
    links = _links(name, param["name"], key)

    def one(description: str, schema: Schema, status: int = 200) -> Schema:
        answer = ok(description, schema, status=status, etag=True)
        answer[str(status)]["links"] = links
        return answer

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
                    **one(f"The new {name.lower()}.", ref(created), 201),
                    **problems(409, 413, 415),
                },
                requestBody=body(ref(create)),
            ),
        },
        f"/{plural}/{{{param['name']}}}": {
            "parameters": [param],
            "get": _op(
                f"get{name}",
                f"Read a {name.lower()}.",
                {**one(f"The {name.lower()}.", ref(name)), **problems(404)},
            ),
            "put": _op(
                f"replace{name}",
                f"Replace a {name.lower()}'s settings.",
                {
                    **one(f"The {name.lower()}.", ref(name)),
                    **problems(404, 409, 412, 413, 415, 428),
                },
                parameters=[IF_MATCH],
                requestBody=body(ref(replace)),
            ),
            "patch": _op(
                f"patch{name}",
                f"Change some of a {name.lower()}'s settings.",
                {
                    **one(f"The {name.lower()}.", ref(name)),
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


_OK: Schema = {
    "type": "object",
    "required": ["ok"],
    "properties": {"ok": {"const": True}},
    "additionalProperties": False,
}

PATHS: dict[str, Any] = {
    "/openapi.json": {
        "get": _op(
            "getOpenAPI",
            "This document.",
            {**ok("The OpenAPI 3.1 document.", {"type": "object"}), **problems(public=True)},
            security=[],
        )
    },
    **_object_paths(
        "Client",
        "clients",
        path_param("client_id", "The client's id.", CLIENT_ID),
        key="id",
        created="ClientCreated",
        create="ClientInput",
        replace="ClientInput",
        patch="ClientPatch",
    ),
    "/clients/{client_id}/secret": {
        "parameters": [path_param("client_id", "The client's id.", CLIENT_ID)],
        "post": _op(
            "rotateClientSecret",
            "Give the client a new secret (answered this once).",
            {
                **ok("The client and its new secret.", ref("ClientCreated"), etag=True),
                **problems(404, 409, 412, 413, 415),
            },
            parameters=[
                {
                    "name": "If-Match",
                    "in": "header",
                    "required": False,
                    "description": "Optional here: the client's ETag as last read (or `*`).",
                    "schema": {"type": "string", "minLength": 1},
                }
            ],
            requestBody=body(
                {
                    "type": "object",
                    "properties": {
                        "grace_period": {
                            "type": "integer",
                            "minimum": 0,
                            "maximum": int(mc.MAX_GRACE.total_seconds()),
                            "description": "Seconds the replaced secret keeps working.",
                        }
                    },
                    "additionalProperties": False,
                },
                required=False,
            ),
        ),
    },
    **_object_paths(
        "Connector",
        "connectors",
        path_param("connector_id", "The connector's id."),
        key="id",
        created="Connector",
        create="ConnectorInput",
        replace="ConnectorReplace",
        patch="ConnectorPatch",
    ),
    "/connector-tests": {
        "post": _op(
            "testConnector",
            "Open a connector and ask its upstream; nothing is stored.",
            {
                **ok("The connector works.", _OK),
                **problems(413, 415),
            },
            requestBody=body(ref("ConnectorTest")),
        )
    },
    "/teams/rules": {
        "get": _op(
            "getTeamRules",
            "The team rules: config.yaml's, then the stored ones.",
            {**ok("The rules.", ref("TeamRules"), etag=True), **problems()},
        ),
        "put": _op(
            "replaceTeamRules",
            "Replace the stored team rules.",
            {
                **ok("The rules now.", ref("TeamRules"), etag=True),
                **problems(412, 413, 415, 428),
            },
            parameters=[IF_MATCH],
            requestBody=body(ref("TeamRulesInput")),
        ),
    },
    "/teams/explain": {
        "post": _op(
            "explainTeams",
            "The teams a user with these upstream groups gets, and why.",
            {**ok("The explanation.", ref("Explanation")), **problems(404, 413, 415)},
            requestBody=body(ref("ExplainInput")),
        )
    },
    **_object_paths(
        "User",
        "users",
        path_param(
            "email",
            "The user's e-mail address.",
            {"type": "string", "minLength": 1, "maxLength": 254},
        ),
        key="email",
        created="User",
        create="UserInput",
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
    "/overview": {
        "get": _op(
            "getOverview",
            "The server at a glance.",
            {**ok("The overview.", ref("Overview")), **problems()},
        )
    },
    "/audit": {
        "get": _op(
            "queryAudit",
            "Audit records matching every filter given, newest first.",
            {**list_responses("AuditEntry"), **problems()},
            parameters=[*_AUDIT_FILTERS, *_AUDIT_QUERY_ONLY, *PAGINATION],
        )
    },
    "/audit/export": {
        "get": _op(
            "exportAudit",
            "Audit records as JSON lines, oldest first (as `dex-py audit export`).",
            {
                "200": {
                    "description": "One JSON object per line.",
                    "headers": {"Cache-Control": {"schema": {"type": "string"}}},
                    "content": {JSON_LINES: {"schema": {"type": "string"}}},
                },
                **problems(),
            },
            parameters=[
                *_AUDIT_FILTERS,
                query_param(
                    "limit",
                    "At most this many records (the newest).",
                    {"type": "integer", "minimum": 1, "maximum": EXPORT_MAX, "default": 10000},
                ),
            ],
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
        "components": components(SCHEMAS),
    }


def openapi_view() -> Response:
    svc = services()
    doc = svc.memo.get("admin_api.openapi")
    if doc is None:
        doc = svc.memo["admin_api.openapi"] = build(svc.issuer + API_PATH)
    return json_response(doc)
