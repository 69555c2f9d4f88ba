"""Factories for the machine grants and ``private_key_jwt`` tests: an app with every grant
enabled and extra clients, client signing keys, signed client assertions, a local JWKS server,
and an independent (jwcrypto) reader of the tokens we issue."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from jwcrypto import jwk, jws

from dex_py.config import TOKEN_EXCHANGE_GRANT
from tests.oauth.conftest import BASE_CONFIG, ISSUER, App
from tests.oauth.conftest import make_app as make_app  # the fixture, re-exported

TOKEN_URL = ISSUER + "/token"
ALL_GRANTS = [
    "authorization_code",
    "refresh_token",
    "password",
    "client_credentials",
    TOKEN_EXCHANGE_GRANT,
]
MACHINE_ID = "machine"
MACHINE_SECRET = "machine-secret-machine-secret"
EXCHANGER_ID = "exchanger"
EXCHANGER_SECRET = "exchanger-secret-exchanger-secret"
KEYED_ID = "keyed"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ID_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:id_token"
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"

MACHINE_CLIENTS: list[dict[str, Any]] = [
    {"id": MACHINE_ID, "secret": MACHINE_SECRET, "grantTypes": ["client_credentials"]},
    {"id": EXCHANGER_ID, "secret": EXCHANGER_SECRET, "grantTypes": [TOKEN_EXCHANGE_GRANT]},
    {
        "id": "public-machine",
        "public": True,
        "grantTypes": ["client_credentials", TOKEN_EXCHANGE_GRANT],
    },
]
MACHINE_CONNECTORS: list[dict[str, Any]] = [
    {"type": "mockCallback", "id": "mock", "name": "Example"},
    {"type": "mockCallback", "id": "mock2", "name": "Second"},
    {
        "type": "mockPassword",
        "id": "mockpw",
        "name": "No exchange",
        "config": {"username": "u", "password": "p"},
    },
]


def machine_overrides(
    *, clients: list[dict[str, Any]] | None = None, grants: list[str] | None = None
) -> dict[str, Any]:
    """Config overrides: every grant enabled, the base clients plus the machine clients (and
    ``clients``), and connectors with and without the token-exchange capability."""
    return {
        "oauth2": {"grantTypes": grants if grants is not None else ALL_GRANTS},
        "staticClients": [*BASE_CONFIG["staticClients"], *MACHINE_CLIENTS, *(clients or [])],
        "connectors": MACHINE_CONNECTORS,
    }


def basic_auth(client_id: str, secret: str) -> dict[str, str]:
    token = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class ClientKey:
    """A client's private signing key and the JWK Set it publishes."""

    def __init__(self, alg: str = "ES256", kid: str | None = None) -> None:
        if alg == "ES256":
            self.jwk = jwk.JWK.generate(kty="EC", crv="P-256")
        else:
            self.jwk = jwk.JWK.generate(kty="RSA", size=2048)
        self.alg = alg
        self.kid = kid or self.jwk.thumbprint()

    def public(self) -> dict[str, Any]:
        members = self.jwk.export_public(as_dict=True)
        members.update(kid=self.kid, use="sig", alg=self.alg)
        return members

    def jwks(self, *others: ClientKey) -> dict[str, Any]:
        return {"keys": [self.public(), *(k.public() for k in others)]}

    def sign(self, claims: dict[str, Any], **header: Any) -> str:
        protected = {"alg": self.alg, "kid": self.kid, **header}
        protected = {k: v for k, v in protected.items() if v is not None}
        token = jws.JWS(json.dumps(claims).encode())
        token.add_signature(self.jwk, alg=self.alg, protected=json.dumps(protected))
        return token.serialize(compact=True)


def assertion_claims(app: App, client_id: str = KEYED_ID, **overrides: Any) -> dict[str, Any]:
    now = int(app.clock.now().timestamp())
    claims: dict[str, Any] = {
        "iss": client_id,
        "sub": client_id,
        "aud": TOKEN_URL,
        "exp": now + 120,
        "iat": now,
        "jti": secrets.token_urlsafe(12),
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def assertion_form(assertion: str, **extra: str) -> dict[str, str]:
    return {"client_assertion_type": ASSERTION_TYPE, "client_assertion": assertion, **extra}


def unsigned(header: dict[str, Any], claims: dict[str, Any], signature: bytes = b"") -> str:
    """A compact JWS with an arbitrary header and signature bytes (for forgeries)."""
    head = b64(json.dumps(header).encode())
    body = b64(json.dumps(claims).encode())
    return f"{head}.{body}.{b64(signature)}"


def hs256_forgery(claims: dict[str, Any], secret: bytes, kid: str) -> str:
    """An HS256 JWS keyed with ``secret`` (the classic "public key as HMAC secret" attack)."""
    head = b64(json.dumps({"alg": "HS256", "kid": kid}).encode())
    body = b64(json.dumps(claims).encode())
    mac = hmac.new(secret, f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{b64(mac)}"


def read_jwt(app: App, token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Header and claims of a token we issued, its signature checked by jwcrypto against
    ``/keys`` (an independent verifier; time claims are checked by the tests themselves)."""
    keys = jwk.JWKSet.from_json(app.client().get("/dex/keys").get_data(as_text=True))
    obj = jws.JWS()
    obj.deserialize(token)
    header = obj.jose_header
    obj.verify(keys.get_key(header["kid"]))
    return header, json.loads(obj.payload)


class JWKSServer:
    """A client's ``jwks_uri``: serves ``body`` with ``status`` and counts requests."""

    def __init__(self) -> None:
        self.body = b'{"keys":[]}'
        self.status = 200
        self.hits = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.hits += 1
                self.send_response(server.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(server.body)))
                self.end_headers()
                self.wfile.write(server.body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/jwks.json"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def publish(self, jwks: dict[str, Any]) -> None:
        self.body = json.dumps(jwks).encode()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def jwks_server() -> Iterator[JWKSServer]:
    server = JWKSServer()
    yield server
    server.close()


@pytest.fixture
def machine_app(make_app: Callable[..., App]) -> App:
    return make_app(**machine_overrides())
