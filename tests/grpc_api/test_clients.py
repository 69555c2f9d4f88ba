"""Client calls of ``api.Dex``: create (generated id/secret, ``already_exists``), get, update,
delete (``not_found``), list; config clients stay read-only."""

from __future__ import annotations

import grpc
import pytest

from dex_py.clients import check_secret
from dex_py.grpc_api import api_pb2 as pb
from dex_py.storage.base import Client, Storage
from dex_py.storage.memory import MemoryStorage
from dex_py.storage.static import StaticOverlay
from tests.grpc_api.conftest import serve


def test_create_generates_id_and_secret_and_stores_only_a_digest(api, storage: Storage) -> None:
    resp = api.CreateClient(pb.CreateClientReq(client=pb.Client(name="App")))
    assert not resp.already_exists
    created = resp.client
    assert created.id and len(created.secret) >= 32
    stored = storage.get_client(created.id)
    assert stored.secret_hash != created.secret
    assert check_secret(stored, created.secret)
    # the secret is shown once: a later read cannot return it
    assert api.GetClient(pb.GetClientReq(id=created.id)).client.secret == ""


def test_create_keeps_a_given_secret_and_public_clients_get_none(api, storage: Storage) -> None:
    given = api.CreateClient(
        pb.CreateClientReq(client=pb.Client(id="given", secret="s3cret-value", name="G"))
    ).client
    assert given.secret == "s3cret-value"
    assert check_secret(storage.get_client("given"), "s3cret-value")
    public = api.CreateClient(pb.CreateClientReq(client=pb.Client(id="cli", public=True))).client
    assert public.secret == "" and storage.get_client("cli").public


def test_create_twice_answers_already_exists_and_keeps_the_first(api, storage: Storage) -> None:
    api.CreateClient(pb.CreateClientReq(client=pb.Client(id="dup", name="first")))
    again = api.CreateClient(pb.CreateClientReq(client=pb.Client(id="dup", name="second")))
    assert again.already_exists
    assert storage.get_client("dup").name == "first"


def test_create_without_a_client_is_invalid(api) -> None:
    with pytest.raises(grpc.RpcError) as e:
        api.CreateClient(pb.CreateClientReq())
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_get_unknown_client_is_not_found(api) -> None:
    with pytest.raises(grpc.RpcError) as e:
        api.GetClient(pb.GetClientReq(id="nope"))
    assert e.value.code() == grpc.StatusCode.NOT_FOUND


def test_update_changes_only_the_given_fields(api, storage: Storage) -> None:
    api.CreateClient(
        pb.CreateClientReq(
            client=pb.Client(id="u", name="old", logo_url="https://l/x.png", redirect_uris=["a"])
        )
    )
    resp = api.UpdateClient(pb.UpdateClientReq(id="u", name="new", redirect_uris=["b", "c"]))
    assert not resp.not_found
    got = api.GetClient(pb.GetClientReq(id="u")).client
    assert (got.name, list(got.redirect_uris), got.logo_url) == (
        "new",
        ["b", "c"],
        "https://l/x.png",
    )
    assert api.UpdateClient(pb.UpdateClientReq(id="missing", name="x")).not_found


def test_delete_and_list(api, storage: Storage) -> None:
    for cid in ("one", "two"):
        api.CreateClient(pb.CreateClientReq(client=pb.Client(id=cid, redirect_uris=["r"])))
    assert not api.DeleteClient(pb.DeleteClientReq(id="one")).not_found
    assert api.DeleteClient(pb.DeleteClientReq(id="one")).not_found
    listed = api.ListClients(pb.ListClientReq()).clients
    assert [(c.id, list(c.redirect_uris)) for c in listed] == [("two", ["r"])]


def test_config_clients_are_read_only(storage: Storage) -> None:
    static = Client(id="static-app", secret_hash="", name="from config")
    server, stub, channel = serve(StaticOverlay(storage, clients=[static]))
    try:
        for call in (
            lambda: stub.UpdateClient(pb.UpdateClientReq(id="static-app", name="changed")),
            lambda: stub.DeleteClient(pb.DeleteClientReq(id="static-app")),
        ):
            with pytest.raises(grpc.RpcError) as e:
                call()
            assert e.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        taken = stub.CreateClient(pb.CreateClientReq(client=pb.Client(id="static-app")))
        assert taken.already_exists
        assert stub.GetClient(pb.GetClientReq(id="static-app")).client.name == "from config"
    finally:
        channel.close()
        server.stop(grace=None)


class _BrokenStorage(MemoryStorage):
    def list_clients(self) -> list[Client]:
        raise RuntimeError("database password is hunter2")


def test_a_failure_is_internal_and_tells_the_caller_nothing() -> None:
    server, stub, channel = serve(_BrokenStorage())
    try:
        with pytest.raises(grpc.RpcError) as e:
            stub.ListClients(pb.ListClientReq())
        assert e.value.code() == grpc.StatusCode.INTERNAL
        assert "hunter2" not in (e.value.details() or "")
    finally:
        channel.close()
        server.stop(grace=None)


def test_changes_are_not_kept_in_storage_when_the_audit_section_says_so(storage: Storage) -> None:
    server, stub, channel = serve(storage, store_audit=False)
    try:
        stub.CreateClient(pb.CreateClientReq(client=pb.Client(id="quiet", name="Q")))
    finally:
        channel.close()
        server.stop(grace=None)
    assert storage.get_client("quiet").name == "Q"
    assert storage.list_audit_records() == []


@pytest.mark.parametrize(
    "uris,logo",
    [
        (["javascript:alert(document.domain)"], ""),
        (["https://app.example.com/cb", "data:text/html,<script>x</script>"], ""),
        (["java\tscript:alert(1)"], ""),  # browsers drop the tab
        (["https://app.example.com/cb"], "javascript:alert(1)"),
    ],
)
def test_a_script_capable_or_malformed_uri_is_refused(
    api, storage: Storage, uris: list[str], logo: str
) -> None:
    """Dex stores any string; a form_post answer to a javascript: redirect URI would run script
    in the issuer's origin, so such a client is refused and nothing is stored."""
    client = pb.Client(id="risky", name="R", redirect_uris=uris, logo_url=logo)
    with pytest.raises(grpc.RpcError) as e:
        api.CreateClient(pb.CreateClientReq(client=client))
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert storage.list_clients() == []
    api.CreateClient(pb.CreateClientReq(client=pb.Client(id="fine", name="F")))
    with pytest.raises(grpc.RpcError) as e:
        api.UpdateClient(pb.UpdateClientReq(id="fine", redirect_uris=uris, logo_url=logo))
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert storage.get_client("fine").redirect_uris == ()
