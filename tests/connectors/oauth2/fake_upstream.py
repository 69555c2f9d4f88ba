"""A fake OAuth 2.0 upstream speaking GitLab's documented endpoints and a generic shape, served
by werkzeug in a thread on 127.0.0.1 (plain HTTP, or HTTPS with a given certificate).

Generic: ``/authorize``, ``/token``, ``/userinfo``. GitLab: ``/oauth/authorize``,
``/oauth/token``, ``/api/v4/user`` (scope ``read_user``), ``/oauth/userinfo`` (scope ``openid``).
Both authorize endpoints vouch at once for ``login_as`` (no login page) and redirect back with a
code; the token endpoint checks the client, the redirect URI, PKCE (RFC 7636) and rotates refresh
tokens. ``faults[path] = (status, body[, mimetype])`` makes a path answer with that instead.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import pytest
from flask import Flask, Response, redirect, request
from werkzeug.serving import make_server


@dataclass
class Person:
    """Someone the upstream knows: GitLab's ``/api/v4/user`` object and the user info."""

    user: dict[str, Any] = field(default_factory=dict)
    userinfo: dict[str, Any] = field(default_factory=dict)


@dataclass
class Grant:
    person: str
    scope: set[str]


def _json(data: Any, status: int = 200) -> Response:
    return Response(json.dumps(data), status=status, mimetype="application/json")


