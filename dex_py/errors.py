"""One error hierarchy; ``dex_py.error_handlers`` renders it in one place.

Protocol errors are authlib ``OAuth2Error`` subclasses (``error``, ``status_code``,
description), so the error codes are exactly those of RFC 6749 §4.1.2.1 / §5.2, RFC 6750 §3.1
and OIDC Core §3.1.2.6. How an error reaches the user depends on where it happened:

- ``/token``, ``/userinfo`` and other API endpoints: a JSON body (RFC 6749 §5.2) with
  ``Cache-Control: no-store``; 401s carry ``WWW-Authenticate``;
- the authorization endpoint, once the client and its redirect URI are trusted: a redirect back
  to the client (``RedirectError``);
- anything a person sees before that (unknown client, bad redirect URI, expired login): an HTML
  error page (``PageError``), never a redirect to an untrusted URI.

Unexpected exceptions are logged with a request id and shown as a plain 500 page or JSON
``server_error``; no stack trace ever reaches the user. A database that is down, hangs past its
timeouts (``storage.timeouts``) or has no free pooled connection answers 503
``temporarily_unavailable`` (RFC 6749 §4.1.2.1) with ``Retry-After``, and logs one line.
"""

from __future__ import annotations

from authlib.oauth2.rfc6749 import errors as rfc6749
from authlib.oauth2.rfc6749.errors import AccessDeniedError as AccessDenied
from authlib.oauth2.rfc6749.errors import InvalidGrantError as InvalidGrant
from authlib.oauth2.rfc6749.errors import InvalidRequestError as InvalidRequest
from authlib.oauth2.rfc6749.errors import InvalidScopeError as InvalidScope
from authlib.oauth2.rfc6749.errors import OAuth2Error
from authlib.oauth2.rfc6749.errors import UnauthorizedClientError as UnauthorizedClient
from authlib.oauth2.rfc6749.errors import UnsupportedGrantTypeError as UnsupportedGrantType
from authlib.oauth2.rfc6749.errors import (
    UnsupportedResponseTypeError as UnsupportedResponseType,
)
from flask import jsonify
from werkzeug import Response

__all__ = [
    "AccessDenied",
    "AuthorizationPending",
    "ConsentRequired",
    "ExpiredToken",
    "InteractionRequired",
    "InvalidClient",
    "InvalidGrant",
    "InvalidRequest",
    "InvalidScope",
    "InvalidToken",
    "LoginRequired",
    "OAuth2Error",
    "PageError",
    "RedirectError",
    "RequestNotSupported",
    "RequestURINotSupported",
    "ServerError",
    "SlowDown",
    "TemporarilyUnavailable",
    "UnauthorizedClient",
    "UnsupportedGrantType",
    "UnsupportedResponseType",
    "UnsupportedTokenType",
    "oauth_json_response",
]


class InvalidClient(rfc6749.InvalidClientError):
    """RFC 6749 §5.2: client authentication failed; 401 with ``WWW-Authenticate``."""

    status_code = 401


class ServerError(OAuth2Error):
    error = "server_error"
    status_code = 500


class TemporarilyUnavailable(OAuth2Error):
    error = "temporarily_unavailable"
    status_code = 503


class InvalidToken(OAuth2Error):
    """RFC 6750 §3.1: the bearer token is missing, expired, revoked or malformed."""

    error = "invalid_token"
    status_code = 401


class LoginRequired(OAuth2Error):
    error = "login_required"


class ConsentRequired(OAuth2Error):
    error = "consent_required"


class InteractionRequired(OAuth2Error):
    error = "interaction_required"


class RequestNotSupported(OAuth2Error):
    error = "request_not_supported"


class RequestURINotSupported(OAuth2Error):
    error = "request_uri_not_supported"


class UnsupportedTokenType(OAuth2Error):
    """RFC 7009 §2.2.1."""

    error = "unsupported_token_type"


class AuthorizationPending(OAuth2Error):
    """RFC 8628 §3.5: the user has not finished at the verification URI yet."""

    error = "authorization_pending"


class SlowDown(OAuth2Error):
    """RFC 8628 §3.5: polled faster than the interval; the interval grew by 5 seconds."""

    error = "slow_down"


class ExpiredToken(OAuth2Error):
    """RFC 8628 §3.5: the device code expired; the device must start again."""

    error = "expired_token"


class RedirectError(Exception):
    """A protocol error to send back to the client's (already validated) redirect URI."""

    def __init__(
        self,
        error: OAuth2Error,
        redirect_uri: str,
        state: str = "",
        response_mode: str = "query",
    ) -> None:
        super().__init__(error.error)
        self.error = error
        self.redirect_uri = redirect_uri
        self.state = state
        self.response_mode = response_mode

    def params(self) -> list[tuple[str, str]]:
        out = [("error", str(self.error.error))]
        if self.error.description:
            out.append(("error_description", str(self.error.description)))
        if self.state:
            out.append(("state", self.state))
        return out


class PageError(Exception):
    """An error shown to the person in the browser as an HTML page."""

    def __init__(self, status: int, title: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.title = title
        self.message = message


def oauth_json_response(error: OAuth2Error) -> Response:
    """RFC 6749 §5.2 / RFC 6750 §3 JSON error response."""
    body: dict[str, str] = {"error": str(error.error)}
    if error.description:
        body["error_description"] = str(error.description)
    resp = jsonify(body)
    status = int(error.status_code or 400)
    resp.status_code = status
    resp.headers["Cache-Control"] = "no-store"
    resp.headers["Pragma"] = "no-cache"
    if isinstance(error, InvalidToken):
        desc = str(error.description or "").replace('"', "'")
        resp.headers["WWW-Authenticate"] = (
            f'Bearer error="invalid_token", error_description="{desc}"'
        )
    elif status == 401:
        resp.headers["WWW-Authenticate"] = 'Basic realm="dex-py"'
    return resp
