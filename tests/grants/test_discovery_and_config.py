"""Discovery advertises the new grants and client authentication methods; the static-client
keys ``tokenEndpointAuthMethod``, ``jwks`` and ``jwksURI`` are read and validated."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from dex_py.clients import client_from_config
from dex_py.config import DEVICE_CODE_GRANT, TOKEN_EXCHANGE_GRANT, ConfigError
from dex_py.config.loader import from_dict
from tests.grants.conftest import ClientKey, machine_overrides
from tests.oauth.conftest import BASE_CONFIG, App, merge


def discovery(app: App) -> dict[str, Any]:
    return app.client().get("/dex/.well-known/openid-configuration").get_json()


def test_discovery_lists_grants_and_auth_methods(machine_app: App) -> None:
    doc = discovery(machine_app)
    assert {"client_credentials", TOKEN_EXCHANGE_GRANT} <= set(doc["grant_types_supported"])
    for endpoint in ("token", "revocation", "introspection"):
        methods = doc[f"{endpoint}_endpoint_auth_methods_supported"]
        assert {"client_secret_basic", "client_secret_post", "private_key_jwt"} <= set(methods)
        assert doc[f"{endpoint}_endpoint_auth_signing_alg_values_supported"] == ["RS256", "ES256"]


def test_discovery_omits_grants_the_server_disables(make_app: Callable[..., App]) -> None:
    app = make_app(**machine_overrides(grants=["authorization_code", "refresh_token"]))
    doc = discovery(app)
    assert doc["grant_types_supported"] == ["authorization_code", "refresh_token"]
    assert "device_authorization_endpoint" not in doc


def test_discovery_advertises_the_device_flow_when_enabled(make_app: Callable[..., App]) -> None:
    app = make_app(**machine_overrides(grants=["authorization_code", DEVICE_CODE_GRANT]))
    doc = discovery(app)
    assert doc["grant_types_supported"] == ["authorization_code", DEVICE_CODE_GRANT]
    assert doc["device_authorization_endpoint"] == doc["issuer"] + "/device/code"


def client_config(**client: Any) -> dict[str, Any]:
    return merge(BASE_CONFIG, {"staticClients": [{"id": "c", **client}]})


def errors_of(data: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(ConfigError) as info:
        from_dict(data)
    return dict(info.value.errors)


def test_private_key_jwt_client_is_loaded_without_a_secret() -> None:
    key = ClientKey("ES256")
    config = from_dict(client_config(tokenEndpointAuthMethod="private_key_jwt", jwks=key.jwks()))
    client = client_from_config(config.static_clients[0])
    assert client.token_endpoint_auth_method == "private_key_jwt"
    assert json.loads(client.jwks) == key.jwks()
    assert client.secret_hash == ""
    config = from_dict(
        client_config(tokenEndpointAuthMethod="private_key_jwt", jwksURI="https://c.example/jwks")
    )
    assert client_from_config(config.static_clients[0]).jwks_uri == "https://c.example/jwks"
    assert not any("tokenEndpointAuthMethod" in w for w in config.warnings)


@pytest.mark.parametrize(
    ("client", "path", "message"),
    [
        ({"tokenEndpointAuthMethod": "private_key_jwt"}, "jwks", "needs jwks or jwksURI"),
        (
            {
                "tokenEndpointAuthMethod": "private_key_jwt",
                "jwks": ClientKey("ES256").jwks(),
                "jwksURI": "https://c.example/jwks",
            },
            "jwks",
            "not both",
        ),
        (
            {"public": True, "tokenEndpointAuthMethod": "private_key_jwt", "jwksURI": "https://x"},
            "tokenEndpointAuthMethod",
            "use none",
        ),
        ({"secret": "s", "tokenEndpointAuthMethod": "none"}, "tokenEndpointAuthMethod", "public"),
        ({"secret": "s", "tokenEndpointAuthMethod": "tls_client_auth"}, "tokenEndpoint", "unknown"),
        (
            {
                "tokenEndpointAuthMethod": "private_key_jwt",
                "jwks": {"keys": [json.loads(ClientKey("ES256").jwk.export_private())]},
            },
            "jwks",
            "public keys only",
        ),
        (
            {
                "tokenEndpointAuthMethod": "private_key_jwt",
                "jwks": {"keys": [{"kty": "oct", "k": "c2VjcmV0"}]},
            },
            "jwks",
            "public keys only",
        ),
        (
            {"tokenEndpointAuthMethod": "private_key_jwt", "jwks": {"nokeys": []}},
            "jwks",
            "not a JWK Set",
        ),
        (
            {"tokenEndpointAuthMethod": "private_key_jwt", "jwksURI": "http://keys.example/j"},
            "jwksURI",
            "https",
        ),
        ({"secret": "s", "jwks": "not-a-mapping"}, "jwks", "mapping"),
    ],
)
def test_invalid_client_auth_settings(client: dict, path: str, message: str) -> None:
    errors = errors_of(client_config(**client))
    hits = [m for p, m in errors.items() if p.startswith("staticClients[0]." + path)]
    assert hits and message in hits[0], errors


def test_loopback_jwks_uri_over_http_is_allowed() -> None:
    config = from_dict(
        client_config(tokenEndpointAuthMethod="private_key_jwt", jwksURI="http://127.0.0.1:1/j")
    )
    assert config.static_clients[0].jwks_uri == "http://127.0.0.1:1/j"


def test_keys_without_private_key_jwt_are_warned_about() -> None:
    config = from_dict(client_config(secret="s", jwksURI="https://c.example/jwks"))
    assert any("jwks" in w and "ignored" in w for w in config.warnings)
