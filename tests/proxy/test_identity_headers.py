"""The identity headers (dex_py.proxy.identity_headers): oauth2-proxy's names, forged copies
from the client dropped, control characters refused."""

from __future__ import annotations

import pytest

from dex_py.proxy.identity_headers import (
    HeaderOptions,
    Identity,
    UnsafeHeaderValue,
    forward_auth_headers,
    strip_identity_headers,
    upstream_headers,
    with_identity,
)

ALICE = Identity(
    user="CgVhbGljZRIEbGRhcA",
    email="alice@example.com",
    groups=("platform", "developers"),
    preferred_username="alice",
    access_token="at",
    id_token="idt",
)


def test_forward_auth_answer_has_oauth2_proxy_names() -> None:
    assert forward_auth_headers(ALICE, HeaderOptions()) == {
        "X-Auth-Request-User": "CgVhbGljZRIEbGRhcA",
        "X-Auth-Request-Email": "alice@example.com",
        "X-Auth-Request-Groups": "platform,developers",
        "X-Auth-Request-Preferred-Username": "alice",
    }


def test_tokens_only_when_asked() -> None:
    headers = forward_auth_headers(ALICE, HeaderOptions(True, True))
    assert headers["X-Auth-Request-Access-Token"] == "at"
    assert headers["Authorization"] == "Bearer idt"
    up = upstream_headers(ALICE, HeaderOptions(pass_access_token=True))
    assert up["X-Forwarded-Access-Token"] == "at" and up["X-Forwarded-User"] == ALICE.user
    assert "Authorization" not in up


def test_missing_claims_set_no_header() -> None:
    assert forward_auth_headers(Identity(user="u"), HeaderOptions(True, True)) == {
        "X-Auth-Request-User": "u"
    }


@pytest.mark.parametrize("bad", ["a\r\nX-Evil: 1", "a\nb", "a\x00", "a\x7f"])
def test_control_characters_are_refused(bad: str) -> None:
    with pytest.raises(UnsafeHeaderValue):
        forward_auth_headers(Identity(user="u", email=bad), HeaderOptions())
    with pytest.raises(UnsafeHeaderValue):
        upstream_headers(Identity(user="u", groups=("ok", bad)), HeaderOptions())


def test_forged_identity_headers_from_the_client_are_dropped() -> None:
    client = [
        ("x-auth-request-email", "boss@example.com"),
        ("X-Forwarded-User", "boss"),
        ("X-FORWARDED-GROUPS", "admins"),
        ("Gap-Auth", "boss"),
        ("Authorization", "Bearer mine"),
        ("Accept", "text/html"),
        ("Accept", "application/json"),
    ]
    kept = strip_identity_headers(client, HeaderOptions())
    assert kept == [
        ("Authorization", "Bearer mine"),
        ("Accept", "text/html"),
        ("Accept", "application/json"),
    ]
    # When the proxy sets Authorization itself, the client's is dropped too.
    assert ("Authorization", "Bearer mine") not in strip_identity_headers(
        client, HeaderOptions(set_authorization=True)
    )
    out = with_identity(client, upstream_headers(ALICE, HeaderOptions()), HeaderOptions())
    assert [v for k, v in out if k.lower() == "x-forwarded-user"] == [ALICE.user]
    assert [v for k, v in out if k.lower() == "x-auth-request-email"] == ["alice@example.com"]
