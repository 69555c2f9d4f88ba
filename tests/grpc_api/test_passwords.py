"""Password calls of ``api.Dex``: bcrypt hashes only (cost 10..16), ``already_exists`` and
``not_found`` answers, and ``VerifyPassword``."""

from __future__ import annotations

import bcrypt
import grpc
import pytest

from dex_py.grpc_api import api_pb2 as pb
from dex_py.storage.base import Password, Storage
from dex_py.storage.static import StaticOverlay
from tests.grpc_api.conftest import serve

HASH = bcrypt.hashpw(b"correct horse", bcrypt.gensalt(rounds=10))


def _create(api, email: str = "Jane@Example.com", hash: bytes = HASH):
    return api.CreatePassword(
        pb.CreatePasswordReq(
            password=pb.Password(email=email, hash=hash, username="jane", user_id="u-1")
        )
    )


def test_create_verify_update_delete(api, storage: Storage) -> None:
    assert not _create(api).already_exists
    assert _create(api).already_exists
    assert storage.get_password("jane@example.com").user_id == "u-1"

    verify = api.VerifyPassword(
        pb.VerifyPasswordReq(email="jane@example.com", password="correct horse")
    )
    assert verify.verified and not verify.not_found
    wrong = api.VerifyPassword(pb.VerifyPasswordReq(email="jane@example.com", password="wrong"))
    assert not wrong.verified and not wrong.not_found
    unknown = api.VerifyPassword(pb.VerifyPasswordReq(email="who@example.com", password="x"))
    assert unknown.not_found and not unknown.verified

    new_hash = bcrypt.hashpw(b"battery staple", bcrypt.gensalt(rounds=10))
    resp = api.UpdatePassword(pb.UpdatePasswordReq(email="JANE@example.com", new_hash=new_hash))
    assert not resp.not_found
    assert api.VerifyPassword(
        pb.VerifyPasswordReq(email="jane@example.com", password="battery staple")
    ).verified
    assert storage.get_password("jane@example.com").username == "jane"
    assert api.UpdatePassword(pb.UpdatePasswordReq(email="x@y.z", new_username="n")).not_found

    listed = api.ListPasswords(pb.ListPasswordReq()).passwords
    assert [(p.email, p.username, p.user_id) for p in listed] == [
        ("jane@example.com", "jane", "u-1")
    ]
    assert not api.DeletePassword(pb.DeletePasswordReq(email="jane@example.com")).not_found
    assert api.DeletePassword(pb.DeletePasswordReq(email="jane@example.com")).not_found


@pytest.mark.parametrize(
    "hash",
    [
        b"plain text password",
        bcrypt.hashpw(b"cheap", bcrypt.gensalt(rounds=4)),  # below Dex's minimum cost
    ],
    ids=["plain-text", "cost-4"],  # stable ids: every xdist worker must collect the same tests
)
def test_create_refuses_what_is_not_an_acceptable_bcrypt_hash(api, storage: Storage, hash) -> None:
    with pytest.raises(grpc.RpcError) as e:
        _create(api, hash=hash)
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert storage.list_passwords() == []


def test_missing_fields_are_invalid(api) -> None:
    for call in (
        lambda: _create(api, email=""),
        lambda: api.UpdatePassword(pb.UpdatePasswordReq(email="a@b.c")),
        lambda: api.VerifyPassword(pb.VerifyPasswordReq(email="a@b.c")),
    ):
        with pytest.raises(grpc.RpcError) as e:
            call()
        assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_config_passwords_are_read_only(storage: Storage) -> None:
    static = Password(email="admin@example.com", hash=HASH, username="admin", user_id="a")
    server, stub, channel = serve(StaticOverlay(storage, passwords=[static]))
    try:
        with pytest.raises(grpc.RpcError) as e:
            stub.DeletePassword(pb.DeletePasswordReq(email="admin@example.com"))
        assert e.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert _create(stub, email="admin@example.com").already_exists
        assert stub.VerifyPassword(
            pb.VerifyPasswordReq(email="admin@example.com", password="correct horse")
        ).verified
    finally:
        channel.close()
        server.stop(grace=None)
