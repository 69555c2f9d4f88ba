"""The password-database connector (``local``)."""

from __future__ import annotations

import bcrypt
import pytest

import connectors.local as local_module
from connectors import open_connector
from connectors.base import ConnectorError, Identity, Scopes
from connectors.local import LocalConnector, PasswordRecord, bcrypt_cost

# Dex's documented example user: the hash is bcrypt("password"), cost 10, "$2a$".
DEX_HASH = b"$2a$10$2b2cU8CPhOTaGrs1HRQuAueS7JTT5ZHsHSzYiFPm1leZck7Mc8T4W"


def _hash(plain: str) -> bytes:
    return bcrypt.hashpw(plain.encode(), bcrypt.gensalt(rounds=4))


@pytest.fixture
def users() -> dict[str, PasswordRecord]:
    return {
        "admin@example.com": PasswordRecord(
            email="admin@example.com",
            hash=DEX_HASH,
            username="admin",
            user_id="08a8684b-db88-4b73-90a9-3cd1661f5466",
            groups=("admins", "devs"),
        ),
        "jane@example.com": PasswordRecord(
            email="jane@example.com",
            hash=_hash("correct horse"),
            username="jane",
            user_id="jane-id",
        ),
    }


@pytest.fixture
def lookups() -> list[str]:
    return []


@pytest.fixture
def conn(users, lookups) -> LocalConnector:
    def lookup(email: str) -> PasswordRecord | None:
        lookups.append(email)
        return users.get(email)

    c = open_connector("local", {}, connector_id="local", password_lookup=lookup)
    assert isinstance(c, LocalConnector)
    return c


@pytest.fixture
def checkpw_calls(monkeypatch) -> list[bytes]:
    calls: list[bytes] = []
    real = bcrypt.checkpw

    def spy(password: bytes, hashed: bytes) -> bool:
        calls.append(hashed)
        return real(password, hashed)

    monkeypatch.setattr(local_module.bcrypt, "checkpw", spy)
    return calls


def test_dex_hash_for_password_verifies(conn):
    identity = conn.login(Scopes(), "admin@example.com", "password")
    assert identity == Identity(
        user_id="08a8684b-db88-4b73-90a9-3cd1661f5466",
        username="admin",
        preferred_username="admin",
        email="admin@example.com",
        email_verified=True,
        groups=(),
    )


def test_email_is_case_insensitive(conn, lookups):
    assert conn.login(Scopes(), "Jane@Example.COM", "correct horse") is not None
    assert lookups == ["jane@example.com"]


def test_groups_only_with_groups_scope(conn):
    with_groups = conn.login(Scopes(groups=True), "admin@example.com", "password")
    without = conn.login(Scopes(groups=False), "admin@example.com", "password")
    assert with_groups is not None and without is not None
    assert with_groups.groups == ("admins", "devs")
    assert without.groups == ()


def test_wrong_password(conn):
    assert conn.login(Scopes(), "jane@example.com", "wrong horse") is None


def test_unknown_user_still_spends_a_bcrypt_check(conn, checkpw_calls):
    assert conn.login(Scopes(), "nobody@example.com", "password") is None
    assert len(checkpw_calls) == 1
    assert checkpw_calls[0].startswith(b"$2b$10$")  # same cost as Dex's hashes


@pytest.fixture
def bcrypt_work(monkeypatch) -> list[int]:
    """The cost of every bcrypt operation (check or hash) run from here on."""
    costs: list[int] = []
    real_check, real_hash = bcrypt.checkpw, bcrypt.hashpw

    def check(password: bytes, hashed: bytes) -> bool:
        costs.append(bcrypt_cost(hashed) or -1)
        return real_check(password, hashed)

    def hashpw(password: bytes, salt: bytes) -> bytes:
        costs.append(bcrypt_cost(salt) or -1)
        return real_hash(password, salt)

    monkeypatch.setattr(local_module.bcrypt, "checkpw", check)
    monkeypatch.setattr(local_module.bcrypt, "hashpw", hashpw)
    return costs


@pytest.mark.parametrize("cost", [4, 5, 10])
def test_unknown_user_costs_one_bcrypt_operation_at_the_configured_cost(users, bcrypt_work, cost):
    """Issue 7 item 12: a miss costs what checking a typical stored hash costs, whatever that
    cost is; the first miss at a new cost makes the dummy hash (the same work) instead."""
    c = LocalConnector(users.get, password_cost=lambda: cost)
    for _ in range(3):
        bcrypt_work.clear()
        assert c.login(Scopes(), "nobody@example.com", "password") is None
        assert bcrypt_work == [cost]


