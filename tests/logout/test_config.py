"""Static client keys for logout: ``postLogoutRedirectURIs`` and ``backchannelLogoutURI``."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from dex_py.clients import client_from_config
from dex_py.config import ConfigError
from dex_py.config.loader import from_dict
from tests.oauth.conftest import BASE_CONFIG


def config_with(**client_keys: Any) -> dict[str, Any]:
    data = copy.deepcopy(BASE_CONFIG)
    data["staticClients"][0].update(client_keys)
    return data


def test_logout_keys_map_to_the_client() -> None:
    config = from_dict(
        config_with(
            postLogoutRedirectURIs=["https://app.example.com/bye"],
            backchannelLogoutURI="https://app.example.com/backchannel",
        )
    )
    client = client_from_config(config.static_clients[0])
    assert client.post_logout_redirect_uris == ("https://app.example.com/bye",)
    assert client.backchannel_logout_uri == "https://app.example.com/backchannel"
    assert client_from_config(config.static_clients[1]).backchannel_logout_uri == ""


@pytest.mark.parametrize(
    "uri",
    [
        "/relative/path",
        "ftp://app.example.com/logout",
        "urn:example:logout",
        "https://app.example.com/logout#frag",
        "http:///no-host",
    ],
)
def test_backchannel_uri_must_be_absolute_http_without_fragment(uri: str) -> None:
    with pytest.raises(ConfigError) as info:
        from_dict(config_with(backchannelLogoutURI=uri))
    assert [p for p, _ in info.value.errors] == ["staticClients[0].backchannelLogoutURI"]


def test_post_logout_redirect_uris_are_validated() -> None:
    with pytest.raises(ConfigError) as info:
        from_dict(config_with(postLogoutRedirectURIs=["https://ok.example/", "not a uri"]))
    assert [p for p, _ in info.value.errors] == ["staticClients[0].postLogoutRedirectURIs[1]"]
