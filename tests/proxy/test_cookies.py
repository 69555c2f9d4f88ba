"""Sealed cookies (dex_py.proxy.cookie_cipher, cookie_jar, sessions): AES-GCM bound to the
cookie's name, key rotation, expiry, chunks; anything tampered, truncated or oversized is
"not logged in"."""

from __future__ import annotations

import asyncio
import secrets
import time
from pathlib import Path

import pytest

from dex_py.proxy.cookie_cipher import CookieCipher
from dex_py.proxy.cookie_jar import (
    CHUNK_SIZE,
    MAX_VALUE,
    parse_cookie_header,
    read_value,
    set_cookie_headers,
)
from dex_py.proxy.proxy_state import open_session_store
from dex_py.proxy.session import Session, decode, encode
from dex_py.proxy.sessions import Sessions
from dex_py.proxy.store_memory import MemoryStore
from tests.proxy.helpers import OLD_SECRET, SECRET, make_config
from tests.services import require_service

NAME = "_dexpy_proxy"


def _session(groups: int = 2, **kw: object) -> Session:
    base = dict(
        subject="CgVhbGljZRIEbGRhcA",
        issuer_sid="sid-1",
        email="alice@example.com",
        groups=tuple(f"team-{i}-{secrets.token_hex(4)}" for i in range(groups)),
        preferred_username="alice",
        id_token="header.payload.sig",
        refresh_token="rt",
        refreshed_at=time.time(),
        expires_at=time.time() + 3600,
    )
    base.update(kw)
    return Session(**base)  # type: ignore[arg-type]


def test_seal_and_open_round_trip_bound_to_the_name() -> None:
    cipher = CookieCipher((SECRET.encode(),))
    value = cipher.seal(NAME, b"hello")
    assert cipher.open(NAME, value, max_age=60) == b"hello"
    assert cipher.open(NAME + "_login", value, max_age=60) is None


def test_rotation_old_secret_still_opens_new_one_seals() -> None:
    old = CookieCipher((OLD_SECRET.encode(),))
    rotated = CookieCipher((SECRET.encode(), OLD_SECRET.encode()))
    sealed_by_old = old.seal(NAME, b"x")
    assert rotated.open(NAME, sealed_by_old, max_age=60) == b"x"
    assert old.open(NAME, rotated.seal(NAME, b"y"), max_age=60) is None
    assert CookieCipher((SECRET.encode(),)).open(NAME, sealed_by_old, max_age=60) is None


def test_expired_values_do_not_open() -> None:
    cipher = CookieCipher((SECRET.encode(),))
    value = cipher.seal(NAME, b"x", now=time.time() - 120)
    assert cipher.open(NAME, value, max_age=60) is None
    assert cipher.open(NAME, value, max_age=600) == b"x"


def test_every_tampered_or_truncated_value_is_refused() -> None:
    cipher = CookieCipher((SECRET.encode(),))
    value = cipher.seal(NAME, b"session bytes")
    body = value[3:]
    for i in range(len(body)):
        flipped = body[:i] + ("A" if body[i] != "A" else "B") + body[i + 1 :]
        assert cipher.open(NAME, "v1." + flipped, max_age=60) is None
    for cut in range(len(value)):
        assert cipher.open(NAME, value[:cut], max_age=60) is None
    for junk in ("", "v1.", "v1.!!!!", "v2." + body, "v1." + "A" * 5000):
        assert cipher.open(NAME, junk, max_age=60) is None


def test_session_encoding_round_trips_and_rejects_junk() -> None:
    session = _session(groups=300)
    data = encode(session)
    assert data[:1] == b"Z"  # long group lists are deflated
    assert decode(encode(_session(groups=0))) is not None
    assert decode(data) == session
    assert decode(b"J{not json") is None
    assert decode(b"Zgarbage") is None
    assert decode(b"") is None


def test_long_values_are_chunked_and_joined() -> None:
    settings = make_config().cookie
    value = "v1." + "x" * (CHUNK_SIZE * 2 + 10)
    headers = set_cookie_headers(settings, NAME, value, 60, [NAME, f"{NAME}_5"])
    names = [h.split("=", 1)[0] for h in headers]
    assert names == [f"{NAME}_0", f"{NAME}_1", f"{NAME}_2", NAME, f"{NAME}_5"]
    assert all("HttpOnly" in h and "SameSite=Lax" in h for h in headers)
    assert headers[-1].startswith(f"{NAME}_5=; ") and "Max-Age=0" in headers[-1]
    cookie_header = "; ".join(h.split(";", 1)[0] for h in headers[:3])
    assert read_value(parse_cookie_header(cookie_header), NAME) == value


def test_oversized_cookies_count_as_absent() -> None:
    assert read_value({NAME: "x" * (MAX_VALUE + 1)}, NAME) is None
    chunks = {f"{NAME}_{i}": "x" * 10 for i in range(20)}
    assert read_value(chunks, NAME) is None


