"""``/oauth2/auth`` and the callback's checks, in process: identity headers only from the
session (never from the request), 401 for tampered/truncated/oversized cookies, CRLF in claims
refused, state mismatch and replay refused."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import time
from urllib.parse import parse_qs, quote, urlsplit

from dex_py.proxy.cookie_cipher import CookieCipher
from dex_py.proxy.login_state import LoginState, cookie_name, open_login, seal
from dex_py.proxy.oidc_client import ProviderMetadata
from dex_py.proxy.session import Session, encode
from tests.proxy.helpers import make_config
from tests.proxy.inprocess import serve

NAME = "_dexpy_proxy"
# Nothing listens there: the issuer is never reached in these tests.
CONFIG = {"issuer": "http://127.0.0.1:9/dex"}


def _cookie(config_cipher: CookieCipher, **kw: object) -> str:
    fields = dict(
        subject="alice-sub",
        email="alice@example.com",
        groups=("developers",),
        preferred_username="alice",
        refreshed_at=time.time(),
        expires_at=time.time() + 3600,
    )
    fields.update(kw)
    return config_cipher.seal(NAME, encode(Session(**fields)))  # type: ignore[arg-type]


FORGED = {
    "X-Auth-Request-User": "root",
    "X-Auth-Request-Email": "root@example.com",
    "X-Auth-Request-Groups": "admins",
    "X-Forwarded-User": "root",
}


def test_identity_headers_come_from_the_session_only() -> None:
    async def scenario() -> None:
        config = make_config(**CONFIG)
        async with serve(config) as (client, state):
            value = _cookie(state.cipher)
            resp = await client.get(
                "/oauth2/auth",
                headers={"Cookie": f"{NAME}={value}", "X-Forwarded-Uri": "/x", **FORGED},
            )
            assert resp.status == 202
            assert resp.headers["X-Auth-Request-User"] == "alice-sub"
            assert resp.headers["X-Auth-Request-Email"] == "alice@example.com"
            assert resp.headers["X-Auth-Request-Groups"] == "developers"
            assert "X-Forwarded-User" not in resp.headers
            anonymous = await client.get("/oauth2/auth", headers=FORGED)
            assert anonymous.status == 401
            assert not any(h.lower().startswith("x-auth-request") for h in anonymous.headers)
            skipped = await client.get(
                "/oauth2/auth", headers={"X-Forwarded-Uri": "/healthz", **FORGED}
            )
            assert skipped.status == 202
            assert not any(h.lower().startswith("x-auth-request") for h in skipped.headers)
            # The rule is checked on the original request: admin.example.com wants admins.
            denied = await client.get(
                "/oauth2/auth",
                headers={"Cookie": f"{NAME}={value}", "X-Forwarded-Host": "admin.example.com"},
            )
            assert denied.status == 403
            nginx_style = await client.get(
                "/oauth2/auth",
                headers={
                    "Cookie": f"{NAME}={value}",
                    "X-Original-URL": "http://admin.example.com/",
                },
            )
            assert nginx_style.status == 403
            # Envoy ext_authz appends the original path and keeps the method and Host.
            envoy = await client.post(
                "/oauth2/auth/healthz", headers={"Host": "app.example.com", **FORGED}
            )
            assert envoy.status == 401  # /healthz is open to GET only
            envoy_get = await client.get("/oauth2/auth/healthz", headers=FORGED)
            assert envoy_get.status == 202
            envoy_admin = await client.get(
                "/oauth2/auth/x", headers={"Cookie": f"{NAME}={value}", "Host": "admin.example.com"}
            )
            assert envoy_admin.status == 403

    asyncio.run(scenario())


def test_bad_cookies_are_not_logged_in_never_a_500() -> None:
    async def scenario() -> None:
        config = make_config(**CONFIG)
        async with serve(config) as (client, state):
            value = _cookie(state.cipher)
            other_key = _cookie(CookieCipher((b"another-secret-that-is-32-bytes-long!!",)))
            cases = {
                "tampered": value[:-6] + ("AAAAAA" if not value.endswith("AAAAAA") else "BBBBBB"),
                "truncated": value[: len(value) // 2],
                "other key": other_key,
                "oversized": "v1." + "A" * 60_000,
                "garbage": '"\\x00;;==',
                "chunk junk": "x",
            }
            for label, bad in cases.items():
                name = f"{NAME}_0" if label == "chunk junk" else NAME
                resp = await client.get("/oauth2/auth", headers={"Cookie": f"{name}={bad}"})
                assert resp.status == 401, label
            huge = await client.get("/oauth2/auth", headers={"Cookie": "a=" + "b" * 200_000})
            assert huge.status in (400, 401, 431)

    asyncio.run(scenario())


def test_a_claim_with_crlf_is_refused_not_split_into_headers() -> None:
    async def scenario() -> None:
        config = make_config(**CONFIG)
        async with serve(config) as (client, state):
            for field, evil in (
                ("email", "a@example.com\r\nX-Injected: 1"),
                ("groups", ("developers", "x\nSet-Cookie: y=z")),
                ("preferred_username", "alice\x00"),
            ):
                value = _cookie(state.cipher, **{field: evil})
                resp = await client.get("/oauth2/auth", headers={"Cookie": f"{NAME}={value}"})
                assert resp.status == 401, field
                assert "X-Injected" not in resp.headers

    asyncio.run(scenario())


def test_callback_refuses_state_mismatch_and_replay() -> None:
    async def scenario() -> None:
        config = make_config(**CONFIG)
        async with serve(config) as (client, state):
            login = LoginState("the-state", "the-nonce", "verifier", "/")
            login_cookie = seal(state.cipher, cookie_name(NAME), login)
            headers = {"Cookie": f"{cookie_name(NAME)}={login_cookie}"}
            mismatch = await client.get(
                "/oauth2/callback?code=c&state=another-state", headers=headers
            )
            assert mismatch.status == 400
            assert "state does not match" in await mismatch.text()
            missing = await client.get("/oauth2/callback?code=c&state=the-state")
            assert missing.status == 400
            first = await client.get("/oauth2/callback?code=c&state=the-state", headers=headers)
            assert first.status in (502, 503)  # got past the checks; the issuer is absent
            replay = await client.get("/oauth2/callback?code=c&state=the-state", headers=headers)
            assert replay.status == 400
            assert "already used" in await replay.text()
            # The login cookie is always cleared.
            assert any(
                c.startswith(cookie_name(NAME) + "=;") for c in replay.headers.getall("Set-Cookie")
            )

    asyncio.run(scenario())


def test_ping_ready_and_start_without_an_issuer() -> None:
    async def scenario() -> None:
        config = make_config(**CONFIG)
        async with serve(config) as (client, _):
            assert (await client.get("/ping")).status == 200
            assert (await client.get("/ready")).status == 503
            start = await client.get("/oauth2/start", allow_redirects=False)
            assert start.status == 503
            assert (await client.get("/anything")).status == 404

    asyncio.run(scenario())


def test_start_seals_only_safe_redirects_and_uses_pkce() -> None:
    async def scenario() -> None:
        config = make_config(**CONFIG, redirects={"allowedDomains": [".example.com"]})
        async with serve(config) as (client, state):
            state.oidc.metadata = ProviderMetadata(
                issuer=config.issuer,
                authorization_endpoint=config.issuer + "/auth",
                token_endpoint=config.issuer + "/token",
                jwks_uri=config.issuer + "/keys",
            )
            state.jwks.loaded = True
            cases = {
                "//evil.com/x": "/",
                "https://evil.com/": "/",
                "/\\evil.com": "/",
                "https://grafana.example.com/d": "https://grafana.example.com/d",
                "/app?x=1": "/app?x=1",
            }
            for rd, sealed_rd in cases.items():
                for path, headers in (
                    (f"/oauth2/start?rd={quote(rd, safe='')}", {}),
                    ("/oauth2/sign_in", {"X-Auth-Request-Redirect": rd}),
                ):
                    resp = await client.get(path, headers=headers, allow_redirects=False)
                    assert resp.status == 302
                    query = parse_qs(urlsplit(resp.headers["Location"]).query)
                    assert query["code_challenge_method"] == ["S256"]
                    assert query["client_id"] == ["dex-py-proxy"]
                    cookie = resp.headers["Set-Cookie"]
                    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
                    value = cookie.split(";", 1)[0].split("=", 1)[1]
                    login = open_login(state.cipher, cookie_name(NAME), value)
                    assert login is not None
                    assert login.rd == sealed_rd, rd
                    assert query["state"] == [login.state]
                    assert query["nonce"] == [login.nonce]
                    verifier_hash = hashlib.sha256(login.verifier.encode()).digest()
                    challenge = base64.urlsafe_b64encode(verifier_hash).rstrip(b"=").decode()
                    assert query["code_challenge"] == [challenge]

    asyncio.run(scenario())
