"""The example app without a live issuer: home page, unreachable issuer, ID token checks."""

from __future__ import annotations

import base64
import hashlib
import json
import time

import pytest
from joserfc.jwk import KeySet
from jwcrypto.jwk import JWK
from jwcrypto.jwt import JWT

from dex_py import example_app as ex
from tests.example_app.pages import element_text, parse_page
from tests.services import free_port

ISSUER = "http://127.0.0.1:1/dex"


def test_home_page_offers_scopes_connector_and_login():
    app = ex.create_example_app(ISSUER, "example-app", "secret", "http://127.0.0.1:5555/callback")
    resp = app.test_client().get("/")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    names = {i.get("name") for f in parse_page(html).forms for i in f["inputs"]}
    assert {
        "profile",
        "email",
        "groups",
        "offline_access",
        "extra_scopes",
        "connector_id",
        "csrf_token",
    } <= names
    assert element_text(html, "login") == "Login"
    css = app.test_client().get("/style.css")
    assert css.status_code == 200 and css.mimetype == "text/css"


def test_unreachable_issuer_shows_error_page():
    issuer = f"http://127.0.0.1:{free_port()}/dex"
    app = ex.create_example_app(issuer, "example-app", "secret", "http://127.0.0.1:5555/callback")
    client = app.test_client()
    home = client.get("/").get_data(as_text=True)
    csrf = next(
        i["value"]
        for f in parse_page(home).forms
        for i in f["inputs"]
        if i.get("name") == "csrf_token"
    )
    resp = client.post("/login", data={"csrf_token": csrf, "email": "1"})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 502
    assert element_text(html, "error-title") == "Issuer unreachable"
    assert issuer in (element_text(html, "error-message") or "")


def test_login_without_csrf_token_is_refused():
    app = ex.create_example_app(ISSUER, "example-app", "secret", "http://127.0.0.1:5555/callback")
    assert app.test_client().post("/login", data={"email": "1"}).status_code == 400


# --- ID token verification (OpenID Connect Core §3.1.3.7) ---------------------------------------

KEY = JWK.generate(kty="EC", crv="P-256", kid="k1", alg="ES256", use="sig")
OTHER_KEY = JWK.generate(kty="EC", crv="P-256", kid="k1", alg="ES256", use="sig")


def _provider() -> ex._Issuer:
    provider = ex._Issuer(ISSUER)
    provider._metadata = {"issuer": ISSUER, "jwks_uri": ISSUER + "/keys"}
    provider._keys = KeySet.import_key_set({"keys": [json.loads(KEY.export_public())]})
    return provider


def _at_hash(access_token: str) -> str:
    digest = hashlib.sha256(access_token.encode()).digest()[:16]
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _token(key: JWK = KEY, **overrides) -> str:
    now = int(time.time())
    claims = {
        "iss": ISSUER,
        "sub": "u1",
        "aud": "example-app",
        "exp": now + 600,
        "iat": now,
        "nonce": "n1",
        "at_hash": _at_hash("AT"),
    }
    claims.update(overrides)
    claims = {k: v for k, v in claims.items() if v is not None}
    jwt = JWT(header={"alg": "ES256", "kid": "k1"}, claims=claims)
    jwt.make_signed_token(key)
    return jwt.serialize()


def _verify(token: str, nonce: str | None = "n1") -> dict:
    return ex.verify_id_token(
        token, _provider(), client_id="example-app", nonce=nonce, access_token="AT"
    )


def test_valid_id_token_is_accepted():
    assert _verify(_token())["sub"] == "u1"
    assert _verify(_token(aud=["example-app", "other"], azp="example-app"))["sub"] == "u1"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"iss": "http://evil/dex"}, "iss"),
        ({"aud": "other-app"}, "aud"),
        ({"aud": ["example-app", "other"], "azp": "other"}, "azp"),
        ({"exp": int(time.time()) - 3600}, "expired"),
        ({"iat": int(time.time()) + 3600}, "future"),
        ({"nonce": "n2"}, "nonce"),
        ({"nonce": None}, "nonce"),
        ({"at_hash": _at_hash("other")}, "at_hash"),
    ],
)
def test_bad_claims_are_rejected(overrides, message):
    with pytest.raises(ex.TokenError, match=message):
        _verify(_token(**overrides))


def test_wrong_signature_is_rejected():
    with pytest.raises(ex.TokenError, match="signature"):
        _verify(_token(key=OTHER_KEY))


def test_refreshed_token_is_checked_without_nonce():
    assert _verify(_token(nonce=None), nonce=None)["sub"] == "u1"