def _sessions(store: MemoryStore | None = None, **overrides: object) -> Sessions:
    config = make_config(**overrides)
    return Sessions(config, CookieCipher(config.cookie.secrets), store)


def test_sessions_in_the_cookie_survive_a_new_worker_but_not_tampering() -> None:
    async def scenario() -> None:
        sessions = _sessions()
        loaded, headers = await sessions.save(_session(groups=400), session_id="", present={})
        cookies = parse_cookie_header("; ".join(h.split(";", 1)[0] for h in headers))
        assert len(cookies) > 1  # chunked
        value = read_value(cookies, NAME)
        fresh_worker = _sessions()
        again = await fresh_worker.load(value)
        assert again is not None and again.session == loaded.session
        assert again.auth_headers["X-Auth-Request-Email"] == "alice@example.com"
        first, second = sorted(cookies)[:2]
        swapped = dict(cookies, **{first: cookies[second], second: cookies[first]})
        assert await fresh_worker.load(read_value(swapped, NAME)) is None
        truncated = dict(cookies)
        truncated.pop(max(truncated))
        assert await fresh_worker.load(read_value(truncated, NAME)) is None

    asyncio.run(scenario())


def test_server_side_sessions_end_when_the_store_forgets_them() -> None:
    async def scenario() -> None:
        store = MemoryStore()
        sessions = _sessions(store, session={"store": "memory"})
        _loaded, headers = await sessions.save(_session(groups=2000), session_id="", present={})
        value = headers[0].split(";", 1)[0].split("=", 1)[1]
        assert len(headers) == 1 and len(value) < 200  # only the sealed id
        other_worker = _sessions(store, session={"store": "memory"})
        assert (await other_worker.load(value)) is not None
        await store.delete_for(issuer_sid="sid-1")
        assert (await _sessions(store, session={"store": "memory"}).load(value)) is None
        # A cookie-only session is not accepted where server-side ones are configured.
        cookie_only, _cookie_headers = await _sessions().save(_session(), session_id="", present={})
        assert (await other_worker.load(cookie_only.cookie_value)) is None

    asyncio.run(scenario())


def test_a_claim_with_a_line_break_never_becomes_a_session() -> None:
    async def scenario() -> None:
        sessions = _sessions()
        cipher = sessions.cipher
        evil = _session(email="a@example.com\r\nX-Auth-Request-User: root")
        value = cipher.seal(NAME, encode(evil))
        assert await sessions.load(value) is None

    asyncio.run(scenario())


@pytest.mark.parametrize("kind", ["memory", "sqlite", "redis"])
def test_server_side_sessions_on_every_store(kind: str, tmp_path: Path) -> None:
    """The same login through each store the config can name: saved, read by another worker,
    ended by a back-channel logout of its sid."""
    pytest.importorskip("dex_py.proxy.store", reason="the store module is not merged yet")
    if kind == "redis":
        require_service("redis", port=6379)
        session = {
            "store": "redis",
            "redis": {
                "url": "redis://127.0.0.1:6379/0",
                "keyPrefix": f"test-core-{secrets.token_hex(4)}:",
            },
        }
    elif kind == "sqlite":
        session = {"store": "sql", "sql": {"url": f"sqlite:///{tmp_path / 'sessions.db'}"}}
    else:
        session = {"store": "memory"}

    async def scenario() -> None:
        config = make_config(session=session)
        store = open_session_store(config)
        assert store is not None
        try:
            sessions = Sessions(config, CookieCipher(config.cookie.secrets), store)
            loaded, _ = await sessions.save(_session(), session_id="", present={})
            other = Sessions(config, CookieCipher(config.cookie.secrets), store)
            assert (await other.load(loaded.cookie_value)) is not None
            assert await store.delete_for(issuer_sid="sid-1") == 1
            third = Sessions(config, CookieCipher(config.cookie.secrets), store)
            assert (await third.load(loaded.cookie_value)) is None
        finally:
            await store.close()

    asyncio.run(scenario())


def test_only_the_canonical_spelling_opens() -> None:
    """Base64 decoders skip foreign characters and ignore a last character's unused bits; a
    cookie value that is not exactly what seal() wrote is refused."""
    cipher = CookieCipher((SECRET.encode(),))
    for plaintext in (b"a", b"ab", b"abc", b"session bytes"):
        value = cipher.seal(NAME, plaintext)
        assert cipher.open(NAME, value, max_age=60) == plaintext
        assert cipher.open(NAME, value[:10] + "\n" + value[10:], max_age=60) is None
        last = value[-1]
        for other in "AQgwBCDEFGHIJKLMNOPRSTUVWXYZabcdefhijklmnopqrstuvxyz0123456789-_":
            if other != last:
                assert cipher.open(NAME, value[:-1] + other, max_age=60) is None