class FakeUpstream:
    """State and Flask app of the fake upstream; see the module docstring."""

    def __init__(self, client_id: str = "up-client", client_secret: str = "up-secret") -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.people: dict[str, Person] = {}
        self.login_as = ""
        self.deny = ""  # an OAuth error code the authorize endpoint answers with
        self.issue_refresh_tokens = True
        self.jwt_claims: dict[str, Any] | None = None  # access tokens become JWTs with these
        self.client_auth = "any"  # "basic", "post" or "any"
        self.faults: dict[str, tuple[Any, ...]] = {}
        self.calls: list[tuple[str, dict[str, str]]] = []  # (path, form or args)
        self.codes: dict[str, dict[str, Any]] = {}
        self.access: dict[str, Grant] = {}
        self.refresh: dict[str, Grant] = {}
        self.base_url = ""
        self.app = self._make_app()

    def add(self, key: str, **kw: Any) -> Person:
        self.people[key] = Person(**kw)
        return self.people[key]

    def count(self, path: str, **match: str) -> int:
        return sum(
            1 for p, d in self.calls if p == path and all(d.get(k) == v for k, v in match.items())
        )

    # --- endpoints -----------------------------------------------------------------------------

    def _make_app(self) -> Flask:
        app = Flask("fake_upstream")

        @app.before_request
        def record_and_fault() -> Response | None:
            data = request.form.to_dict() if request.method == "POST" else request.args.to_dict()
            self.calls.append((request.path, data))
            if request.path in self.faults:
                status, body, *mimetype = self.faults[request.path]
                return Response(body, status=status, mimetype=(mimetype or ["application/json"])[0])
            return None

        for prefix in ("", "/oauth"):
            app.add_url_rule(f"{prefix}/authorize", f"authorize{prefix}", self._authorize)
            app.add_url_rule(f"{prefix}/token", f"token{prefix}", self._token, methods=["POST"])
        app.add_url_rule("/userinfo", "userinfo", lambda: self._resource("userinfo"))
        app.add_url_rule("/oauth/userinfo", "gl_userinfo", lambda: self._resource("userinfo"))
        app.add_url_rule("/api/v4/user", "gl_user", lambda: self._resource("user"))
        return app

    def _authorize(self) -> Response:
        args = request.args
        if args.get("client_id") != self.client_id or args.get("response_type") != "code":
            return Response("bad client or response_type", status=400)
        redirect_uri = args["redirect_uri"]
        if self.deny:
            query = {"error": self.deny, "error_description": "The user said no", **_state()}
            return redirect(redirect_uri + "?" + urlencode(query))
        code = secrets.token_urlsafe(16)
        self.codes[code] = {
            "person": self.login_as,
            "redirect_uri": redirect_uri,
            "challenge": args.get("code_challenge", ""),
            "method": args.get("code_challenge_method", ""),
            "scope": set(args.get("scope", "").split()),
        }
        return redirect(redirect_uri + "?" + urlencode({"code": code, **_state()}))

    def _client_ok(self) -> bool:
        auth = request.authorization
        form = request.form
        if auth is not None and auth.type == "basic":
            if self.client_auth == "post":
                return False
            return (auth.username, auth.password) == (self.client_id, self.client_secret)
        if self.client_auth == "basic":
            return False
        return (form.get("client_id"), form.get("client_secret")) == (
            self.client_id,
            self.client_secret,
        )

    def _token(self) -> Response:
        if not self._client_ok():
            return _json({"error": "invalid_client"}, 401)
        form = request.form
        grant_type = form.get("grant_type")
        if grant_type == "authorization_code":
            code = self.codes.pop(form.get("code", ""), None)
            if code is None or code["redirect_uri"] != form.get("redirect_uri"):
                return _json({"error": "invalid_grant"}, 400)
            if code["challenge"]:
                digest = hashlib.sha256(form.get("code_verifier", "").encode()).digest()
                expected = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
                if code["method"] != "S256" or expected != code["challenge"]:
                    return _json({"error": "invalid_grant", "error_description": "PKCE"}, 400)
            grant = Grant(code["person"], code["scope"])
        elif grant_type == "refresh_token":
            found = self.refresh.pop(form.get("refresh_token", ""), None)  # rotation
            if found is None:
                return _json({"error": "invalid_grant"}, 400)
            grant = found
        else:
            return _json({"error": "unsupported_grant_type"}, 400)
        access = secrets.token_urlsafe(24)
        if self.jwt_claims is not None:
            access = _fake_jwt(self.jwt_claims)
        self.access[access] = grant
        body: dict[str, Any] = {"access_token": access, "token_type": "Bearer", "expires_in": 7200}
        if self.issue_refresh_tokens:
            refresh = secrets.token_urlsafe(24)
            self.refresh[refresh] = grant
            body["refresh_token"] = refresh
        return _json(body)

    def _resource(self, what: str) -> Response:
        header = request.headers.get("Authorization", "")
        grant = self.access.get(header.removeprefix("Bearer ")) if header else None
        if grant is None:
            return _json({"message": "401 Unauthorized"}, 401)
        if request.path == "/oauth/userinfo" and "openid" not in grant.scope:
            return _json({"error": "insufficient_scope"}, 403)
        person = self.people[grant.person]
        return _json(person.user if what == "user" else person.userinfo)


def _state() -> dict[str, str]:
    state = request.args.get("state")
    return {"state": state} if state is not None else {}


def _fake_jwt(claims: dict[str, Any]) -> str:
    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    header = b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    payload = b64(json.dumps({**claims, "jti": secrets.token_hex(4)}).encode())
    return f"{header}.{payload}.{b64(b'sig')}"


def serve(upstream: FakeUpstream, ssl_context: ssl.SSLContext | None = None) -> Any:
    """Start serving ``upstream`` in a thread; returns the werkzeug server (``.shutdown()``)."""
    server = make_server("127.0.0.1", 0, upstream.app, threaded=True, ssl_context=ssl_context)
    scheme = "https" if ssl_context else "http"
    upstream.base_url = f"{scheme}://127.0.0.1:{server.server_port}"
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    return server


@pytest.fixture
def upstream() -> Iterator[FakeUpstream]:
    """A running fake upstream (plain HTTP), stopped after the test."""
    fake = FakeUpstream()
    server = serve(fake)
    yield fake
    server.shutdown()
    server.server_close()
