"""dex_py.web.csrf: the one CSRF helper behind every form."""

from __future__ import annotations

import pytest

from dex_py.web.csrf import csrf_token, csrf_valid


def test_a_token_is_valid_only_for_its_key_and_purpose() -> None:
    token = csrf_token("browser-secret", b"csrf:req-1")
    assert csrf_valid("browser-secret", b"csrf:req-1", token)
    assert not csrf_valid("other-secret", b"csrf:req-1", token)
    assert not csrf_valid("browser-secret", b"csrf:req-2", token)
    assert not csrf_valid("browser-secret", b"dexpy-logout-csrf", token)


def test_tokens_are_url_safe_and_unpadded() -> None:
    token = csrf_token("k", b"p")
    assert len(token) == 43 and "=" not in token
    assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


@pytest.mark.parametrize("presented", ["", "x", "é" * 43, "\x00"])
def test_empty_forged_or_non_ascii_tokens_are_refused(presented: str) -> None:
    assert not csrf_valid("browser-secret", b"p", presented)


def test_an_empty_key_never_validates() -> None:
    assert not csrf_valid("", b"p", csrf_token("", b"p"))
