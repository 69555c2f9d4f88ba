"""Writes through ``api.Dex`` bump the storage's change counter, so every worker and replica
sharing the storage picks the change up, and leave an audit record naming the caller (its
client certificate under mutual TLS); answers that changed nothing (``already_exists``,
``not_found``) and reads do neither."""

from __future__ import annotations

import json
from pathlib import Path

import bcrypt

from dex_py.config import StorageConfig
from dex_py.grpc_api import api_pb2 as pb
from dex_py.grpc_api.api_pb2_grpc import DexStub
from dex_py.serving.grpc_server import GrpcApi
from dex_py.storage import open_storage
from dex_py.storage.base import Storage
from tests.grpc_api.test_server import _channel
from tests.grpc_api.test_server import ca as ca  # fixtures reused
from tests.grpc_api.test_server import mtls_api as mtls_api
from tests.tls import CAFiles

HASH = bcrypt.hashpw(b"correct horse", bcrypt.gensalt(rounds=10))


def test_client_writes_bump_the_generation(api, storage: Storage) -> None:
    start = storage.generation()
    client = pb.Client(id="app", redirect_uris=["https://app.example.com/cb"])
    assert not api.CreateClient(pb.CreateClientReq(client=client)).already_exists
    assert storage.generation() == start + 1
    assert api.CreateClient(pb.CreateClientReq(client=client)).already_exists
    api.GetClient(pb.GetClientReq(id="app"))
    api.ListClients(pb.ListClientReq())
    assert storage.generation() == start + 1
    assert not api.UpdateClient(pb.UpdateClientReq(id="app", name="App")).not_found
    assert api.UpdateClient(pb.UpdateClientReq(id="nope", name="x")).not_found
    assert storage.generation() == start + 2
    assert not api.DeleteClient(pb.DeleteClientReq(id="app")).not_found
    assert api.DeleteClient(pb.DeleteClientReq(id="app")).not_found
    assert storage.generation() == start + 3


def test_password_writes_bump_the_generation(api, storage: Storage) -> None:
    start = storage.generation()
    password = pb.Password(email="jane@example.com", hash=HASH, username="jane", user_id="u-1")
    assert not api.CreatePassword(pb.CreatePasswordReq(password=password)).already_exists
    assert api.CreatePassword(pb.CreatePasswordReq(password=password)).already_exists
    assert storage.generation() == start + 1
    api.UpdatePassword(pb.UpdatePasswordReq(email="jane@example.com", new_username="Jane"))
    api.UpdatePassword(pb.UpdatePasswordReq(email="nobody@example.com", new_username="x"))
    api.ListPasswords(pb.ListPasswordReq())
    assert storage.generation() == start + 2
    api.DeletePassword(pb.DeletePasswordReq(email="jane@example.com"))
    api.DeletePassword(pb.DeletePasswordReq(email="jane@example.com"))
    assert storage.generation() == start + 3


def test_writes_are_audited_with_the_caller_and_no_secret(api, storage: Storage) -> None:
    client = pb.Client(id="app", secret="s3cret-s3cret-s3cret", redirect_uris=["https://a/cb"])
    api.CreateClient(pb.CreateClientReq(client=client))
    api.CreateClient(pb.CreateClientReq(client=client))  # already exists: nothing changed
    password = pb.Password(email="Jane@example.com", hash=HASH, username="jane", user_id="u-1")
    api.CreatePassword(pb.CreatePasswordReq(password=password))
    api.DeleteClient(pb.DeleteClientReq(id="app"))
    records = list(reversed(storage.list_audit_records(event="admin")))
    assert [(r.object, json.loads(r.details)["action"]) for r in records] == [
        ("client:app", "client.create"),
        ("user:jane@example.com", "user.create"),
        ("client:app", "client.delete"),
    ]
    assert all(r.actor.startswith("grpc:ipv4:127.0.0.1:") for r in records)
    text = repr(records)
    assert "s3cret" not in text and HASH.decode() not in text


def test_a_mutual_tls_caller_is_named_by_its_certificate(
    mtls_api: GrpcApi, ca: CAFiles, tmp_path: Path
) -> None:
    assert ca.client is not None
    with _channel(mtls_api, ca, (ca.client.cert, ca.client.key)) as channel:
        client = pb.Client(id="app", redirect_uris=["https://app.example.com/cb"])
        DexStub(channel).CreateClient(pb.CreateClientReq(client=client), timeout=10)
    storage = open_storage(StorageConfig("sqlite3", {"file": str(tmp_path / "dex.db")}))
    try:
        [record] = storage.list_audit_records(event="admin")
    finally:
        storage.close()  # type: ignore[attr-defined]
    assert (record.actor, record.object) == ("grpc:dex-py test client", "client:app")
