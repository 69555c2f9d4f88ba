"""``dex-py serve`` with ``grpc.addr`` on loopback: a client created over gRPC (with our
generated stub) logs a user in through the code flow at once, a password created over gRPC
signs in, the refresh token shows up in ``ListRefresh``, and the API stops with the server."""

from __future__ import annotations

from collections.abc import Callable

import bcrypt
import grpc
import pytest

from dex_py.config.grpc_rules import PLAINTEXT_WARNING
from dex_py.grpc_api import api_pb2 as pb
from dex_py.grpc_api import api_pb2_grpc
from dex_py.jose.tokens import encode_sub
from tests.live import EXAMPLE_REDIRECT_URI, LiveServer, verify_id_token
from tests.login_flow import example_client, pkce_login
from tests.services import free_port

pytestmark = pytest.mark.live


@pytest.mark.parametrize("engine", ["granian", "gunicorn"])
def test_a_client_created_over_grpc_works_at_the_token_endpoint(
    make_live_server: Callable[..., LiveServer], engine: str
) -> None:
    grpc_addr = f"127.0.0.1:{free_port()}"
    server = make_live_server({"grpc": {"addr": grpc_addr}, "server": {"engine": engine}})
    assert PLAINTEXT_WARNING in server.log_text()  # loopback without TLS: said loudly
    with grpc.insecure_channel(grpc_addr) as channel:
        stub = api_pb2_grpc.DexStub(channel)
        created = stub.CreateClient(
            pb.CreateClientReq(
                client=pb.Client(name="Made over gRPC", redirect_uris=[EXAMPLE_REDIRECT_URI])
            )
        ).client
        hash = bcrypt.hashpw(b"grpc-made password", bcrypt.gensalt(rounds=10))
        stub.CreatePassword(
            pb.CreatePasswordReq(
                password=pb.Password(
                    email="grpc@example.com", hash=hash, username="grpc", user_id="grpc-user"
                )
            )
        )
        client = example_client(client_id=created.id, client_secret=created.secret)
        token, nonce = pkce_login(
            server, client, "openid email offline_access", "grpc@example.com", "grpc-made password"
        )
        claims = verify_id_token(server.issuer, token["id_token"], audience=created.id, nonce=nonce)
        assert claims["email"] == "grpc@example.com"

        refs = stub.ListRefresh(pb.ListRefreshReq(user_id=claims["sub"])).refresh_tokens
        assert [r.client_id for r in refs] == [created.id]
        assert claims["sub"] == encode_sub("grpc-user", "local")

        # a static client from the config file cannot be changed over the API
        with pytest.raises(grpc.RpcError) as e:
            stub.DeleteClient(pb.DeleteClientReq(id="example-app"))
        assert e.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert stub.GetDiscovery(pb.DiscoveryReq()).issuer == server.issuer

    server.stop()
    assert "gRPC API stopped" in server.log_text()
    with grpc.insecure_channel(grpc_addr) as channel, pytest.raises(grpc.RpcError) as e:
        api_pb2_grpc.DexStub(channel).GetVersion(pb.VersionReq(), timeout=5)
    assert e.value.code() == grpc.StatusCode.UNAVAILABLE
