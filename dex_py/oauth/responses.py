"""Delivering authorization responses to the client (RFC 6749 §4.1.2, OAuth 2.0 Multiple
Response Type Encoding Practices, OAuth 2.0 Form Post Response Mode).

Modes: ``query`` (default for ``code``), ``fragment`` (default when tokens are returned), and
``form_post`` (an auto-submitting HTML form). The out-of-band redirect URI shows the code on a
page instead. Errors use the same channel once the redirect URI has been validated.

A redirect that answers a POST (password form, approval, ``/auth`` by POST, a callback by POST,
logout confirmation) is ``303 See Other`` (RFC 9700 §4.12.2): a browser may repeat a POST,
credentials included, on a 307 and some do on a 302. Redirects answering a GET stay 302.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from urllib.parse import urlencode, urlsplit, urlunsplit

from flask import redirect, request
from werkzeug import Response

from dex_py.clients import OOB_URI
from dex_py.errors import RedirectError
from dex_py.web.pages import render_page


def redirect_to(url: str) -> Response:
    """Redirect the browser: 303 when answering a POST, else 302."""
    return redirect(url, code=303 if request.method == "POST" else 302)


def default_mode(response_types: Sequence[str]) -> str:
    return "query" if tuple(response_types) == ("code",) else "fragment"


def _append(uri: str, params: list[tuple[str, str]], fragment: bool) -> str:
    parts = urlsplit(uri)
    encoded = urlencode(params)
    if fragment:
        return urlunsplit(parts._replace(fragment=encoded))
    query = f"{parts.query}&{encoded}" if parts.query else encoded
    return urlunsplit(parts._replace(query=query))


def deliver(redirect_uri: str, params: list[tuple[str, str]], mode: str) -> Response:
    """Send ``params`` to the client's redirect URI using response mode ``mode``."""
    if redirect_uri == OOB_URI:
        code = dict(params).get("code")
        if code:
            return render_page("oob.html", code=code)
        return render_page(
            "error.html",
            status=400,
            title="Login failed",
            message=dict(params).get("error_description") or dict(params).get("error", ""),
        )
    if mode == "form_post":
        nonce = secrets.token_urlsafe(16)
        page = render_page(
            "form_post.html", redirect_uri=redirect_uri, params=params, csp_nonce=nonce
        )
        page.headers["Content-Security-Policy"] = (
            f"default-src 'none'; script-src 'nonce-{nonce}'; style-src 'self'; "
            f"img-src 'self' data: https:; form-action {_origin(redirect_uri)}; "
            "frame-ancestors 'none'; base-uri 'none'"
        )
        return page
    resp = redirect_to(_append(redirect_uri, params, fragment=(mode == "fragment")))
    resp.headers["Cache-Control"] = "no-store"
    return resp


def _origin(uri: str) -> str:
    parts = urlsplit(uri)
    return f"{parts.scheme}://{parts.netloc}"


def authorization_error_response(err: RedirectError) -> Response:
    return deliver(err.redirect_uri, err.params(), err.response_mode or "query")
