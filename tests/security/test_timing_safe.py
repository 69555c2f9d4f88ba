"""Timing-safe secret checks.

Protection: client secrets (and PKCE verifiers, refresh-token secrets) are compared with
``hmac.compare_digest`` on fixed-length digests, so response time does not reveal how many
leading characters of a guess were right.

Why in-process: a live server's timing is far too noisy for a reliable test, and monkeypatching
cannot reach into another process. So these tests run the real token endpoint in-process (Flask
test client, memory storage) with a spy on ``hmac.compare_digest`` and show that (1) it is
called with the SHA-256 digests of the presented and the stored secret, and (2) its answer *is*
the decision: forcing it to ``True`` lets a wrong secret through, forcing it to ``False`` stops
the right one. An ``==`` comparison anywhere on the path would break (2).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable
from typing import Any

import bcrypt
import pytest
from flask.testing import FlaskClient

from connectors.local import bcrypt_cost
from dex_py import auth_codes, clients
from dex_py.app import create_app
from dex_py.config.loader import from_dict
from dex_py.passwords import hash_password
from dex_py.storage.memory import MemoryStorage

SECRET = "a-high-entropy-client-secret-0123456789"
CONFIG: dict[str, Any] = {
    "issuer": "http://127.0.0.1:5556/dex",
    "storage": {"type": "memory"},
    "web": {"http": "127.0.0.1:5556"},
    "staticClients": [{"id": "app", "secret": SECRET, "redirectURIs": ["http://127.0.0.1/cb"]}],
    "connectors": [{"type": "mockCallback", "id": "mock", "name": "Mock"}],
}


@pytest.fixture
def token_client() -> FlaskClient:
    app = create_app(from_dict(CONFIG), storage=MemoryStorage())
    return app.test_client()


class Spy:
    """Stands in for ``hmac.compare_digest``: records calls, answers like it or as forced."""

    def __init__(self, real: Callable[[Any, Any], bool]) -> None:
        self.real = real
        self.calls: list[tuple[Any, Any]] = []
        self.force: bool | None = None

    def __call__(self, a: Any, b: Any) -> bool:
        self.calls.append((a, b))
        return self.real(a, b) if self.force is None else self.force


@pytest.fixture
def spy(monkeypatch: pytest.MonkeyPatch) -> Spy:
    s = Spy(hmac.compare_digest)
    monkeypatch.setattr(clients.hmac, "compare_digest", s)  # the hmac module dex_py.clients uses
    return s


def token_request(client: FlaskClient, secret: str) -> tuple[int, dict[str, Any]]:
    resp = client.post(
        "/dex/token",
        data={
            "grant_type": "authorization_code",
            "code": "x",
            "redirect_uri": "http://127.0.0.1/cb",
        },
        auth=("app", secret),
    )
    return resp.status_code, resp.get_json()


def digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def test_client_secret_compared_with_compare_digest(token_client: FlaskClient, spy: Spy) -> None:
    """The token endpoint compares SHA-256 digests of the presented and stored secret with
    hmac.compare_digest (fixed length, constant time)."""
    status, body = token_request(token_client, "wrong-guess")
    assert status == 401 and body["error"] == "invalid_client"
    assert (digest("wrong-guess"), digest(SECRET)) in spy.calls


def test_compare_digest_decides_client_authentication(token_client: FlaskClient, spy: Spy) -> None:
    """The comparison's result is the decision (no ``==`` shortcut before or after it)."""
    spy.force = True
    status, body = token_request(token_client, "wrong-guess")
    assert body["error"] != "invalid_client", "forced True: the wrong secret got through"
    spy.force = False
    status, body = token_request(token_client, SECRET)
    assert status == 401 and body["error"] == "invalid_client", "forced False: refused"


def test_pkce_and_refresh_secrets_compared_in_constant_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """PKCE verifiers (S256 and plain) are checked with compare_digest too (refresh-token
    secrets go through the same call in ``grants``); ``auth_codes`` checks them for every
    redemption."""
    s = Spy(hmac.compare_digest)
    monkeypatch.setattr(auth_codes.hmac, "compare_digest", s)
    verifier = "v" * 43
    assert not auth_codes.pkce_matches("plain", "c" * 43, verifier)
    assert ("v" * 43, "c" * 43) in s.calls or (verifier, "c" * 43) in s.calls
    s.force = True
    assert auth_codes.pkce_matches("S256", "not-the-challenge", verifier)


def test_unknown_login_spends_a_check_at_the_cost_of_the_users_hashes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Issue 7 item 12, through the server's wiring: with every user hashed at cost 4, the
    password grant for an unknown address does cost-4 bcrypt work, not Dex's fixed cost 10, so
    its response time matches a known user's."""
    users = [
        {
            "email": f"u{i}@example.com",
            "hash": hash_password("pw", cost=4).decode(),
            "username": f"u{i}",
            "userID": f"u{i}",
        }
        for i in range(2)
    ]
    config = {
        **CONFIG,
        "enablePasswordDB": True,
        "oauth2": {"passwordConnector": "local"},
        "staticPasswords": users,
    }
    client = create_app(from_dict(config), storage=MemoryStorage()).test_client()
    costs: list[int | None] = []
    real_check, real_hash = bcrypt.checkpw, bcrypt.hashpw

    def check(password: bytes, hashed: bytes) -> bool:
        costs.append(bcrypt_cost(hashed))
        return real_check(password, hashed)

    def hashpw(password: bytes, salt: bytes) -> bytes:
        costs.append(bcrypt_cost(salt))
        return real_hash(password, salt)

    monkeypatch.setattr(bcrypt, "checkpw", check)
    monkeypatch.setattr(bcrypt, "hashpw", hashpw)
    for email in ("nobody@example.com", "u0@example.com", "nobody@example.com"):
        costs.clear()
        resp = client.post(
            "/dex/token",
            data={
                "grant_type": "password",
                "username": email,
                "password": "wrong",
                "scope": "openid",
            },
            headers={
                "Authorization": "Basic " + base64.b64encode(f"app:{SECRET}".encode()).decode()
            },
        )
        assert resp.status_code == 400 and resp.json["error"] == "invalid_grant"
        assert costs == [4], email
