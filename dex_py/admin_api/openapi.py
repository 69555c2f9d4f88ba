"""The OpenAPI 3.1 document of the admin API, built from Python data (never hand-written JSON),
served at ``{issuer}/admin/api/v1/openapi.json`` without authentication (it holds no secret).

It describes every path of ``ROUTES`` with its parameters, request bodies (JSON Schema 2020-12
as OpenAPI 3.1 uses it), every response it can give, the problem responses included, and the
bearer security scheme. It is precise enough to drive a property-based fuzzer
(``tests/admin_api/test_fuzz.py`` runs ``schemathesis`` against it): the bodies it describes
are the bodies the views accept, and every answer of a view matches one of its responses.
The building blocks are in ``openapi_parts``, the schemas in ``openapi_schemas``.
"""

from __future__ import annotations

from typing import Any

from werkzeug import Response

from dex_py.admin_api.audit import EXPORT_MAX, JSON_LINES
from dex_py.admin_api.openapi_parts import (
    IF_MATCH,
    PAGINATION,
    Schema,
    body,
    components,
    list_responses,
    ok,
    path_param,
    problems,
    query_param,
    ref,
)
from dex_py.admin_api.openapi_schemas import (
    AUDIT_FILTERS,
    AUDIT_QUERY_ONLY,
    CLIENT_ID,
    SCHEMAS,
    SESSION_FILTERS,
)
from dex_py.admin_api.problems import API_PATH
from dex_py.admin_api.rest import MERGE_PATCH, json_response
from dex_py.management import clients as mc
from dex_py.services import services

VERSION = "1.0.0"
SECURITY: list[dict[str, list[str]]] = [{"adminToken": []}]


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
            parameters=[*SESSION_FILTERS, *PAGINATION],
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
            parameters=[*SESSION_FILTERS, *PAGINATION],
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
            parameters=[*AUDIT_FILTERS, *AUDIT_QUERY_ONLY, *PAGINATION],
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
                *AUDIT_FILTERS,
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
