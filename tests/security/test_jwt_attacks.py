"""JWT forgeries against a live dex-py, wherever it accepts a JWT: bearer access tokens at
``/userinfo`` and introspection, ``id_token_hint`` at ``/auth`` and ``/logout``, and client
assertions (``private_key_jwt``) at ``/token``.

Protection (``dex_py.jose.tokens.verify``, ``dex_py.jose.client_assertions``; RFC 8725 §2-3): the
algorithm comes from our key, never from the token — ``none`` and HMAC are refused; only our
published ``kid``s select a key (no ``jwk``/``jku``/``x5u`` header is honoured); ``exp``,
``nbf`` and ``iat`` are enforced; size and syntax are checked before any parsing, and every bad
token is a 4xx, never a 5xx.
"""

from __future__ import annotations

import base64
import json
import secrets
from typing import Any

import pytest
import requests
from jwcrypto.jwk import JWK

from tests.conformance.conftest import KEYED_ID, OP
from tests.conformance.rp import Browser, Flow
from tests.conformance.verifier import unverified_parts
from tests.security.conftest import CLIENT, ServerKey, b64, compact, now, sign_with

pytestmark = pytest.mark.live

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
NAN_PAYLOAD = b'{"exp": NaN}'


@pytest.fixture(scope="module")
def victim(op: OP) -> tuple[Browser, Flow]:
    """A logged-in browser and its tokens."""
    browser = op.browser()
    return browser, op.rp(CLIENT).login(browser, "openid email")


def published_key(op: OP, kid: str) -> JWK:
    return op.verifier.key_for(kid)


def forgeries(op: OP, token: str) -> dict[str, str]:
    """Forged variants of a real token (same claims): unsigned, HMAC with the public key,
    attacker keys under injected kids and headers."""
    header, claims = unverified_parts(token)
    kid = header["kid"]
    public = published_key(op, kid)
    attacker = JWK.generate(kty="RSA", size=2048, kid="attacker")
    out = {
        "alg-none": compact({**header, "alg": "none"}, claims),
        "alg-None": compact({**header, "alg": "None"}, claims),
        "alg-none-kept-signature": compact({**header, "alg": "none"}, claims)
        + token.rsplit(".", 1)[1],
        "alg-missing": compact({k: v for k, v in header.items() if k != "alg"}, claims),
    }
    secrets_for_hmac = {
        "pem": public.export_to_pem(),
        "jwk-json": public.export_public().encode(),
        "n-bytes": base64.urlsafe_b64decode(public.get("n", "") + "=="),
    }
    for name, secret in secrets_for_hmac.items():
        oct_key = JWK(kty="oct", k=b64(secret))
        for alg in ("HS256", "HS512"):
            out[f"{alg}-public-key-{name}"] = sign_with(oct_key, {**header, "alg": alg}, claims)
    for name, bad_kid in {
        "path": "../../../../../../dev/null",
        "sql": f"{kid}' OR '1'='1",
        "empty": "",
        "attacker": "attacker",
        "long": "k" * 1500,
    }.items():
        out[f"kid-{name}"] = sign_with(attacker, {**header, "kid": bad_kid}, claims)
    attacker_pub = json.loads(attacker.export_public())
    out["embedded-jwk"] = sign_with(attacker, {**header, "jwk": attacker_pub}, claims)
    out["jku"] = sign_with(attacker, {**header, "jku": "https://evil.example/jwks"}, claims)
    out["x5u"] = sign_with(attacker, {**header, "x5u": "https://evil.example/cert.pem"}, claims)
    out["real-kid-attacker-key"] = sign_with(attacker, header, claims)
    head, _, sig = token.split(".")
    tampered = {**claims, "email": "attacker@evil.example"}
    out["payload-swapped"] = f"{head}.{b64(json.dumps(tampered).encode())}.{sig}"
    return out


def assert_bearer_refused(resp: requests.Response, name: str) -> None:
    if resp.status_code == 431:  # the HTTP server's header size limit answered first
        return
    assert resp.status_code in (400, 401), f"{name}: {resp.status_code} {resp.text[:200]}"
    if resp.status_code == 401:
        assert resp.headers.get("WWW-Authenticate", "").lower().startswith("bearer"), name
    assert resp.json()["error"] in ("invalid_token", "invalid_request"), name


