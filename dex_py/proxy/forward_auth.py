"""The answers that let a request through or not: ``/oauth2/auth`` for a front proxy (nginx
``auth_request``, Caddy ``forward_auth``, Traefik ForwardAuth, Envoy ``ext_authz``),
``/oauth2/userinfo``, and upstream mode (every other path, relayed by ``proxy.upstream``).

``/oauth2/auth`` checks the *original* request against the rules: its host, path and method
come from ``X-Forwarded-Host``/``X-Forwarded-Uri``/``X-Forwarded-Method`` (Traefik, Caddy),
``X-Original-URI``/``X-Original-Method`` (nginx), ``X-Original-URL`` (ingress-nginx), or the
path after ``/oauth2/auth`` with the request's own method (Envoy ``ext_authz`` with
``path_prefix: /oauth2/auth``). Only the
front proxy may reach this endpoint (docs/proxy.md). It answers 202 with the identity headers,
401 when nobody is logged in (or a bearer token is refused) and 403 when the rules deny. The
answer's headers are built from scratch: a header the client sent never appears in it.
"""

from __future__ import annotations

import json
import time
from urllib.parse import quote, urlsplit

from aiohttp import web

from dex_py.proxy.authn import Outcome, identify
from dex_py.proxy.cookie_jar import parse_cookie_header
from dex_py.proxy.metrics import UPSTREAM_ERRORS
from dex_py.proxy.proxy_state import STATE, ProxyState
from dex_py.proxy.rules import Decision, decide, find_rule

_STATUS = {
    Decision.SKIP: 202,
    Decision.ALLOW: 202,
    Decision.UNAUTHENTICATED: 401,
    Decision.FORBIDDEN: 403,
}
_BODY = {202: b"", 401: b"Unauthorized\n", 403: b"Forbidden\n"}
ENVOY_PREFIX = "/oauth2/auth/"


def original_request(request: web.Request) -> tuple[str, str, str]:
    """(host, path, method) of the request the front proxy asks about."""
    headers = request.headers
    host = headers.get("X-Forwarded-Host", "").split(",", 1)[0].strip()
    uri = headers.get("X-Forwarded-Uri") or headers.get("X-Original-URI") or ""
    if not uri:
        full = headers.get("X-Original-URL", "")
        if full:
            parts = urlsplit(full)
            host = host or parts.netloc
            uri = parts.path
    if not uri and request.path.startswith(ENVOY_PREFIX):
        uri = request.path[len(ENVOY_PREFIX) - 1 :]  # Envoy ext_authz: the path appended
        method = headers.get("X-Forwarded-Method") or request.method
    else:
        method = headers.get("X-Forwarded-Method") or headers.get("X-Original-Method") or "GET"
    path = uri.split("?", 1)[0] or "/"
    return host or request.host, path, method.upper()


async def _identify(state: ProxyState, request: web.Request) -> Outcome:
    cookies = parse_cookie_header(request.headers.get("Cookie", ""))
    return await identify(state, cookies, request.headers.get("Authorization", ""))


async def auth(request: web.Request) -> web.Response:
    started = time.perf_counter()
    state = request.app[STATE]
    host, path, method = original_request(request)
    rule = find_rule(state.config.rules, host, path, method)
    if rule is not None and rule.skip_auth:
        outcome = Outcome(None, [])
        decision = Decision.SKIP
    else:
        outcome = await _identify(state, request)
        decision = decide(rule, outcome.caller.identity if outcome.caller else None)
    status = _STATUS[decision]
    if decision is Decision.ALLOW and outcome.caller is not None:
        response = web.Response(status=202, headers=outcome.caller.auth_headers)
    else:
        response = web.Response(status=status, body=_BODY[status])
    for value in outcome.set_cookies:
        response.headers.add("Set-Cookie", value)
    response.headers["Cache-Control"] = "no-store"
    _account(
        state,
        "auth",
        decision,
        rule.name if rule else "",
        outcome,
        method,
        host,
        path,
        status,
        started,
    )
    return response


def _account(
    state: ProxyState,
    endpoint: str,
    decision: Decision,
    rule: str,
    outcome: Outcome,
    method: str,
    host: str,
    path: str,
    status: int,
    started: float,
) -> None:
    seconds = time.perf_counter() - started
    state.metrics.observe(endpoint, decision.value, seconds)
    user = outcome.caller.identity.user if outcome.caller else ""
    state.request_log.write(
        method=method,
        host=host,
        path=path,
        status=status,
        decision=decision.value,
        rule=rule or "-",
        user=user,
        seconds=seconds,
    )


async def userinfo(request: web.Request) -> web.Response:
    state = request.app[STATE]
    outcome = await _identify(state, request)
    if outcome.caller is None:
        response = web.Response(status=401, body=_BODY[401])
    else:
        identity = outcome.caller.identity
        body = {
            "user": identity.user,
            "email": identity.email or "",
            "groups": list(identity.groups),
            "preferredUsername": identity.preferred_username or "",
        }
        response = web.Response(body=json.dumps(body).encode(), content_type="application/json")
    for value in outcome.set_cookies:
        response.headers.add("Set-Cookie", value)
    response.headers["Cache-Control"] = "no-store"
    return response


def _wants_login_page(request: web.Request) -> bool:
    return (
        request.method == "GET"
        and "text/html" in request.headers.get("Accept", "")
        and request.headers.get("X-Requested-With", "").lower() != "xmlhttprequest"
    )


async def upstream(request: web.Request) -> web.StreamResponse:
    """Any path that is not the proxy's own: rules, then the matching upstream."""
    started = time.perf_counter()
    state = request.app[STATE]
    relay = state.upstreams
    route = relay.match(request.path) if relay is not None else None
    if relay is None or route is None:
        raise web.HTTPNotFound(text="Not Found\n")
    rule = find_rule(state.config.rules, request.host, request.path, request.method)
    if rule is not None and rule.skip_auth:
        outcome, decision = Outcome(None, []), Decision.SKIP
    else:
        outcome = await _identify(state, request)
        decision = decide(rule, outcome.caller.identity if outcome.caller else None)
    response: web.StreamResponse
    if (
        decision is Decision.UNAUTHENTICATED
        and _wants_login_page(request)
        and not (outcome.bearer_refused)
    ):
        target = "/oauth2/start?rd=" + quote(request.path_qs, safe="")
        response = web.Response(status=302, headers={"Location": target})
    elif decision in (Decision.UNAUTHENTICATED, Decision.FORBIDDEN):
        status = _STATUS[decision]
        response = web.Response(status=status, body=_BODY[status])
    else:
        identity = outcome.caller.upstream_headers if outcome.caller else {}
        # A refreshed session's cookie goes out with the upstream's head, streamed or not: a
        # browser left with the old cookie would present a rotated-out refresh token later.
        cookies = [("Set-Cookie", value) for value in outcome.set_cookies]
        response = await relay.forward(request, route, identity, add_headers=cookies)
        if response.status in (502, 504):
            UPSTREAM_ERRORS.labels(str(response.status)).inc()
        outcome = Outcome(outcome.caller, [], outcome.bearer_refused)
    if outcome.set_cookies and not response.prepared:
        for value in outcome.set_cookies:
            response.headers.add("Set-Cookie", value)
    _account(
        state,
        "upstream",
        decision,
        rule.name if rule else "",
        outcome,
        request.method,
        request.host,
        request.path,
        response.status,
        started,
    )
    return response
