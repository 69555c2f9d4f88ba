"""Fixtures for the security matrix: one live dex-py per test module with clients restricted in
every way a policy can restrict them, two callback connectors plus the password DB, every grant
enabled, and helpers to forge tokens (with attacker keys, or — for time-validity checks only —
with the server's own signing key read from its storage, as an insider would have it).
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from jwcrypto.jwk import JWK
from jwcrypto.jws import JWS

from tests.conformance.conftest import (
    CLIENT,
    OP,
    POST_LOGOUT_URI,
    SECOND,
    SECOND_ID,
    SECOND_REDIRECT_URI,
    SECOND_SECRET,
    keyed_client,
    start_op,
)
from tests.conformance.rp import ClientInfo
from tests.live import (
    EXAMPLE_CLIENT_ID,
    EXAMPLE_CLIENT_SECRET,
    EXAMPLE_REDIRECT_URI,
    PUBLIC_CLIENT_ID,
)

__all__ = ["CLIENT", "OP", "SECOND", "ServerKey"]

TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ALL_GRANTS = [
    "authorization_code",
    "refresh_token",
    "password",
    "client_credentials",
    TOKEN_EXCHANGE,
]

CONN_ID, CONN_SECRET = "only-mock", "only-mock-secret-0123456789abcdef"
CONN_REDIRECT = "http://127.0.0.1:5561/callback"
CODE_ONLY_ID, CODE_ONLY_SECRET = "code-only", "code-only-secret-0123456789abcdef"
CODE_ONLY_REDIRECT = "http://127.0.0.1:5562/callback"
MACHINE_ID, MACHINE_SECRET = "machine", "machine-secret-0123456789abcdef"
GROUPS_ID, GROUPS_SECRET = "staff-only", "staff-only-secret-0123456789abcdef"
GROUPS_REDIRECT = "http://127.0.0.1:5563/callback"
PUBLIC = ClientInfo(PUBLIC_CLIENT_ID, None, EXAMPLE_REDIRECT_URI, "none")
CONN_CLIENT = ClientInfo(CONN_ID, CONN_SECRET, CONN_REDIRECT)
CODE_ONLY = ClientInfo(CODE_ONLY_ID, CODE_ONLY_SECRET, CODE_ONLY_REDIRECT)
GROUPS_CLIENT = ClientInfo(GROUPS_ID, GROUPS_SECRET, GROUPS_REDIRECT)


def security_config(jwks_uri: str) -> dict[str, Any]:
    """Overrides (over the conformance config) for the security servers; the keyed
    (``private_key_jwt``) client's keys are served at ``jwks_uri``."""
    return {
        "oauth2": {"grantTypes": ALL_GRANTS, "passwordConnector": "local"},
        "expiry": {"refreshTokens": {"reuseInterval": "1s"}},
        "connectors": [
            {"type": "mockCallback", "id": "mock", "name": "Mock A"},
            {"type": "mockCallback", "id": "mock2", "name": "Mock B"},
        ],
        "staticClients": [
            {
                "id": EXAMPLE_CLIENT_ID,
                "secret": EXAMPLE_CLIENT_SECRET,
                "name": "Example App",
                "redirectURIs": [EXAMPLE_REDIRECT_URI],
                "postLogoutRedirectURIs": [POST_LOGOUT_URI],
            },
            {
                "id": SECOND_ID,
                "secret": SECOND_SECRET,
                "name": "Second RP",
                "redirectURIs": [SECOND_REDIRECT_URI],
                "postLogoutRedirectURIs": ["http://127.0.0.1:5557/logged-out"],
            },
            {
                "id": PUBLIC_CLIENT_ID,
                "name": "Public CLI",
                "public": True,
                "redirectURIs": [EXAMPLE_REDIRECT_URI],
            },
            {
                "id": CONN_ID,
                "secret": CONN_SECRET,
                "redirectURIs": [CONN_REDIRECT],
                "allowedConnectors": ["mock"],
            },
            {
                "id": CODE_ONLY_ID,
                "secret": CODE_ONLY_SECRET,
                "redirectURIs": [CODE_ONLY_REDIRECT],
                "grantTypes": ["authorization_code"],
            },
            {
                "id": MACHINE_ID,
                "secret": MACHINE_SECRET,
                "grantTypes": ["client_credentials"],
            },
            {
                "id": GROUPS_ID,
                "secret": GROUPS_SECRET,
                "redirectURIs": [GROUPS_REDIRECT],
                "allowedGroups": ["no-such-team"],
            },
            keyed_client(jwks_uri),
        ],
    }


@pytest.fixture(scope="module")
def op(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OP]:
    """One security-configured live OP per test module."""
    yield from start_op(tmp_path_factory, security_config)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def compact(header: dict[str, Any], claims: dict[str, Any], signature: bytes = b"") -> str:
    return f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}.{b64(signature)}"


def sign_with(key: JWK, header: dict[str, Any], claims: dict[str, Any]) -> str:
    jws = JWS(json.dumps(claims).encode())
    jws.add_signature(key, alg=header["alg"], protected=header)
    return str(jws.serialize(compact=True))


class ServerKey:
    """The live server's current private signing key, read from its storage (the test harness
    is the insider here): lets a test make tokens that are *validly signed* but invalid in time,
    so a rejection can only come from the time checks."""

    def __init__(self, op: OP) -> None:
        from dex_py.config.loader import load
        from dex_py.storage import open_storage

        config = load(op.server.config_path)
        storage = open_storage(config.storage)
        try:
            self.jwk = JWK.from_json(storage.get_keys().signing_key)
        finally:
            storage.close()
        self.kid = str(self.jwk.get("kid"))
        self.alg = str(self.jwk.get("alg"))

    def sign(self, claims: dict[str, Any], typ: str | None = "at+jwt") -> str:
        header: dict[str, Any] = {"alg": self.alg, "kid": self.kid}
        if typ:
            header["typ"] = typ
        return sign_with(self.jwk, header, claims)


def now() -> int:
    return int(time.time())


def connector_of(sub: str) -> str:
    """The connector id inside a Dex ``sub`` (protobuf field 2), decoded independently."""
    data = base64.urlsafe_b64decode(sub + "=" * (-len(sub) % 4))
    pos, fields = 0, {}
    while pos < len(data):
        tag, length = data[pos], data[pos + 1]
        fields[tag >> 3] = data[pos + 2 : pos + 2 + length].decode()
        pos += 2 + length
    return fields.get(2, "")
