"""What the conformance suite cannot see of etcd storage: compare-and-swap against another
process's write, leases, endpoint failover, role-based authentication, and its config keys."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from dex_py.config import StorageConfig
from dex_py.storage import (
    DATABASE_UNAVAILABLE,
    StorageConfigError,
    etcd_client,
    etcd_table,
    open_storage,
)
from dex_py.storage.base import Client, Storage
from dex_py.storage.etcd import EtcdStorage
from dex_py.storage.etcd_client import EtcdClient, EtcdError, EtcdUnavailable
from dex_py.storage.etcd_settings import EtcdSettings
from dex_py.storage.etcd_table import GRACE, lease_end
from dex_py.storage.settings import validate_storage_config
from tests.etcd_server import EtcdTLS, etcd_server
from tests.services import free_port
from tests.storage import factories as f
from tests.storage.conftest import Namespaces, open_clean_etcd
from tests.storage.factories import T0
from tests.tls import make_test_ca

pytestmark = pytest.mark.etcd


@pytest.fixture
def etcd_config(namespaces: Namespaces) -> StorageConfig:
    return namespaces.create("etcd")


@pytest.fixture
def etcd(etcd_config: StorageConfig) -> Iterator[EtcdStorage]:
    storage = open_clean_etcd(etcd_config)
    yield storage
    storage.close()


@pytest.fixture
def other(etcd_config: StorageConfig) -> Iterator[EtcdStorage]:
    """A second storage on the same namespace, as another worker or replica has it."""
    storage = open_storage(etcd_config, migrate=False)
    assert isinstance(storage, EtcdStorage)
    yield storage
    storage.close()


def test_an_update_that_lost_a_race_is_retried_on_the_winners_value(
    etcd: EtcdStorage, other: EtcdStorage
) -> None:
    etcd.create_client(f.client(id="app", name="0", redirect_uris=()))
    seen: list[Client] = []

    def add_uri(old: Client) -> Client:
        seen.append(old)
        if len(seen) == 1:  # another replica writes between our read and our write
            other.update_client("app", lambda c: replace(c, name="other"))
        return replace(old, redirect_uris=(*old.redirect_uris, "https://a/cb"))

    new = etcd.update_client("app", add_uri)
    assert [c.name for c in seen] == ["0", "other"]
    assert new.name == "other" and new.redirect_uris == ("https://a/cb",)
    assert etcd.get_client("app") == new  # neither write lost


def test_redeem_that_lost_a_race_sees_the_code_used(etcd: EtcdStorage, other: EtcdStorage) -> None:
    code = f.auth_code(used_at=None)
    etcd.create_auth_code(code)
    issued: list[str] = []

    def use(c):  # type: ignore[no-untyped-def]
        if c.used_at is None and not issued:
            other.update_auth_code(code.id, lambda o: replace(o, used_at=T0))
        return c if c.used_at else replace(c, used_at=T0 + timedelta(seconds=1))

    def issue(c):  # type: ignore[no-untyped-def]
        token = f.refresh_token()
        issued.append(token.id)
        return None if c.used_at == T0 else token

    got = etcd.redeem_auth_code(code.id, use, issue)
    assert got.used_at == T0  # the other redemption won; ours wrote nothing
    assert len(issued) == 2
    assert etcd.list_refresh_tokens() == []


def _lease_of(storage: EtcdStorage, path: str) -> int:
    kv = storage.client.get(storage.t.namespace + path)
    assert kv is not None
    return kv.lease


def test_expiring_records_are_put_under_a_lease_past_their_expiry(etcd: EtcdStorage) -> None:
    soon = datetime.now(UTC) + timedelta(minutes=5)
    req = f.auth_request(expiry=soon)
    etcd.create_auth_request(req)
    lease = _lease_of(etcd, f"auth-requests/{req.id}")
    ttl = etcd.client.lease_ttl(lease)
    limit = (soon - datetime.now(UTC) + GRACE).total_seconds() + 61
    assert (soon - datetime.now(UTC)).total_seconds() < ttl <= limit

    forever = f.refresh_token(expiry=None)
    etcd.create_refresh_token(forever)
    assert _lease_of(etcd, f"refresh-tokens/{forever.id}") == 0
    etcd.create_client(f.client(id="c1"))
    assert _lease_of(etcd, "clients/c1") == 0

    session = f.session(expiry=soon)
    etcd.create_session(session)
    first = _lease_of(etcd, f"sessions/{session.id}")
    etcd.update_session(session.id, lambda s: replace(s, expiry=soon + timedelta(hours=1)))
    later = _lease_of(etcd, f"sessions/{session.id}")
    assert later != first and etcd.client.lease_ttl(later) > ttl + 3000


def test_when_the_lease_ends_etcd_drops_the_record_and_a_new_lease_is_granted(
    etcd: EtcdStorage,
) -> None:
    expiry = datetime.now(UTC) + timedelta(minutes=1)
    code = f.auth_code(expiry=expiry)
    etcd.create_auth_code(code)
    etcd.revoke_access_token("jti-1", expiry)
    lease = _lease_of(etcd, f"auth-codes/{code.id}")
    etcd.client.call("lease/revoke", {"ID": str(lease)})  # as if its time had come
    with pytest.raises(Exception, match="not found"):
        etcd.get_auth_code(code.id)
    assert not etcd.is_access_token_revoked("jti-1")
    again = f.auth_code(expiry=expiry)
    etcd.create_auth_code(again)  # the cached lease is gone: a fresh one is granted
    assert etcd.get_auth_code(again.id) == again
    assert _lease_of(etcd, f"auth-codes/{again.id}") != lease


def test_device_user_code_index_follows_its_request(etcd: EtcdStorage) -> None:
    req = f.device_request(expiry=datetime.now(UTC) + timedelta(minutes=5))
    etcd.create_device_request(req)
    index = f"device-user-codes/{req.user_code}"
    assert _lease_of(etcd, index) == _lease_of(etcd, f"device-requests/{req.id}") != 0
    etcd.delete_device_request(req.id)
    assert etcd.client.get(etcd.t.namespace + index) is None


def test_an_unreachable_endpoint_is_skipped(etcd_config: StorageConfig) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    live = etcd_config.config["endpoints"]
    cfg = StorageConfig("etcd", {**etcd_config.config, "endpoints": [dead, *live]})
    storage = open_storage(cfg, migrate=False)
    storage.create_client(f.client(id="via-second"))
    assert storage.get_client("via-second").id == "via-second"
    storage.close()


def test_no_reachable_endpoint_is_unavailable_storage() -> None:
    storage = open_storage(
        StorageConfig("etcd", {"endpoints": [f"http://127.0.0.1:{free_port()}"]}), migrate=False
    )
    with pytest.raises(EtcdUnavailable) as caught:
        storage.ping()
    assert isinstance(caught.value, DATABASE_UNAVAILABLE)  # answered 503, like a database down


def test_role_based_authentication(tmp_path: Path) -> None:
    """An etcd of this test's own with auth enabled: the right password works, a wrong one is
    refused, and an expired token is replaced by logging in again."""
    with etcd_server(tmp_path / "etcd") as url:
        admin = EtcdClient(EtcdSettings(endpoints=(url,)))
        admin.call("auth/role/add", {"name": "root"})
        admin.call("auth/user/add", {"name": "root", "password": "s3cret"})
        admin.call("auth/user/grant", {"user": "root", "role": "root"})
        admin.call("auth/enable", {})
        with pytest.raises(EtcdError, match=r"user name is empty|permission denied|auth"):
            admin.get("anything")
        good = {"endpoints": [url], "username": "root", "password": "s3cret", "namespace": "d/"}
        storage = open_storage(StorageConfig("etcd", good), migrate=False)
        assert isinstance(storage, EtcdStorage)
        storage.create_client(f.client(id="authed"))
        storage.client._token = "expired.token"  # as etcd forgets tokens after their TTL
        assert storage.get_client("authed").id == "authed"
        wrong = StorageConfig("etcd", {**good, "password": "wrong"})
        with pytest.raises(EtcdError, match="authentication failed"):
            open_storage(wrong, migrate=False).ping()


@pytest.mark.parametrize(
    ("config", "key", "message"),
    [
        ({}, "storage.config.endpoints", "required"),
        ({"endpoints": "ftp://x:1"}, "storage.config.endpoints[0]", "http or https"),
        ({"endpoints": ["http://x:1/path"]}, "storage.config.endpoints[0]", "host:port only"),
        ({"endpoints": [1]}, "storage.config.endpoints", "list of URLs"),
        ({"endpoints": ["x:1"], "password": "p"}, "storage.config.username", "required"),
        ({"endpoints": ["x:1"], "ssl": {"caFile": "/nope.pem"}}, "storage.config.ssl.caFile", "no"),
        ({"endpoints": ["x:1"], "ssl": "yes"}, "storage.config.ssl", "mapping"),
    ],
)
def test_bad_settings_name_their_key(config: dict, key: str, message: str) -> None:
    with pytest.raises(StorageConfigError) as caught:
        validate_storage_config(StorageConfig("etcd", config))
    assert any(k == key and message in m for k, m in caught.value.errors), caught.value.errors


def test_settings_accept_dex_keys_and_warn_about_others(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("x")
    conf = {
        "endpoints": ["10.0.0.1:2379", "https://etcd.example:2379"],
        "namespace": "dex/",
        "username": "dex",
        "password": "pw",
        "ssl": {"serverName": "etcd.internal", "caFile": str(ca), "colour": 1},
        "dialTimeout": 5,
    }
    warnings = validate_storage_config(StorageConfig("etcd", conf))
    assert sorted(warnings) == [
        "storage.config.dialTimeout: unknown key, ignored",
        "storage.config.ssl.colour: unknown key, ignored",
    ]
    storage = open_storage(StorageConfig("etcd", conf), migrate=False)
    assert isinstance(storage, EtcdStorage)
    settings = storage.client.settings
    assert settings.endpoints == ("https://10.0.0.1:2379", "https://etcd.example:2379")
    assert settings.server_name == "etcd.internal"
    assert "pw" not in repr(storage)


def test_tls_with_client_certificate_and_server_name(tmp_path: Path) -> None:
    """An etcd on HTTPS that requires a client certificate: the ``ssl`` keys reach it; a wrong
    ``serverName``, a missing CA or a missing client certificate is refused."""
    ca = make_test_ca(tmp_path / "pki", client=True)  # server: 127.0.0.1 and localhost
    assert ca.client is not None
    client = ca.client
    tls = EtcdTLS(ca.cert_pem, ca.key_pem, ca.ca_pem, client.cert, client.key, ca.ca_pem)
    with etcd_server(tmp_path / "etcd", tls) as url:
        ssl = {"caFile": str(ca.ca_pem), "certFile": str(client.cert), "keyFile": str(client.key)}

        def storage(**over: Any) -> Storage:
            conf = {"endpoints": [url], "namespace": "tls/", "ssl": ssl | over}
            return open_storage(StorageConfig("etcd", conf), migrate=False)

        good = storage()
        good.create_client(f.client(id="over-tls"))
        assert storage(serverName="localhost").get_client("over-tls").id == "over-tls"
        for bad in (
            storage(serverName="etcd.elsewhere.example"),
            storage(caFile=None),
            storage(certFile=None, keyFile=None),
        ):
            with pytest.raises(EtcdUnavailable, match="SSLError"):
                bad.ping()


def test_a_gateway_that_cannot_reach_etcd_means_unavailable_storage(tmp_path: Path) -> None:
    """etcd's gateway reaches etcd with the server certificate; one not valid for client
    authentication makes every answer a 503, which is "storage unavailable", not a crash."""
    server = make_test_ca(tmp_path / "server")  # server authentication only
    clients = make_test_ca(tmp_path / "clients", client=True)
    assert clients.client is not None
    tls = EtcdTLS(
        server.cert_pem,
        server.key_pem,
        server.ca_pem,
        clients.client.cert,
        clients.client.key,
        clients.ca_pem,
    )
    with etcd_server(tmp_path / "etcd", tls) as url:
        ssl = {
            "caFile": str(server.ca_pem),
            "certFile": str(clients.client.cert),
            "keyFile": str(clients.client.key),
        }
        storage = open_storage(
            StorageConfig("etcd", {"endpoints": [url], "ssl": ssl}), migrate=False
        )
        with pytest.raises(EtcdUnavailable):
            storage.get_client("any")


def test_leases_are_few_however_far_the_expiries() -> None:
    wall = datetime(2026, 12, 4, 12, 0, 30, tzinfo=UTC).timestamp()
    ends = {
        lease_end(datetime.fromtimestamp(wall, UTC) + timedelta(seconds=s), wall)
        for s in range(0, 400 * 86400, 600)  # an expiry every 10 minutes for 400 days
    }
    assert len(ends) < 600
    for seconds in (-3600, 0, 59, 3000, 86400 * 3, 86400 * 300):
        expiry = datetime.fromtimestamp(wall + seconds, UTC)
        end = lease_end(expiry, wall)
        assert end >= max(expiry.timestamp(), wall) + GRACE.total_seconds()


def test_an_update_waiting_on_another_update_of_its_key_does_not_deadlock(
    etcd: EtcdStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The in-process lock is only an optimisation: an ``fn`` that waits for another thread's
    update of the same key lets it through (after ``LOCK_WAIT``) and then retries on its value."""
    monkeypatch.setattr(etcd_table, "LOCK_WAIT", 0.2)
    etcd.create_client(f.client(id="app", name="0"))
    calls: list[str] = []

    def outer(old: Client) -> Client:
        calls.append(old.name)
        if len(calls) == 1:
            inner = threading.Thread(
                target=etcd.update_client, args=("app", lambda c: replace(c, name="inner"))
            )
            inner.start()
            inner.join()
        return replace(old, name=old.name + "+outer")

    assert etcd.update_client("app", outer).name == "inner+outer"
    assert calls == ["0", "inner"]


def test_a_listing_outlives_a_compaction_between_its_pages(
    etcd: EtcdStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(etcd_client, "PAGE", 2)
    for i in range(5):
        etcd.create_client(f.client(id=f"c{i}"))
    pages = etcd.client.scan(etcd.t.namespace + "clients/")
    first = [next(pages).key, next(pages).key]
    etcd.update_client("c0", lambda c: replace(c, name="moved on"))
    revision = int(etcd.client.call("kv/range", {"key": "eA=="})["header"]["revision"])
    etcd.client.call("kv/compaction", {"revision": str(revision)})
    rest = [kv.key for kv in pages]
    assert [k.rsplit("/", 1)[1] for k in first + rest] == [f"c{i}" for i in range(5)]
