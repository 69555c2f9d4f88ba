"""Refresh token, connector, version and discovery calls of ``api.Dex``."""

from __future__ import annotations

import json
from dataclasses import replace

import grpc
import pytest

from dex_py import __version__
from dex_py.grpc_api import api_pb2 as pb
from dex_py.jose.tokens import encode_sub
from dex_py.revocation import grant_id_of
from dex_py.storage.base import Storage, grant_marker
from tests.grpc_api.conftest import serve
from tests.storage import factories


def test_list_and_revoke_refresh_tokens_of_one_user(api, storage: Storage) -> None:
    mine = factories.refresh_token(claims=factories.claims(user_id="u1"), client_id="app")
    other_client = factories.refresh_token(claims=factories.claims(user_id="u1"), client_id="b")
    other_conn = replace(mine, id="rt-other-conn", connector_id="github")
    other_user = factories.refresh_token(claims=factories.claims(user_id="u2"), client_id="app")
    for t in (mine, other_client, other_conn, other_user):
        storage.create_refresh_token(t)
    sub = encode_sub("u1", mine.connector_id)

    refs = api.ListRefresh(pb.ListRefreshReq(user_id=sub)).refresh_tokens
    assert sorted((r.id, r.client_id) for r in refs) == sorted(
        [(mine.id, "app"), (other_client.id, "b")]
    )
    ref = next(r for r in refs if r.id == mine.id)
    assert ref.created_at == int(mine.created_at.timestamp())
    assert ref.last_used == int(mine.last_used.timestamp())

    assert not api.RevokeRefresh(pb.RevokeRefreshReq(user_id=sub, client_id="app")).not_found
    remaining = {t.id for t in storage.list_refresh_tokens()}
    assert remaining == {other_client.id, other_conn.id, other_user.id}
    # the access tokens issued under the revoked chain are refused too, the others are not
    assert storage.is_access_token_revoked("some-jti", grant_id_of(mine.id))
    assert not storage.any_revoked([grant_marker(grant_id_of(other_client.id))])
    (record,) = storage.list_audit_records(event="admin")
    assert (record.object, json.loads(record.details)["action"]) == (
        f"user:{sub}",
        "refresh.revoke",
    )
    assert api.RevokeRefresh(pb.RevokeRefreshReq(user_id=sub, client_id="app")).not_found


def test_list_refresh_needs_an_id_token_subject(api) -> None:
    with pytest.raises(grpc.RpcError) as e:
        api.ListRefresh(pb.ListRefreshReq(user_id="!!not base64!!"))
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_connector_crud(api, storage: Storage) -> None:
    config = json.dumps({"issuer": "https://idp.example.com"}).encode()
    req = pb.CreateConnectorReq(
        connector=pb.Connector(id="oidc", type="oidc", name="IdP", config=config)
    )
    assert not api.CreateConnector(req).already_exists
    assert storage.generation() == 1  # running servers pick the change up
    assert api.CreateConnector(req).already_exists
    assert storage.generation() == 1  # nothing changed
    assert storage.get_connector("oidc").config == {"issuer": "https://idp.example.com"}
    assert not api.UpdateConnector(pb.UpdateConnectorReq(id="oidc", new_name="Other")).not_found
    assert storage.generation() == 2
    (listed,) = api.ListConnectors(pb.ListConnectorReq()).connectors
    assert (listed.name, json.loads(listed.config)) == (
        "Other",
        {"issuer": "https://idp.example.com"},
    )
    assert not api.DeleteConnector(pb.DeleteConnectorReq(id="oidc")).not_found
    assert storage.generation() == 3
    assert api.DeleteConnector(pb.DeleteConnectorReq(id="oidc")).not_found
    assert api.UpdateConnector(pb.UpdateConnectorReq(id="oidc", new_name="x")).not_found


def test_connector_calls_are_off_unless_switched_on(storage: Storage) -> None:
    server, stub, channel = serve(storage, connectors_crud=False)
    try:
        req = pb.CreateConnectorReq(connector=pb.Connector(id="c", type="oidc", name="n"))
        for call in (
            lambda: stub.CreateConnector(req),
            lambda: stub.ListConnectors(pb.ListConnectorReq()),
            lambda: stub.DeleteConnector(pb.DeleteConnectorReq(id="c")),
        ):
            with pytest.raises(grpc.RpcError) as e:
                call()
            assert e.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert storage.list_connectors() == []
    finally:
        channel.close()
        server.stop(grace=None)


def test_connector_config_must_be_a_json_object(api, storage: Storage) -> None:
    for raw in (b"{not json", b"[1, 2]"):
        req = pb.CreateConnectorReq(
            connector=pb.Connector(id="c", type="oidc", name="n", config=raw)
        )
        with pytest.raises(grpc.RpcError) as e:
            api.CreateConnector(req)
        assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert storage.list_connectors() == []


def test_version_and_discovery(api) -> None:
    version = api.GetVersion(pb.VersionReq())
    assert (version.server, version.api) == (__version__, 2)
    doc = api.GetDiscovery(pb.DiscoveryReq())
    assert doc.issuer == "https://dex.example.com"
    assert doc.token_endpoint == "https://dex.example.com/token"
    assert list(doc.grant_types_supported) == ["authorization_code", "client_credentials"]
