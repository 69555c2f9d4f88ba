"""Writes through ``api.Dex`` bump the storage's change counter, so every worker and replica
sharing the storage picks the change up; answers that changed nothing (``already_exists``,
``not_found``) and reads leave it alone."""

from __future__ import annotations

import bcrypt

from dex_py.grpc_api import api_pb2 as pb
from dex_py.storage.base import Storage

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
