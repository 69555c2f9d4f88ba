"""The schemas of the admin API's OpenAPI document (``openapi``): the JSON Schemas of request
bodies (clients, users, connectors, revoking a user), of the objects the API answers (built
from the management views), and the shared query parameters (session and audit filters).
Kept apart from the paths so that each module stays one concern."""

from __future__ import annotations

from dex_py.admin_api import teams as api_teams
from dex_py.admin_api.clients import CHANGEABLE as CLIENT_CHANGEABLE
from dex_py.admin_api.openapi_parts import (
    Schema,
    input_schema,
    nullable,
    query_param,
    ref,
    view_schema,
)
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
from dex_py.teams import Decision, RuleMatch

TEXT = {"type": "string", "maxLength": 2000}
URI_LIST = {"type": "array", "maxItems": 100, "items": {"type": "string", "maxLength": 2000}}
NAME_LIST = {
    "type": "array",
    "maxItems": 100,
    "uniqueItems": True,
    "items": {"type": "string", "minLength": 1, "maxLength": 200},
}
CLIENT_ID = {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9._~-]{0,127}$"}
CLIENT_INPUT: dict[str, Schema] = {
    "id": CLIENT_ID,
    "name": {"type": "string", "maxLength": 200},
    "redirect_uris": URI_LIST,
    "post_logout_redirect_uris": URI_LIST,
    "trusted_peers": {"type": "array", "maxItems": 100, "items": CLIENT_ID},
    "logo_url": TEXT,
    "allowed_connectors": NAME_LIST,
    "allowed_groups": NAME_LIST,
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
    "jwks_uri": TEXT,
    "backchannel_logout_uri": TEXT,
}
USER_INPUT: dict[str, Schema] = {
    "email": {"type": "string", "format": "email", "pattern": "^[^/]+$", "maxLength": 254},
    "username": {"type": "string", "minLength": 1, "maxLength": 200},
    "password": {
        "type": "string",
        "minLength": 1,
        "maxLength": MAX_PASSWORD_BYTES,
        "writeOnly": True,
    },
    "user_id": {"type": "string", "maxLength": 200},
    "groups": NAME_LIST,
}
SESSION_FILTERS = [
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
CONNECTOR_INPUT: dict[str, Schema] = {
    "id": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$"},
    "type": {"type": "string", "minLength": 1, "maxLength": 100},
    "name": {"type": "string", "minLength": 1, "maxLength": 255},
    "config": {"type": "object", "description": "As in config.yaml; `********` keeps a secret."},
}


def connector_input(
    description: str, required: tuple[str, ...], *, only: tuple[str, ...] = ()
) -> Schema:
    props = {k: v for k, v in CONNECTOR_INPUT.items() if not only or k in only}
    return {
        "type": "object",
        "description": description,
        "required": list(required),
        "properties": props,
        "additionalProperties": False,
    }


FILTER_TEXT: Schema = {"type": "string", "maxLength": 256}
AUDIT_FILTERS = [
    query_param(
        "since", "Records at or after this time.", {"type": "string", "format": "date-time"}
    ),
    query_param("until", "Records before this time.", {"type": "string", "format": "date-time"}),
    query_param("event", "One event: login, admin, revocation, ...", FILTER_TEXT),
    query_param("actor", "One actor (`api:automation`, a user id, ...).", FILTER_TEXT),
]
AUDIT_QUERY_ONLY = [
    query_param("action", "An action (`client.create`), or a prefix ending in `.`.", FILTER_TEXT),
    query_param("object", "An object (`client:web`), or a type (`client`).", FILTER_TEXT),
]
REVOKE_USER = {
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
        ClientSpec, "A client's settings; `id` empty or left out: generated.", CLIENT_INPUT
    ),
    "ClientPatch": input_schema(
        ClientSpec,
        "Settings to change (RFC 7396).",
        CLIENT_INPUT,
        only=CLIENT_CHANGEABLE,
        nullable=True,
    ),
    "User": view_schema(mu.UserView, "A password user (never the password or its hash)."),
    "UserInput": input_schema(
        mu.UserSpec,
        "A new password user.",
        USER_INPUT,
        required=("email", "username", "password"),
    ),
    "UserReplace": input_schema(
        mu.UserSpec,
        "Every changeable setting; without `password` it stays.",
        USER_INPUT,
        only=mu.CHANGEABLE,
        required=("username",),
    ),
    "UserPatch": input_schema(
        mu.UserSpec,
        "Settings to change (RFC 7396).",
        USER_INPUT,
        only=mu.CHANGEABLE,
        nullable=True,
    ),
    "Session": view_schema(ms.SessionView, "An SSO session (never its cookie secret)."),
    "RefreshToken": view_schema(ms.RefreshTokenView, "A refresh token chain (never the token)."),
    "RevokeUser": REVOKE_USER,
    "RevokedUser": view_schema(ms.RevokedUser, "What was revoked."),
    "Key": view_schema(mk.KeyView, "A published signing key (public part only)."),
    "KeySet": view_schema(
        mk.KeySet,
        "The signing keys, their schedule and the published JWKS.",
        keys={"type": "array", "items": ref("Key")},
    ),
    "AuditEntry": view_schema(ma.AuditView, "One audit record (never a secret)."),
    "Connector": view_schema(mcn.ConnectorView, "A connector; secrets in its config redacted."),
    "ConnectorInput": connector_input(
        "A new connector, tested before it is stored.", ("id", "type", "name")
    ),
    "ConnectorReplace": connector_input(
        "A connector's type, name and config (`id`, if given, must match the URL).",
        ("type", "name", "config"),
    ),
    "ConnectorPatch": {
        **connector_input("Settings to change.", ()),
        "minProperties": 1,
        "properties": {k: v for k, v in CONNECTOR_INPUT.items() if k != "id"},
    },
    "ConnectorTest": connector_input(
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
