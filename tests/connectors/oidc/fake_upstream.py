"""A small fake OpenID Provider the tests control, for the failure cases a real provider will not
produce: wrong ``aud``/``iss``, expired tokens, bad signatures, ``alg: none``, a wrong nonce, key
rotation, userinfo for another subject.

It serves discovery, ``/jwks``, ``/auth`` (logs in ``alice`` at once and redirects back with a
code), ``/token`` (authorization code and refresh grants, client_secret_basic/_post or none, PKCE)
and ``/userinfo`` from a thread on a free port. Tokens are signed with jwcrypto; tests tweak
``claim_overrides``, ``header_overrides``, ``raw_id_token``, ``sign_key`` and friends.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from flask import Flask, Response, jsonify, redirect, request
from jwcrypto.jwk import JWK
from jwcrypto.jws import JWS
from werkzeug.serving import make_server

CLIENT_ID = "dexpy"
CLIENT_SECRET = "fake-secret"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def new_key(kid: str) -> JWK:
    return JWK.generate(kty="EC", crv="P-256", kid=kid, use="sig")


def sign(claims: dict[str, Any], key: JWK, *, alg: str = "ES256", **header: Any) -> str:
    jws = JWS(json.dumps(claims).encode())
    protected = {"alg": alg, "kid": key.get("kid"), **header}
    jws.add_signature(key, alg=alg, protected=json.dumps(protected))
    return jws.serialize(compact=True)


def unsigned(claims: dict[str, Any]) -> str:
    """An ``alg: none`` JWT (RFC 7519 §6)."""
    header = b64url(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    return f"{header}.{b64url(json.dumps(claims).encode())}."


@dataclass
class Grant:
    user: str
    nonce: str
    redirect_uri: str
    code_challenge: str = ""


@dataclass
class FakeUpstream:
    issuer: str = ""
    keys: list[JWK] = field(default_factory=lambda: [new_key("k1")])
    sign_key: JWK | None = None  # default: keys[0]
    claim_overrides: dict[str, Any] = field(default_factory=dict)  # None values delete
    header_overrides: dict[str, Any] = field(default_factory=dict)
    raw_id_token: str | None = None  # returned verbatim when set
    omit_id_token_on_refresh: bool = False
    userinfo_overrides: dict[str, Any] = field(default_factory=dict)
    discovery_overrides: dict[str, Any] = field(default_factory=dict)
    groups: dict[str, list[str]] = field(
        default_factory=lambda: {"alice": ["admins", "devs"], "bob": ["devs"]}
    )
    login_user: str = "alice"
    codes: dict[str, Grant] = field(default_factory=dict)
    refresh_tokens: dict[str, str] = field(default_factory=dict)  # token -> user
    access_tokens: dict[str, str] = field(default_factory=dict)
    token_requests: list[dict[str, Any]] = field(default_factory=list)
    jwks_requests: int = 0
    discovery_requests: int = 0

    # --- helpers for tests ------------------------------------------------------------------

    def user_claims(self, user: str) -> dict[str, Any]:
        return {
            "sub": user,
            "name": user.capitalize(),
            "preferred_username": user,
            "email": f"{user}@fake.example.org",
            "email_verified": True,
            "groups": self.groups.get(user, ["users"]),
        }

    def id_token(self, user: str, *, nonce: str | None = None, **extra: Any) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": CLIENT_ID,
            "iat": now,
            "exp": now + 300,
            **self.user_claims(user),
        }
        if nonce is not None:
            claims["nonce"] = nonce
        claims.update(extra)
        claims.update(self.claim_overrides)
        claims = {k: v for k, v in claims.items() if v is not None}
        if self.raw_id_token is not None:
            return self.raw_id_token
        key = self.sign_key or self.keys[0]
        return sign(claims, key, **self.header_overrides)

    def rotate(self, kid: str = "k2") -> JWK:
        """Replace the signing keys with a fresh one (same ``kid`` allowed)."""
        key = new_key(kid)
        self.keys = [key]
        self.sign_key = None
        return key

    def _tokens(self, user: str, *, nonce: str | None, refresh: bool) -> dict[str, Any]:
        access = secrets.token_urlsafe(16)
        self.access_tokens[access] = user
        rt = secrets.token_urlsafe(16)
        self.refresh_tokens[rt] = user
        out: dict[str, Any] = {
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": 300,
            "refresh_token": rt,
        }
        if not (refresh and self.omit_id_token_on_refresh):
            out["id_token"] = self.id_token(user, nonce=nonce)
        return out

    # --- the WSGI app -----------------------------------------------------------------------

    def app(self) -> Flask:
        app = Flask("fake_upstream")

        @app.get("/.well-known/openid-configuration")
        def discovery() -> Any:
            self.discovery_requests += 1
            doc = {
                "issuer": self.issuer,
                "authorization_endpoint": self.issuer + "/auth",
                "token_endpoint": self.issuer + "/token",
                "jwks_uri": self.issuer + "/jwks",
                "userinfo_endpoint": self.issuer + "/userinfo",
                "scopes_supported": ["openid", "profile", "email", "groups", "offline_access"],
                "authorization_response_iss_parameter_supported": True,
                **self.discovery_overrides,
            }
            return jsonify({k: v for k, v in doc.items() if v is not None})

        @app.get("/jwks")
        def jwks() -> Any:
            self.jwks_requests += 1
            return jsonify({"keys": [k.export_public(as_dict=True) for k in self.keys]})

        @app.get("/auth")
        def auth() -> Any:
            args = request.args
            if args.get("client_id") != CLIENT_ID or args.get("response_type") != "code":
                return Response("bad request", 400)
            code = secrets.token_urlsafe(16)
            self.codes[code] = Grant(
                self.login_user,
                args.get("nonce", ""),
                args["redirect_uri"],
                args.get("code_challenge", ""),
            )
            query = urlencode({"code": code, "state": args.get("state", ""), "iss": self.issuer})
            return redirect(f"{args['redirect_uri']}?{query}", code=302)

        def error(code: str, status: int = 400) -> Response:
            resp = jsonify({"error": code})
            resp.status_code = status
            return resp

        @app.post("/token")
        def token() -> Any:
            form = request.form.to_dict()
            auth = request.authorization
            self.token_requests.append({"form": form, "basic": bool(auth and auth.type == "basic")})
            client_id = auth.username if auth and auth.type == "basic" else form.get("client_id")
            secret = auth.password if auth and auth.type == "basic" else form.get("client_secret")
            if client_id != CLIENT_ID or secret != CLIENT_SECRET:
                return error("invalid_client", 401)
            if form.get("grant_type") == "authorization_code":
                grant = self.codes.pop(form.get("code", ""), None)
                if grant is None or grant.redirect_uri != form.get("redirect_uri"):
                    return error("invalid_grant")
                if grant.code_challenge:
                    verifier = form.get("code_verifier", "")
                    digest = b64url(hashlib.sha256(verifier.encode()).digest())
                    if digest != grant.code_challenge:
                        return error("invalid_grant")
                return jsonify(self._tokens(grant.user, nonce=grant.nonce, refresh=False))
            if form.get("grant_type") == "refresh_token":
                user = self.refresh_tokens.pop(form.get("refresh_token", ""), None)
                if user is None:
                    return error("invalid_grant")
                return jsonify(self._tokens(user, nonce=None, refresh=True))
            return error("unsupported_grant_type")

        @app.get("/userinfo")
        def userinfo() -> Any:
            header = request.headers.get("Authorization", "")
            user = self.access_tokens.get(header.removeprefix("Bearer "))
            if user is None:
                return error("invalid_token", 401)
            return jsonify({**self.user_claims(user), **self.userinfo_overrides})

        return app


@contextmanager
def serve_fake_upstream(ssl_context: Any = None) -> Iterator[FakeUpstream]:
    """Run a ``FakeUpstream`` on a free port for the duration of the block (over HTTPS when
    ``ssl_context`` is given)."""
    fake = FakeUpstream()
    app = fake.app()
    server = make_server("127.0.0.1", 0, app, threaded=True, ssl_context=ssl_context)
    scheme = "https" if ssl_context is not None else "http"
    fake.issuer = f"{scheme}://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        thread.join()
        server.server_close()