def userinfo(op: OP, token: str) -> requests.Response:
    return requests.get(
        op.meta["userinfo_endpoint"], headers={"Authorization": f"Bearer {token}"}, timeout=10
    )


def test_forged_access_tokens_at_userinfo(op: OP, victim: tuple[Browser, Flow]) -> None:
    """alg none, HMAC-with-public-key, kid injection, embedded keys, swapped payload: all 401
    at /userinfo, and introspection calls them inactive. The real token works (control)."""
    token = victim[1].tokens["access_token"]
    assert userinfo(op, token).status_code == 200
    for name, forged in forgeries(op, token).items():
        assert_bearer_refused(userinfo(op, forged), name)
        intro = requests.post(
            op.meta["introspection_endpoint"],
            data={"token": forged},
            auth=(CLIENT.id, CLIENT.secret or ""),
            timeout=10,
        )
        assert intro.status_code == 200 and intro.json() == {"active": False}, name


def test_id_token_is_not_an_access_token(op: OP, victim: tuple[Browser, Flow]) -> None:
    """Token substitution: an ID token (signed by us, but typ JWT, no jti) is refused as a
    bearer token at /userinfo (RFC 9068 §4 / RFC 8725 §3.11 explicit typing)."""
    assert_bearer_refused(userinfo(op, victim[1].tokens["id_token"]), "id_token")


def _time_forgeries(op: OP, claims: dict[str, Any]) -> dict[str, dict[str, Any]]:
    t = now()
    return {
        "expired": {**claims, "exp": t - 120, "iat": t - 3600},
        "not-yet-valid": {**claims, "nbf": t + 3600},
        "issued-in-future": {**claims, "iat": t + 3600, "exp": t + 7200},
        "no-exp": {k: v for k, v in claims.items() if k != "exp"},
        "exp-not-a-number": {**claims, "exp": "tomorrow"},
        "wrong-issuer": {**claims, "iss": "https://evil.example/dex"},
    }


def test_expired_and_not_yet_valid_tokens(op: OP, victim: tuple[Browser, Flow]) -> None:
    """Validly signed (with the server's own key) but expired, not yet valid, issued in the
    future, without exp or from another issuer: refused. The same signing with sane claims is
    accepted, so the refusals come from the claim checks."""
    key = ServerKey(op)
    _, claims = unverified_parts(victim[1].tokens["access_token"])
    fresh = {**claims, "jti": secrets.token_urlsafe(16), "iat": now(), "exp": now() + 600}
    assert userinfo(op, key.sign(fresh)).status_code == 200, "control: fresh forged token"
    for name, bad in _time_forgeries(op, fresh).items():
        assert_bearer_refused(userinfo(op, key.sign(bad)), name)


def test_oversize_and_malformed_tokens(op: OP) -> None:
    """Oversize and malformed JWTs are refused with 4xx (never 5xx), in the header and in the
    form body."""
    seg = b64(b'{"alg":"RS256","kid":"x"}')
    malformed = {
        "empty-ish": " ",
        "one-part": "abc",
        "two-parts": "abc.def",
        "four-parts": "a.b.c.d",
        "five-parts-jwe": "a.b.c.d.e",
        "not-base64": "!!!.@@@.###",
        "header-array": f"{b64(b'[1,2]')}.{b64(b'{}')}.",
        "header-not-json": f"{b64(b'{alg:')}.{b64(b'{}')}.AA",
        "payload-nan": f"{seg}.{b64(NAN_PAYLOAD)}.AA",
        "unicode": "é.é.é",
        "nested-json": f"{seg}.{b64(b'[' * 5000 + b']' * 5000)}.AA",
        "oversize-20k": f"{seg}.{'A' * 20_000}.AA",
        "oversize-16k-exact": f"{seg}.{'A' * (16 * 1024)}.AA",
    }
    for name, token in malformed.items():
        assert_bearer_refused(userinfo(op, token), name)
        body = requests.post(op.meta["userinfo_endpoint"], data={"access_token": token}, timeout=10)
        assert_bearer_refused(body, name + " (body)")
    huge = requests.get(
        op.meta["userinfo_endpoint"],
        headers={"Authorization": "Bearer " + "A" * 100_000},
        timeout=10,
    )
    assert 400 <= huge.status_code < 500, huge.status_code


