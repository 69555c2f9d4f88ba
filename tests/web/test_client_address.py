"""The client's address behind reverse proxies (dex_py.web.client_address): the forwarded
header believed only as far as the proxies are trusted."""

from __future__ import annotations

import pytest

from dex_py.config.model import ClientRemoteIP
from dex_py.web.client_address import client_address

XFF = "X-Forwarded-For"


def test_without_a_header_the_peer_counts() -> None:
    assert client_address(ClientRemoteIP(), "10.1.1.1", ["203.0.113.5"]) == "10.1.1.1"
    assert client_address(ClientRemoteIP(header=XFF), "10.1.1.1", []) == "10.1.1.1"


def test_without_trusted_proxies_the_rightmost_entry_counts() -> None:
    """One proxy in front: it appended what it saw; what the client wrote before is ignored."""
    settings = ClientRemoteIP(header=XFF)
    assert client_address(settings, "10.0.0.2", ["1.1.1.1, 203.0.113.5"]) == "203.0.113.5"
    assert client_address(settings, "10.0.0.2", ["1.1.1.1", "203.0.113.5"]) == "203.0.113.5"


def test_a_peer_that_is_not_a_trusted_proxy_is_the_client() -> None:
    settings = ClientRemoteIP(header=XFF, trusted_proxies=["10.0.0.0/8"])
    assert client_address(settings, "198.51.100.4", ["203.0.113.5"]) == "198.51.100.4"


def test_trusted_proxies_are_skipped_right_to_left() -> None:
    settings = ClientRemoteIP(header=XFF, trusted_proxies=["10.0.0.0/8", "192.0.2.1"])
    chain = ["6.6.6.6, 203.0.113.5, 192.0.2.1, 10.4.4.4"]
    assert client_address(settings, "10.0.0.2", chain) == "203.0.113.5"
    # every hop trusted: the leftmost
    assert client_address(settings, "10.0.0.2", ["10.9.9.9, 10.4.4.4"]) == "10.9.9.9"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("203.0.113.5:4711", "203.0.113.5"),
        ("[2001:db8::1]:443", "2001:db8::1"),
        ("2001:db8::7", "2001:db8::7"),
        ("unknown, 203.0.113.5", "203.0.113.5"),
        ("203.0.113.5, garbage", "10.0.0.2"),
    ],
)
def test_entry_forms(value: str, expected: str) -> None:
    settings = ClientRemoteIP(header=XFF, trusted_proxies=["10.0.0.0/8"])
    assert client_address(settings, "10.0.0.2", [value]) == expected
