"""``private_key_jwt`` client authentication (RFC 7523 §2.2, OIDC Core §9) at /token, /token/revoke
and /token/introspect, with an inline ``jwks`` and with a ``jwksURI`` served over HTTP."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization

from tests.grants.conftest import (
    KEYED_ID,
    MACHINE_ID,
    MACHINE_SECRET,
    ClientKey,
    JWKSServer,
    assertion_claims,
    assertion_form,
    basic_auth,
    hs256_forgery,
    machine_overrides,
    read_jwt,
    unsigned,
)
from tests.oauth.conftest import ISSUER, App


def keyed_client(**keys: Any) -> dict[str, Any]:
    return {
        "id": KEYED_ID,
        "tokenEndpointAuthMethod": "private_key_jwt",
        "grantTypes": ["client_credentials"],
        **keys,
    }


@pytest.fixture
def key() -> ClientKey:
    return ClientKey("ES256")


@pytest.fixture
def keyed_app(make_app: Callable[..., App], key: ClientKey) -> App:
    return make_app(**machine_overrides(clients=[keyed_client(jwks=key.jwks())]))


def token(app: App, assertion: str, **extra: str) -> Any:
    form = assertion_form(assertion, grant_type="client_credentials", **extra)
    return app.client().post("/dex/token", data=form)


def assert_refused(resp: Any, reason: str) -> None:
    body = resp.get_json()
    assert resp.status_code == 401, body
    assert body["error"] == "invalid_client"
    assert reason in body["error_description"], body


def test_inline_jwks_authenticates(keyed_app: App, key: ClientKey) -> None:
    resp = token(keyed_app, key.sign(assertion_claims(keyed_app)))
    assert resp.status_code == 200, resp.get_json()
    _, claims = read_jwt(keyed_app, resp.get_json()["access_token"])
    assert claims["sub"] == KEYED_ID and claims["client_id"] == KEYED_ID


@pytest.mark.parametrize("alg", ["RS256", "ES256"])
def test_both_algorithms_and_issuer_audience(make_app: Callable[..., App], alg: str) -> None:
    key = ClientKey(alg)
    app = make_app(**machine_overrides(clients=[keyed_client(jwks=key.jwks())]))
    claims = assertion_claims(app, aud=[ISSUER, "https://elsewhere.example"])
    resp = token(app, key.sign(claims), client_id=KEYED_ID)
    assert resp.status_code == 200, resp.get_json()


def test_kid_may_be_left_out_with_a_single_key(keyed_app: App, key: ClientKey) -> None:
    resp = token(keyed_app, key.sign(assertion_claims(keyed_app), kid=None))
    assert resp.status_code == 200, resp.get_json()


def test_revoke_and_introspect_accept_assertions(keyed_app: App, key: ClientKey) -> None:
    issued = token(keyed_app, key.sign(assertion_claims(keyed_app))).get_json()["access_token"]
    browser = keyed_app.client()
    form = assertion_form(key.sign(assertion_claims(keyed_app)), token=issued)
    info = browser.post("/dex/token/introspect", data=form)
    assert info.status_code == 200 and info.get_json()["active"] is True
    form = assertion_form(key.sign(assertion_claims(keyed_app)), token=issued)
    assert browser.post("/dex/token/revoke", data=form).status_code == 200
    form = assertion_form(key.sign(assertion_claims(keyed_app)), token=issued)
    assert browser.post("/dex/token/introspect", data=form).get_json() == {"active": False}


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"iss": MACHINE_ID}, "iss and sub"),
        ({"iss": "someone-else"}, "iss and sub"),
        ({"aud": "https://other.example/token"}, "aud"),
        ({"aud": [ISSUER + "/token/introspect"]}, "aud"),
        ({"aud": None}, "aud"),
        ({"exp": None}, "exp"),
        ({"jti": None}, "jti"),
    ],
)
def test_refused_claims(keyed_app: App, key: ClientKey, overrides: dict, reason: str) -> None:
    assert_refused(token(keyed_app, key.sign(assertion_claims(keyed_app, **overrides))), reason)


def test_wrong_sub_names_another_client(keyed_app: App, key: ClientKey) -> None:
    # sub picks the client whose keys are tried: machine has none (it uses a secret).
    claims = assertion_claims(keyed_app, client_id=MACHINE_ID)
    assert_refused(token(keyed_app, key.sign(claims)), "private_key_jwt")


def test_expired_and_too_long_lived(keyed_app: App, key: ClientKey) -> None:
    now = int(keyed_app.clock.now().timestamp())
    expired = assertion_claims(keyed_app, exp=now - 1)
    assert_refused(token(keyed_app, key.sign(expired)), "expired")
    long_lived = assertion_claims(keyed_app, exp=now + 2 * 3600)
    assert_refused(token(keyed_app, key.sign(long_lived)), "too long")
    future = assertion_claims(keyed_app, iat=now + 3600)
    assert_refused(token(keyed_app, key.sign(future)), "future")


def test_expiry_is_judged_by_the_server_clock(keyed_app: App, key: ClientKey) -> None:
    assertion = key.sign(assertion_claims(keyed_app))
    keyed_app.clock.advance(seconds=121)
    assert_refused(token(keyed_app, assertion), "expired")


def test_replayed_jti_is_refused(keyed_app: App, key: ClientKey) -> None:
    claims = assertion_claims(keyed_app)
    assert token(keyed_app, key.sign(claims)).status_code == 200
    assert_refused(token(keyed_app, key.sign(claims)), "already used")  # same jti, new signature


def test_alg_none_is_refused(keyed_app: App, key: ClientKey) -> None:
    claims = assertion_claims(keyed_app)
    forged = unsigned({"alg": "none", "kid": key.kid}, claims, b"x")
    assert_refused(token(keyed_app, forged), "algorithm")
    assert_refused(token(keyed_app, unsigned({"alg": "none"}, claims)), "malformed")


def test_hs256_with_the_public_key_as_secret_is_refused(make_app: Callable[..., App]) -> None:
    key = ClientKey("RS256")
    app = make_app(**machine_overrides(clients=[keyed_client(jwks=key.jwks())]))
    pem = key.jwk.export_to_pem()  # the public key, as an attacker could download it
    assert b"PRIVATE" not in pem
    public_der = serialization.load_pem_public_key(pem).public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    for secret in (pem, public_der, key.jwk.export_public().encode()):
        forged = hs256_forgery(assertion_claims(app), secret, key.kid)
        assert_refused(token(app, forged), "algorithm")


def test_signature_by_another_key_is_refused(keyed_app: App, key: ClientKey) -> None:
    impostor = ClientKey("ES256", kid=key.kid)  # same kid, different key
    assert_refused(token(keyed_app, impostor.sign(assertion_claims(keyed_app))), "signature")


def test_unknown_kid_is_refused(keyed_app: App) -> None:
    other = ClientKey("ES256")
    assert_refused(token(keyed_app, other.sign(assertion_claims(keyed_app))), "unknown kid")


def test_secret_auth_is_refused_for_a_key_client(keyed_app: App) -> None:
    resp = keyed_app.client().post(
        "/dex/token",
        data={"grant_type": "client_credentials"},
        headers=basic_auth(KEYED_ID, "any-secret-at-all"),
    )
    assert_refused(resp, "private_key_jwt")
    resp = keyed_app.client().post(
        "/dex/token", data={"grant_type": "client_credentials", "client_id": KEYED_ID}
    )
    assert_refused(resp, "private_key_jwt")


def test_assertion_is_refused_for_a_secret_client(keyed_app: App, key: ClientKey) -> None:
    claims = assertion_claims(keyed_app, client_id=MACHINE_ID)
    assert_refused(token(keyed_app, key.sign(claims)), "does not authenticate with")


def test_two_methods_at_once_are_refused(keyed_app: App, key: ClientKey) -> None:
    form = assertion_form(key.sign(assertion_claims(keyed_app)), grant_type="client_credentials")
    resp = keyed_app.client().post(
        "/dex/token", data=form, headers=basic_auth(MACHINE_ID, MACHINE_SECRET)
    )
    assert resp.status_code == 400 and resp.get_json()["error"] == "invalid_request"


def test_wrong_assertion_type_and_mismatched_client_id(keyed_app: App, key: ClientKey) -> None:
    assertion = key.sign(assertion_claims(keyed_app))
    form = assertion_form(assertion, grant_type="client_credentials")
    form["client_assertion_type"] = "urn:ietf:params:oauth:client-assertion-type:saml2-bearer"
    assert_refused(keyed_app.client().post("/dex/token", data=form), "client_assertion_type")
    assert_refused(token(keyed_app, assertion, client_id=MACHINE_ID), "client_id")


def test_enforced_secret_method_refuses_the_other_secret_method(
    make_app: Callable[..., App],
) -> None:
    post_only = {
        "id": "post-only",
        "secret": "post-only-secret-post-only",
        "tokenEndpointAuthMethod": "client_secret_post",
        "grantTypes": ["client_credentials"],
    }
    app = make_app(**machine_overrides(clients=[post_only]))
    data = {"grant_type": "client_credentials"}
    resp = app.client().post(
        "/dex/token", data=data, headers=basic_auth("post-only", "post-only-secret-post-only")
    )
    assert_refused(resp, "client_secret_post")
    data.update(client_id="post-only", client_secret="post-only-secret-post-only")
    assert app.client().post("/dex/token", data=data).status_code == 200


# -- jwksURI ----------------------------------------------------------------------------------


def uri_app(make_app: Callable[..., App], server: JWKSServer) -> App:
    return make_app(**machine_overrides(clients=[keyed_client(jwksURI=server.url)]))


def test_jwks_uri_is_fetched_once_and_cached(
    make_app: Callable[..., App], jwks_server: JWKSServer
) -> None:
    key = ClientKey("RS256")
    jwks_server.publish(key.jwks())
    app = uri_app(make_app, jwks_server)
    for _ in range(3):
        resp = token(app, key.sign(assertion_claims(app)))
        assert resp.status_code == 200, resp.get_json()
    assert jwks_server.hits == 1


def test_jwks_uri_is_refetched_on_an_unknown_kid(
    make_app: Callable[..., App], jwks_server: JWKSServer
) -> None:
    old, new = ClientKey("ES256"), ClientKey("ES256")
    jwks_server.publish(old.jwks())
    app = uri_app(make_app, jwks_server)
    assert token(app, old.sign(assertion_claims(app))).status_code == 200
    jwks_server.publish(new.jwks())  # the client rotates its key
    # Right after a fetch, an unknown kid does not trigger another one (no hammering) ...
    assert_refused(token(app, new.sign(assertion_claims(app))), "unknown kid")
    assert jwks_server.hits == 1
    # ... but once the short re-fetch interval has passed, it does, once.
    app.clock.advance(seconds=11)
    assert token(app, new.sign(assertion_claims(app))).status_code == 200
    assert jwks_server.hits == 2
    stranger = ClientKey("ES256")
    assert_refused(token(app, stranger.sign(assertion_claims(app))), "unknown kid")
    assert jwks_server.hits == 2


def test_last_good_key_set_is_kept_while_the_jwks_uri_fails(
    make_app: Callable[..., App], jwks_server: JWKSServer
) -> None:
    key = ClientKey("ES256")
    jwks_server.publish(key.jwks())
    app = uri_app(make_app, jwks_server)
    assert token(app, key.sign(assertion_claims(app))).status_code == 200
    jwks_server.status = 500
    app.clock.advance(minutes=11)  # past the cache lifetime: a fetch is attempted, and fails
    assert token(app, key.sign(assertion_claims(app))).status_code == 200
    assert jwks_server.hits == 2
    assert token(app, key.sign(assertion_claims(app))).status_code == 200
    assert jwks_server.hits == 2  # the failed attempt is not repeated on every request


def test_unreachable_jwks_uri_refuses(make_app: Callable[..., App], key: ClientKey) -> None:
    server = JWKSServer()
    url = server.url
    server.close()  # nothing listens there any more
    app = make_app(**machine_overrides(clients=[keyed_client(jwksURI=url)]))
    app.svc.clients.assertions.jwks_cache.timeout = 2.0
    assert_refused(token(app, key.sign(assertion_claims(app))), "could not be fetched")
