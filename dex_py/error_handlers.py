"""Every error class mapped to its response, in one place (the hierarchy is ``dex_py.errors``).

OAuth errors from API endpoints answer JSON (RFC 6749 §5.2); routing errors under the admin API
answer its problem details (RFC 9457; its other errors are handled by its blueprint);
``RedirectError`` goes back to the client; ``PageError`` and HTTP errors a person sees render
the error page; a database that is unavailable answers 503 with ``Retry-After``; anything else
is logged with an incident id and answered 500 without detail.
"""

from __future__ import annotations

import logging
import secrets

from flask import Flask, jsonify, request
from werkzeug import Response
from werkzeug.exceptions import HTTPException

from dex_py.admin_api.problems import from_http, is_api_request, problem_response
from dex_py.errors import (
    OAuth2Error,
    PageError,
    RedirectError,
    TemporarilyUnavailable,
    oauth_json_response,
)
from dex_py.oauth.responses import authorization_error_response
from dex_py.storage import DATABASE_UNAVAILABLE, error_reason
from dex_py.web.pages import render_page

log = logging.getLogger("dex_py.errors")


_JSON_PATHS = (
    "/token",
    "/userinfo",
    "/keys",
    "/openid-configuration",
    "/token/introspect",
    "/token/revoke",
    "/device/code",
)


def _wants_json() -> bool:
    """API endpoints answer errors in JSON; pages answer with an HTML page. Decided by path, as
    a 404/405 has no matched endpoint."""
    return request.path.endswith(_JSON_PATHS) or request.accept_mimetypes.best == "application/json"


def register_error_handlers(app: Flask) -> None:
    """Map every error class to its response, in one place."""

    @app.errorhandler(OAuth2Error)
    def _oauth(err: OAuth2Error) -> Response:
        return oauth_json_response(err)

    @app.errorhandler(RedirectError)
    def _redirect(err: RedirectError) -> Response:
        return authorization_error_response(err)

    @app.errorhandler(PageError)
    def _page(err: PageError) -> Response:
        return render_page("error.html", status=err.status, title=err.title, message=err.message)

    @app.errorhandler(HTTPException)
    def _http(err: HTTPException) -> Response:
        if is_api_request():  # no route matched under the admin API: still a problem+json
            return problem_response(from_http(err))
        status = err.code or 500
        if _wants_json():
            code = {405: "invalid_request", 404: "not_found", 413: "invalid_request"}.get(
                status, "invalid_request"
            )
            resp = jsonify({"error": code, "error_description": err.name})
            resp.status_code = status
            resp.headers["Cache-Control"] = "no-store"
            if status == 405 and getattr(err, "valid_methods", None):
                resp.headers["Allow"] = ", ".join(getattr(err, "valid_methods", None) or [])
            return resp
        resp = render_page(
            "error.html", status=status, title=err.name, message=err.description or err.name
        )
        if status == 405 and getattr(err, "valid_methods", None):
            resp.headers["Allow"] = ", ".join(getattr(err, "valid_methods", None) or [])
        return resp

    def _database(err: Exception) -> Response:
        incident = secrets.token_hex(6)
        log.error(
            "database unavailable (incident %s) on %s %s: %s",
            incident,
            request.method,
            request.path,
            error_reason(err),
        )
        message = f"The service is temporarily unavailable (incident {incident}). Try again."
        if _wants_json():
            resp = oauth_json_response(TemporarilyUnavailable(description=message))
        else:
            resp = render_page(
                "error.html", status=503, title="Service Unavailable", message=message
            )
        resp.headers["Retry-After"] = "5"
        return resp

    for exc_class in DATABASE_UNAVAILABLE:
        app.register_error_handler(exc_class, _database)

    @app.errorhandler(Exception)
    def _unexpected(err: Exception) -> Response:
        incident = secrets.token_hex(6)
        log.exception(
            "unhandled error (incident %s) on %s %s", incident, request.method, request.path
        )
        if _wants_json():
            resp = jsonify(
                {
                    "error": "server_error",
                    "error_description": f"internal error (incident {incident})",
                }
            )
            resp.status_code = 500
            resp.headers["Cache-Control"] = "no-store"
            return resp
        return render_page(
            "error.html",
            status=500,
            title="Internal Server Error",
            message=f"Something went wrong on our side (incident {incident}). Please try again.",
        )