def test_forged_id_token_hint_at_authorization(op: OP, victim: tuple[Browser, Flow]) -> None:
    """A forged id_token_hint is refused (invalid_request), not trusted: with prompt=none it
    yields no code even for the logged-in user it names."""
    browser, flow = victim
    rp = op.rp(CLIENT)
    for name, forged in forgeries(op, flow.tokens["id_token"]).items():
        result = rp.authorize(browser, prompt="none", id_token_hint=forged, login=False)
        assert result.response.params.get("error") == "invalid_request", name
    ok = rp.authorize(browser, prompt="none", id_token_hint=flow.tokens["id_token"], login=False)
    assert "code" in ok.response.params, "control: the genuine hint works"


def test_forged_id_token_hint_at_logout(op: OP) -> None:
    """A forged id_token_hint naming the victim's session cannot log the victim out (a
    cross-site request without the session cookie relies on the hint alone) nor unlock a
    redirect."""
    victim_browser = op.browser()
    rp = op.rp(CLIENT)
    flow = rp.login(victim_browser)
    attacker = requests.Session()  # no cookies: the hint is all the OP has
    for name, forged in forgeries(op, flow.tokens["id_token"]).items():
        resp = attacker.get(
            op.meta["end_session_endpoint"],
            params={
                "id_token_hint": forged,
                "post_logout_redirect_uri": flow.request.params["redirect_uri"],
            },
            allow_redirects=False,
            timeout=10,
        )
        assert resp.status_code == 400 and not resp.is_redirect, name
    still = rp.authorize(victim_browser, prompt="none", login=False)
    assert "code" in still.response.params, "the victim must still be logged in"


def test_forged_client_assertions(op: OP) -> None:
    """private_key_jwt: an unsigned assertion, one HMAC-signed with the client's public key,
    or one signed by another key under the client's kid, is invalid_client."""
    assert op.jwks_host is not None
    client_key = op.jwks_host.new_key("client-key-1")
    public = JWK.from_json(client_key.export_public())
    t = now()
    claims = {
        "iss": KEYED_ID,
        "sub": KEYED_ID,
        "aud": op.meta["token_endpoint"],
        "iat": t,
        "exp": t + 60,
    }
    header = {"alg": "RS256", "kid": "client-key-1"}
    attacker = JWK.generate(kty="RSA", size=2048)

    def assertion_variants() -> dict[str, str]:
        fresh = {**claims, "jti": secrets.token_urlsafe(12)}
        oct_key = JWK(kty="oct", k=b64(public.export_to_pem()))
        return {
            "alg-none": compact({**header, "alg": "none"}, fresh),
            "HS256-public-key": sign_with(oct_key, {**header, "alg": "HS256"}, fresh),
            "attacker-key": sign_with(attacker, header, fresh),
            "embedded-jwk": sign_with(
                attacker, {**header, "jwk": json.loads(attacker.export_public())}, fresh
            ),
        }

    def token_request(assertion: str) -> requests.Response:
        return requests.post(
            op.meta["token_endpoint"],
            data={
                "grant_type": "password",
                "username": "admin@example.com",
                "password": "password",
                "scope": "openid",
                "client_assertion_type": ASSERTION_TYPE,
                "client_assertion": assertion,
            },
            timeout=10,
        )

    for name, assertion in assertion_variants().items():
        resp = token_request(assertion)
        assert resp.status_code == 401 and resp.json()["error"] == "invalid_client", name
    genuine = sign_with(client_key, header, {**claims, "jti": secrets.token_urlsafe(12)})
    assert token_request(genuine).status_code == 200, "control: the genuine assertion works"
