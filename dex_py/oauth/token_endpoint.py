"""The token endpoint ``/token`` (RFC 6749 §3.2, §5).

It parses the form strictly (form encoding only, no repeated parameters), authenticates the
client (RFC 6749 §2.3), applies the cross-grant policy once, and hands over to the grant named
by ``grant_type``. Responses carry ``Cache-Control: no-store`` (RFC 6749 §5.1).
"""

from __future__ import annotations

import json
from urllib.parse import parse_qsl

from flask import request
from werkzeug import Response

from dex_py.clients import authenticate_client, claimed_client_id
from dex_py.errors import InvalidClient, InvalidRequest, OAuth2Error, UnsupportedGrantType
from dex_py.oauth.device_grant import DeviceCodeGrant
from dex_py.oauth.grant_base import BaseGrant, TokenRequest
from dex_py.oauth.grants import AuthorizationCodeGrant, PasswordGrant
from dex_py.oauth.machine_grants import ClientCredentialsGrant, TokenExchangeGrant
from dex_py.oauth.policy import check_grant_policy
from dex_py.oauth.refresh import RefreshTokenGrant
from dex_py.ops.audit import FAILURE, audit, request_ip
from dex_py.ops.metrics import count_event
from dex_py.services import services

# The one registry of grants; ``oauth2.grantTypes`` and each client's ``grantTypes`` filter it.
GRANTS: dict[str, type[BaseGrant]] = {
    g.grant_type: g
    for g in (
        AuthorizationCodeGrant,
        RefreshTokenGrant,
        PasswordGrant,
        ClientCredentialsGrant,
        TokenExchangeGrant,
        DeviceCodeGrant,
    )
}


def strict_form() -> dict[str, str]:
    """The form body of an API POST: form-encoded, no query string, no repeated parameter.

    Parsed straight from the body (``MAX_CONTENT_LENGTH`` bounds it) rather than through
    werkzeug's form parser, which costs several times more and keeps every repeat."""
    if request.mimetype != "application/x-www-form-urlencoded":
        raise InvalidRequest("the token request must be application/x-www-form-urlencoded")
    if request.query_string and request.args:
        # RFC 6749 §3.2: parameters go in the body; secrets in URLs leak into logs.
        raise InvalidRequest("parameters must be sent in the request body")
    try:
        text = request.get_data(cache=True).decode("utf-8")
        pairs = parse_qsl(text, keep_blank_values=True, errors="strict")
    except (UnicodeDecodeError, ValueError):
        raise InvalidRequest("the request body is not valid UTF-8 form encoding") from None
    out: dict[str, str] = {}
    for name, value in pairs:
        if name in out:
            raise InvalidRequest(f"parameter {name[:40]} repeated")
        if len(value) > 8192:
            raise InvalidRequest(f"parameter {name[:40]} too long")
        out[name] = value
    return out


def json_response(body: dict, status: int = 200) -> Response:
    resp = Response(
        json.dumps(body, separators=(",", ":")), status=status, mimetype="application/json"
    )
    resp.headers["Cache-Control"] = "no-store"
    resp.headers["Pragma"] = "no-cache"
    return resp


# Device-flow polling answers (RFC 8628 §3.5): the normal course of a device login, not failures.
_NOT_AUDITED = frozenset({"authorization_pending", "slow_down"})


def token_view() -> Response:
    svc = services()
    form = strict_form()
    grant_type = form.get("grant_type", "")
    if not grant_type:
        raise InvalidRequest("grant_type is required")
    grant_cls = GRANTS.get(grant_type)
    if grant_cls is None or grant_type not in svc.config.oauth2.grant_types:
        raise UnsupportedGrantType(f"unsupported grant_type {grant_type[:64]}")
    authorization = request.headers.get("Authorization", "")
    claimed, address = claimed_client_id(authorization, form), request_ip()
    if not svc.client_guard.admit(claimed, address):
        audit("token", FAILURE, client=claimed, grant_type=grant_type, reason="limited")
        raise InvalidClient("too many failed attempts; try again later")
    try:
        try:
            client, method = authenticate_client(svc.clients, authorization, form)
        except InvalidClient:
            if svc.client_guard.failed(claimed, address):
                count_event("dexpy_login_locks_total", limit="client")
            raise
        treq = TokenRequest(form=form, client=client, auth_method=method, grant_type=grant_type)
        check_grant_policy(svc, treq)
        body = grant_cls(svc, treq).respond()
    except OAuth2Error as exc:
        if exc.error not in _NOT_AUDITED:
            audit("token", FAILURE, client=claimed, grant_type=grant_type, reason=exc.error)
        raise
    count_event("dexpy_tokens_issued_total", grant_type=grant_type)
    audit("token", client=client.id, grant_type=grant_type)
    return json_response(body)
