"""Response headers: security headers on every response, ``web.headers``, and CORS.

Security headers (each set only if the view did not set it, so the ``form_post`` page keeps its
own nonce-based CSP): ``X-Content-Type-Options: nosniff``, ``X-Frame-Options: DENY``,
``Referrer-Policy: no-referrer`` (an IdP carries codes and state in URLs, so send no referrer at
all), a strict ``Content-Security-Policy``, and ``Strict-Transport-Security`` on HTTPS requests.
Dex's ``web.headers`` (X-Frame-Options, Content-Security-Policy, X-XSS-Protection,
X-Content-Type-Options, Referrer-Policy, Strict-Transport-Security, or any other name) replace
these defaults; an empty value removes the header.

CORS (Fetch standard, "CORS protocol"): only on endpoints marked with ``@cors_enabled`` or
named in ``init_headers(..., cors_endpoints=...)`` (discovery, keys, token, userinfo,
introspect, revoke, device/code). A request whose ``Origin`` is listed in
``web.allowedOrigins`` (or any origin when the list holds ``"*"``) gets
``Access-Control-Allow-Origin: <that origin>``; a preflight ``OPTIONS`` also gets the allowed
methods and headers (``Authorization``, ``Content-Type`` plus ``web.allowedHeaders``). An origin
that is not allowed is never reflected.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from flask import Flask, Request, Response, request

from dex_py.config import WebConfig

DEFAULT_CSP = (
    "default-src 'self'; img-src 'self' data: https:; style-src 'self'; script-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)

DEFAULT_HEADERS: dict[str, str] = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": DEFAULT_CSP,
}

HSTS_HEADER = "Strict-Transport-Security"
DEFAULT_HSTS = "max-age=31536000"

CORS_BASE_HEADERS = ("Authorization", "Content-Type")
CORS_MAX_AGE = "600"
CORS_ATTR = "_dex_py_cors"

F = TypeVar("F", bound=Callable[..., Any])


def cors_enabled(view: F) -> F:
    """Mark a view as callable cross-origin (from the origins in ``web.allowedOrigins``)."""
    setattr(view, CORS_ATTR, True)
    return view


def _normalize_origin(origin: str) -> str:
    return origin.strip().rstrip("/").lower()


class HeaderPolicy:
    """The precomputed header decisions for one app (cheap per request)."""

    def __init__(self, web: WebConfig, cors_endpoints: Iterable[str] = ()) -> None:
        merged = {**DEFAULT_HEADERS, HSTS_HEADER: DEFAULT_HSTS}
        for name, value in (web.headers or {}).items():
            canonical = next((k for k in merged if k.lower() == name.lower()), name)
            merged[canonical] = value
        self.hsts = merged.pop(HSTS_HEADER)
        self.always = [(k, k.lower(), v) for k, v in merged.items() if v]
        origins = {_normalize_origin(o) for o in web.allowed_origins or [] if o.strip()}
        self.any_origin = "*" in origins
        self.origins = frozenset(origins - {"*"})
        self.cors_on = bool(origins)
        self.cors_endpoints = frozenset(cors_endpoints)
        self._cors_cache: dict[str, bool] = {}
        allowed_headers = list(CORS_BASE_HEADERS)
        for name in web.allowed_headers or []:
            if name.lower() not in (h.lower() for h in allowed_headers):
                allowed_headers.append(name)
        self.allow_headers = ", ".join(allowed_headers)

    def origin_allowed(self, origin: str) -> bool:
        return self.any_origin or _normalize_origin(origin) in self.origins

    def is_cors_endpoint(self, app: Flask, endpoint: str | None) -> bool:
        if endpoint is None:
            return False
        known = self._cors_cache.get(endpoint)
        if known is None:
            view = app.view_functions.get(endpoint)
            known = endpoint in self.cors_endpoints or bool(getattr(view, CORS_ATTR, False))
            self._cors_cache[endpoint] = known
        return known

    def apply(self, app: Flask, response: Response) -> Response:
        # Hot path (every response): resolve the request proxy once, scan the headers once.
        req = request._get_current_object()  # type: ignore[attr-defined]
        headers = response.headers
        present = {name.lower() for name, _ in headers}
        for name, lower, value in self.always:
            if lower not in present:
                headers.add(name, value)
        if self.hsts and req.is_secure and "strict-transport-security" not in present:
            headers.add(HSTS_HEADER, self.hsts)
        if self.cors_on and self.is_cors_endpoint(app, req.endpoint):
            self._apply_cors(req, response, present)
        return response

    def _apply_cors(self, req: Request, response: Response, present: set[str]) -> None:
        headers = response.headers
        if "vary" not in present:
            headers.add("Vary", "Origin")
        else:
            vary = headers["Vary"]
            if "origin" not in vary.lower():
                headers["Vary"] = f"{vary}, Origin"
        origin = req.environ.get("HTTP_ORIGIN")
        if not origin or not self.origin_allowed(origin):
            return
        if "access-control-allow-origin" in present:
            del headers["Access-Control-Allow-Origin"]
        headers.add("Access-Control-Allow-Origin", origin)
        if req.method == "OPTIONS" and "HTTP_ACCESS_CONTROL_REQUEST_METHOD" in req.environ:
            rule = req.url_rule
            methods = sorted(rule.methods or ()) if rule is not None else ["GET", "POST"]
            headers["Access-Control-Allow-Methods"] = ", ".join(methods)
            headers["Access-Control-Allow-Headers"] = self.allow_headers
            headers["Access-Control-Max-Age"] = CORS_MAX_AGE


def init_headers(app: Flask, web: WebConfig, *, cors_endpoints: Iterable[str] = ()) -> None:
    """Install the security-header and CORS ``after_request`` hook on ``app``.

    ``cors_endpoints`` names endpoints (``"oauth.token"``) that allow cross-origin calls, in
    addition to views decorated with ``@cors_enabled``.
    """
    policy = HeaderPolicy(web, cors_endpoints)
    app.extensions["dex_py.headers"] = policy

    def add_headers(response: Response) -> Response:
        return policy.apply(app, response)

    app.after_request(add_headers)
