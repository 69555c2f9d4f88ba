"""Fixtures for the conformance suite: one live dex-py per test module, configured for the
OpenID Foundation's OP test plans (every response type enabled, the approval screen on, a second
client, a client with a query in its redirect URI and post-logout redirect URIs, and a
``private_key_jwt`` client whose keys are served from a local ``jwks_uri``).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from authlib.oauth2.rfc7523 import PrivateKeyJWT
from jwcrypto.jwk import JWK

from tests.conformance.rp import Browser, ClientInfo, RelyingParty
from tests.conformance.verifier import Verifier
from tests.live import (
    EXAMPLE_CLIENT_ID,
    EXAMPLE_CLIENT_SECRET,
    EXAMPLE_REDIRECT_URI,
    PUBLIC_CLIENT_ID,
    LiveServer,
    deep_merge,
    live_server,
)
from tests.services import free_port
from tests.tls import self_signed_cert

RESPONSE_TYPES = [
    "code",
    "id_token",
    "id_token token",
    "code id_token",
    "code token",
    "code id_token token",
]
QUERY_REDIRECT_URI = "http://127.0.0.1:5555/callback-q?foo=bar"
POST_LOGOUT_URI = "http://127.0.0.1:5555/post_logout_redirect"
SECOND_ID = "conformance-rp-2"
SECOND_SECRET = "conformance-rp-2-secret-Zm9vYmFyYmF6"
SECOND_REDIRECT_URI = "http://127.0.0.1:5557/callback"
KEYED_ID = "conformance-keyed"
KEYED_REDIRECT_URI = "http://127.0.0.1:5558/callback"

CLIENT = ClientInfo(EXAMPLE_CLIENT_ID, EXAMPLE_CLIENT_SECRET, EXAMPLE_REDIRECT_URI)
CLIENT_POST = ClientInfo(
    EXAMPLE_CLIENT_ID, EXAMPLE_CLIENT_SECRET, EXAMPLE_REDIRECT_URI, "client_secret_post"
)
SECOND = ClientInfo(SECOND_ID, SECOND_SECRET, SECOND_REDIRECT_URI)
PUBLIC = ClientInfo(PUBLIC_CLIENT_ID, None, EXAMPLE_REDIRECT_URI, "none")


class JWKSHost:
    """A client's ``jwks_uri``: a local HTTP server publishing whatever ``keys`` holds now."""

    def __init__(self) -> None:
        self.keys: list[JWK] = []
        host = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = json.dumps(
                    {"keys": [json.loads(k.export_public()) for k in host.keys]}
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def uri(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}/jwks"

    def new_key(self, kid: str) -> JWK:
        """Generate an RS256 key, publish it alone (an RP key rotation) and return it."""
        key = JWK.generate(kty="RSA", size=2048, kid=kid, alg="RS256", use="sig")
        self.keys = [key]
        return key

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def conformance_config(jwks_uri: str = "http://127.0.0.1:9/unused") -> dict[str, Any]:
    """Config overrides for the OP test plans (merged over ``tests.live.default_config``)."""
    return {
        "oauth2": {"responseTypes": RESPONSE_TYPES, "skipApprovalScreen": False},
        "staticClients": [
            {
                "id": EXAMPLE_CLIENT_ID,
                "secret": EXAMPLE_CLIENT_SECRET,
                "name": "Conformance RP",
                "redirectURIs": [EXAMPLE_REDIRECT_URI, QUERY_REDIRECT_URI],
                "postLogoutRedirectURIs": [POST_LOGOUT_URI],
            },
            {
                "id": SECOND_ID,
                "secret": SECOND_SECRET,
                "name": "Second RP",
                "redirectURIs": [SECOND_REDIRECT_URI],
            },
            {
                "id": PUBLIC_CLIENT_ID,
                "name": "Public CLI",
                "public": True,
                "redirectURIs": [EXAMPLE_REDIRECT_URI],
            },
            keyed_client(jwks_uri),
        ],
    }


@dataclass
class OP:
    """The live OP under test, with an independent verifier."""

    server: LiveServer
    verifier: Verifier
    jwks_host: JWKSHost | None = None
    browsers: list[Browser] = field(default_factory=list)

    @property
    def issuer(self) -> str:
        return self.server.issuer

    @property
    def meta(self) -> dict[str, Any]:
        return self.verifier.meta

    def browser(self) -> Browser:
        b = Browser(self.issuer)
        self.browsers.append(b)
        return b

    def rp(self, client: ClientInfo = CLIENT, **kw: Any) -> RelyingParty:
        return RelyingParty(self.verifier, client, **kw)


def keyed_client(jwks_uri: str) -> dict[str, Any]:
    """The ``private_key_jwt`` client, its keys published at ``jwks_uri``."""
    return {
        "id": KEYED_ID,
        "name": "Keyed RP",
        "redirectURIs": [KEYED_REDIRECT_URI],
        "tokenEndpointAuthMethod": "private_key_jwt",
        "jwksURI": jwks_uri,
    }


def keyed_rp(op: OP, kid: str, *, audience: str | None = None) -> RelyingParty:
    """The private_key_jwt client, signing assertions with a fresh key published at its
    jwks_uri (replacing any previous key: an RP key rotation)."""
    assert op.jwks_host is not None
    key = op.jwks_host.new_key(kid)
    pem = key.export_to_pem(private_key=True, password=None).decode()
    client = ClientInfo(KEYED_ID, pem, KEYED_REDIRECT_URI, "private_key_jwt")
    auth = PrivateKeyJWT(token_endpoint=audience, headers={"kid": kid})
    return op.rp(client, client_auth=auth)


def start_op(
    tmp_path_factory: pytest.TempPathFactory,
    overrides: dict[str, Any] | Callable[[str], dict[str, Any]] | None = None,
) -> Iterator[OP]:
    """Start a conformance-configured live server; yield it; stop it. ``overrides`` are
    deep-merged over ``conformance_config``; a callable gets the ``jwks_uri`` of the keyed
    client's key host and returns them."""
    host = JWKSHost()
    extra = overrides(host.uri) if callable(overrides) else overrides
    config = deep_merge(conformance_config(host.uri), extra or {})
    server = live_server(config, base_dir=tmp_path_factory.mktemp("conformance"))
    try:
        yield OP(server, Verifier(server.issuer), host)
    finally:
        server.stop()
        host.close()


@pytest.fixture(scope="module")
def op(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OP]:
    """One conformance-configured live OP per test module."""
    yield from start_op(tmp_path_factory)


@pytest.fixture(scope="module")
def https_op(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OP]:
    """A conformance OP served over HTTPS only (the Config OP plan requires https endpoints).
    ``REQUESTS_CA_BUNDLE`` points at its self-signed certificate while the module runs, so
    requests and authlib verify TLS for real."""
    cert, key = self_signed_cert(tmp_path_factory.mktemp("tls"))
    port = free_port()
    overrides = {
        "issuer": f"https://127.0.0.1:{port}/dex",
        "web": {
            "http": None,
            "https": f"127.0.0.1:{port}",
            "tlsCert": str(cert),
            "tlsKey": str(key),
        },
    }
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("REQUESTS_CA_BUNDLE", str(cert))
        host = JWKSHost()
        config = deep_merge(conformance_config(host.uri), overrides)
        server = live_server(config, base_dir=tmp_path_factory.mktemp("conformance"), port=port)
        try:
            yield OP(server, Verifier(server.issuer), host)
        finally:
            server.stop()
            host.close()