def test_unusable_configured_cost_falls_back_to_dex_cost(users, bcrypt_work):
    def broken() -> int:
        raise RuntimeError("storage down")

    for password_cost in (lambda: 99, broken):
        c = LocalConnector(users.get, password_cost=password_cost)
        bcrypt_work.clear()
        assert c.login(Scopes(), "nobody@example.com", "password") is None
        assert bcrypt_work == [10]


def test_open_passes_the_cost_service(users, bcrypt_work):
    c = open_connector(
        "local", {}, connector_id="local", password_lookup=users.get, password_cost=lambda: 4
    )
    c.login(Scopes(), "nobody@example.com", "password")
    assert bcrypt_work == [4]


def test_bcrypt_cost_of_a_hash():
    assert bcrypt_cost(DEX_HASH) == 10
    assert bcrypt_cost(_hash("x")) == 4
    assert bcrypt_cost(b"$2y$12$" + b"x" * 53) == 12
    assert bcrypt_cost(b"not-bcrypt") is None


def test_empty_password_never_reaches_bcrypt(conn, checkpw_calls, lookups):
    assert conn.login(Scopes(), "admin@example.com", "") is None
    assert checkpw_calls == []
    assert lookups == []


def test_password_over_72_bytes_is_invalid(conn, users, checkpw_calls):
    long_pw = "é" * 37  # 74 bytes in UTF-8, 37 characters
    users["long@example.com"] = PasswordRecord(
        email="long@example.com",
        hash=_hash("x"),
        username="long",
        user_id="long-id",
    )
    assert conn.login(Scopes(), "long@example.com", long_pw) is None
    assert checkpw_calls == []
    # exactly 72 bytes is still a valid password
    pw72 = "a" * 72
    users["long@example.com"] = PasswordRecord(
        email="long@example.com", hash=_hash(pw72), username="long", user_id="long-id"
    )
    assert conn.login(Scopes(), "long@example.com", pw72) is not None


def test_corrupt_stored_hash_is_a_connector_error(conn, users):
    users["bad@example.com"] = PasswordRecord(
        email="bad@example.com", hash=b"not-bcrypt", username="bad", user_id="bad-id"
    )
    with pytest.raises(ConnectorError):
        conn.login(Scopes(), "bad@example.com", "password")


def test_lookup_failure_is_a_connector_error_without_details():
    def broken(email: str) -> PasswordRecord | None:
        raise RuntimeError("db password=hunter2")

    c = LocalConnector(broken)
    with pytest.raises(ConnectorError) as info:
        c.login(Scopes(), "a@example.com", "pw")
    assert "hunter2" not in str(info.value)


def test_refresh_returns_current_identity(conn, users):
    identity = conn.login(Scopes(groups=True), "admin@example.com", "password")
    assert identity is not None
    users["admin@example.com"] = PasswordRecord(
        email="admin@example.com",
        hash=DEX_HASH,
        username="administrator",
        user_id="08a8684b-db88-4b73-90a9-3cd1661f5466",
        groups=("admins",),
    )
    refreshed = conn.refresh(Scopes(groups=True), identity)
    assert refreshed.username == "administrator"
    assert refreshed.preferred_username == "administrator"
    assert refreshed.groups == ("admins",)
    assert conn.refresh(Scopes(groups=False), identity).groups == ()


def test_refresh_after_deletion_raises(conn, users):
    identity = conn.login(Scopes(), "jane@example.com", "correct horse")
    assert identity is not None
    del users["jane@example.com"]
    with pytest.raises(ConnectorError, match="no longer exists"):
        conn.refresh(Scopes(), identity)


def test_refresh_of_recreated_account_with_new_id_raises(conn, users):
    identity = conn.login(Scopes(), "jane@example.com", "correct horse")
    assert identity is not None
    users["jane@example.com"] = PasswordRecord(
        email="jane@example.com", hash=_hash("x"), username="jane", user_id="another-id"
    )
    with pytest.raises(ConnectorError, match="no longer exists"):
        conn.refresh(Scopes(), identity)


def test_prompt(conn):
    assert conn.prompt() == "Email Address"


def test_open_without_lookup_service_fails():
    with pytest.raises(TypeError, match="password_lookup"):
        LocalConnector.open({}, connector_id="local")
