"""Dex-compatible ``sub`` encoding and the OIDC half hashes."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dex_py.jose.tokens import decode_sub, encode_sub, half_hash, new_token_id


def test_known_dex_subject() -> None:
    # 0x0a, len 13, "0-385-28089-0", 0x12, len 5, "local" -> base64url without padding.
    assert encode_sub("0-385-28089-0", "local") == "Cg0wLTM4NS0yODA4OS0wEgVsb2NhbA"
    assert decode_sub("Cg0wLTM4NS0yODA4OS0wEgVsb2NhbA") == ("0-385-28089-0", "local")


def test_wire_bytes_of_short_ids() -> None:
    import base64

    sub = encode_sub("u", "c")
    raw = base64.urlsafe_b64decode(sub + "=" * (-len(sub) % 4))
    assert raw == b"\x0a\x01u\x12\x01c"
    assert "=" not in sub


@pytest.mark.parametrize(
    ("length", "varint"),
    [
        (127, b"\x7f"),
        (128, b"\x80\x01"),
        (200, b"\xc8\x01"),
        (300, b"\xac\x02"),
        (16384, b"\x80\x80\x01"),
    ],
)
def test_long_ids_use_multi_byte_varints(length: int, varint: bytes) -> None:
    import base64

    user_id = "a" * length
    sub = encode_sub(user_id, "ldap")
    raw = base64.urlsafe_b64decode(sub + "=" * (-len(sub) % 4))
    assert raw == b"\x0a" + varint + user_id.encode() + b"\x12\x04ldap"
    assert decode_sub(sub) == (user_id, "ldap")


def test_utf8_ids_count_bytes_not_characters() -> None:
    import base64

    user_id = "Jürgen-山田"  # 9 characters, 14 UTF-8 bytes
    sub = encode_sub(user_id, "gitlab")
    raw = base64.urlsafe_b64decode(sub + "=" * (-len(sub) % 4))
    assert raw[:2] == b"\x0a\x0e"
    assert raw[2:16].decode("utf-8") == user_id
    assert decode_sub(sub) == (user_id, "gitlab")


def test_empty_fields_are_omitted_like_proto3() -> None:
    assert encode_sub("", "local") == "EgVsb2NhbA"
    assert encode_sub("x", "") == "CgF4"
    assert decode_sub("EgVsb2NhbA") == ("", "local")


@given(st.text(max_size=400), st.text(max_size=300))
def test_round_trip(user_id: str, connector_id: str) -> None:
    sub = encode_sub(user_id, connector_id)
    assert "=" not in sub and "+" not in sub and "/" not in sub
    assert decode_sub(sub) == (user_id, connector_id)


@pytest.mark.parametrize(
    "bad",
    [
        "Cg0wLTM4NS0yODA4OS0wEgVsb2NhbA==",  # padding
        "Cg0wLTM4NS0yODA4OS0wEgVsb2NhbA+",  # not base64url
        "Cg0wLTM4NS0yODA4OS0",  # truncated field
        "GgF4",  # field 3
        "CAE",  # varint wire type
        "CgH_",  # invalid UTF-8
        "Cv____8P",  # huge length
        "A",  # impossible base64 length
    ],
)
def test_decode_rejects_garbage(bad: str) -> None:
    with pytest.raises(ValueError):
        decode_sub(bad)


def test_at_hash_spec_example() -> None:
    # OpenID Connect Core 1.0, Appendix A.3 (RS256).
    token = "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y"
    assert half_hash(token, "RS256") == "77QmUPtjPfzWtF2AnpK9RQ"
    assert half_hash(token, "ES256") == "77QmUPtjPfzWtF2AnpK9RQ"


def test_c_hash_spec_example() -> None:
    # OpenID Connect Core 1.0, Appendix A.4.
    code = "Qcb0Orv1zh30vL1MPRsbm-diHiMwcLyZvn1arpZv-Jxf_11jnpEX3Tgfvk"
    assert half_hash(code, "RS256") == "LDktKdoQak3Pk0cnXxCltA"


def test_half_hash_uses_the_algorithms_hash_size() -> None:
    assert len(half_hash("x", "RS256")) == 22  # 16 bytes
    assert len(half_hash("x", "ES384")) == 32  # 24 bytes
    assert len(half_hash("x", "RS512")) == 43  # 32 bytes
    with pytest.raises(ValueError):
        half_hash("x", "none")


def test_new_token_id_is_random_and_url_safe() -> None:
    ids = {new_token_id() for _ in range(50)}
    assert len(ids) == 50
    assert all(
        len(i) == 32
        and set(i) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
        for i in ids
    )
    assert len(new_token_id(8)) == 11
