"""The OpenID Foundation's Basic OP and Form Post Basic OP test plans against a live dex-py.

One test per module of ``oidcc-basic-certification-test-plan`` (response type ``code``,
``client_secret_basic`` unless the module says otherwise), named after the module. The Form Post
Basic OP plan runs the same modules with ``response_mode=form_post``, so every test runs twice:
``[basic]`` and ``[formpost]``. Modules for features dex-py deliberately lacks (request objects,
``request_uri``, the ``claims`` parameter, address/phone claims, unsigned ID tokens) assert the
behaviour the suite accepts from an OP without the feature.
"""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from jwcrypto.jws import InvalidJWSSignature

from tests.conformance.conftest import CLIENT, CLIENT_POST, OP, SECOND
from tests.conformance.rp import Browser, Flow, PageShown, RelyingParty
from tests.conformance.verifier import (
    AUTHORIZATION_ERRORS,
    USER_INTERFACE_ERRORS,
    check_error_text,
    unverified_parts,
)
from tests.live import ADMIN_EMAIL

pytestmark = pytest.mark.live

# RFC 6749 Appendix A.17: refresh-token = 1*VSCHAR
_VSCHAR = re.compile(r"^[\x20-\x7e]+$")


@pytest.fixture(scope="module", params=[None, "form_post"], ids=["basic", "formpost"])
def response_mode(request: pytest.FixtureRequest) -> Iterator[str | None]:
    yield request.param


@pytest.fixture
def rp(op: OP, response_mode: str | None) -> RelyingParty:
    return op.rp(CLIENT, response_mode=response_mode)


def authorization_error(flow: Flow, expected: set[str]) -> str:
    """The error a flow ended with: well formed, one of ``expected``, state echoed."""
    error = check_error_text(flow.response.params, AUTHORIZATION_ERRORS)
    assert error in expected, f"{error!r} not in {sorted(expected)}"
    assert "code" not in flow.response.params and "id_token" not in flow.response.params
    return error


def second_login(rp: RelyingParty, browser: Browser, first: Flow, **kw: Any) -> Flow:
    """A second authorization in the same browser; checks the ``sub`` did not change."""
    flow = rp.login(browser, **kw)
    assert flow.claims["sub"] == first.claims["sub"]
    return flow


# --- happy paths ----------------------------------------------------------------------------


def test_oidcc_server(op: OP, rp: RelyingParty) -> None:
    """oidcc-server: the code flow; state echoed; ID token and UserInfo verified."""
    flow = rp.login(op.browser(), "openid")
    assert flow.response.logins == 1 and flow.response.approvals == 1
    assert "id_token" not in flow.response.params, "code flow returns no tokens from /auth"
    assert isinstance(flow.tokens["expires_in"], int) and flow.tokens["expires_in"] > 0
    info = op.verifier.userinfo(rp.userinfo(flow.tokens["access_token"]), sub=flow.claims["sub"])
    assert set(info) >= {"sub"}


def test_oidcc_server_client_secret_post(op: OP, response_mode: str | None) -> None:
    """oidcc-server-client-secret-post: the same flow authenticating with client_secret_post."""
    rp = op.rp(CLIENT_POST, response_mode=response_mode)
    assert "client_secret_post" in op.meta["token_endpoint_auth_methods_supported"]
    flow = rp.login(op.browser())
    assert flow.claims["aud"] == CLIENT.id


def test_oidcc_response_type_missing(op: OP, rp: RelyingParty) -> None:
    """oidcc-response-type-missing: an error (invalid_request or unsupported_response_type)
    goes back to the client with the state; no user interaction."""
    flow = rp.authorize(op.browser(), response_type=None, login=False)
    authorization_error(flow, {"invalid_request", "unsupported_response_type"})
    assert flow.response.logins == 0


def test_oidcc_idtoken_signature(op: OP, rp: RelyingParty) -> None:
    """oidcc-idtoken-signature: the ID token is signed with an advertised asymmetric alg and a
    published kid; a tampered signature does not verify."""
    flow = rp.login(op.browser())
    token = flow.tokens["id_token"]
    header, _ = unverified_parts(token)
    assert header["alg"] in op.meta["id_token_signing_alg_values_supported"]
    assert header["alg"] != "none" and not header["alg"].startswith("HS")
    assert op.verifier.jwks().get_key(header["kid"]) is not None
    head, payload, sig = token.split(".")
    flipped = sig[:-4] + ("AAAA" if sig[-4:] != "AAAA" else "BBBB")
    with pytest.raises(InvalidJWSSignature):
        op.verifier.verify_jws(f"{head}.{payload}.{flipped}")


def test_oidcc_idtoken_unsigned(op: OP, rp: RelyingParty) -> None:
    """oidcc-idtoken-unsigned: not applicable to a static client; the suite skips it when
    discovery does not offer ``none``. dex-py never offers nor issues unsigned ID tokens."""
    assert "none" not in op.meta["id_token_signing_alg_values_supported"]
    flow = rp.login(op.browser())
    assert unverified_parts(flow.tokens["id_token"])[0]["alg"] != "none"


def test_oidcc_userinfo_get(op: OP, rp: RelyingParty) -> None:
    """oidcc-userinfo-get: UserInfo by GET with a Bearer header."""
    flow = rp.login(op.browser(), "openid email")
    info = op.verifier.userinfo(rp.userinfo(flow.tokens["access_token"]), sub=flow.claims["sub"])
    assert info["email"] == ADMIN_EMAIL


def test_oidcc_userinfo_post_header(op: OP, rp: RelyingParty) -> None:
    """oidcc-userinfo-post-header: UserInfo by POST with a Bearer header."""
    flow = rp.login(op.browser(), "openid email")
    resp = requests.post(
        op.meta["userinfo_endpoint"],
        headers={"Authorization": "Bearer " + flow.tokens["access_token"]},
        timeout=10,
    )
    assert op.verifier.userinfo(resp, sub=flow.claims["sub"])["email"] == ADMIN_EMAIL


def test_oidcc_userinfo_post_body(op: OP, rp: RelyingParty) -> None:
    """oidcc-userinfo-post-body: UserInfo by POST with the token in the form body
    (RFC 6750 §2.2)."""
    flow = rp.login(op.browser(), "openid email")
    resp = requests.post(
        op.meta["userinfo_endpoint"],
        data={"access_token": flow.tokens["access_token"]},
        timeout=10,
    )
    assert op.verifier.userinfo(resp, sub=flow.claims["sub"])["email"] == ADMIN_EMAIL


def test_oidcc_ensure_request_without_nonce_succeeds_for_code_flow(
    op: OP, rp: RelyingParty
) -> None:
    """oidcc-ensure-request-without-nonce-succeeds-for-code-flow: nonce is optional for code;
    the ID token then carries none."""
    flow = rp.login(op.browser(), nonce=False)
    assert "nonce" not in flow.claims


# --- scopes -----------------------------------------------------------------------------------


def _scope_flow(op: OP, rp: RelyingParty, scope: str) -> tuple[Flow, dict]:
    flow = rp.login(op.browser(), scope)
    info = op.verifier.userinfo(rp.userinfo(flow.tokens["access_token"]), sub=flow.claims["sub"])
    return flow, info


def test_oidcc_scope_profile(op: OP, rp: RelyingParty) -> None:
    """oidcc-scope-profile: profile claims returned (name, preferred_username)."""
    assert "profile" in op.meta["scopes_supported"]
    _, info = _scope_flow(op, rp, "openid profile")
    assert info["name"] == "admin"
    assert "email" not in info, "claims of scopes not asked for must not be returned"


def test_oidcc_scope_email(op: OP, rp: RelyingParty) -> None:
    """oidcc-scope-email: email and email_verified returned."""
    assert "email" in op.meta["scopes_supported"]
    _, info = _scope_flow(op, rp, "openid email")
    assert info["email"] == ADMIN_EMAIL and isinstance(info["email_verified"], bool)
    assert "name" not in info


def test_oidcc_scope_address(op: OP, rp: RelyingParty) -> None:
    """oidcc-scope-address: skipped by the suite when scopes_supported lacks ``address``, as
    here; the scope is ignored (RFC 6749 §3.3) and no address claim appears."""
    assert "address" not in op.meta["scopes_supported"]
    flow, info = _scope_flow(op, rp, "openid address")
    assert "address" not in info and "address" not in flow.claims


def test_oidcc_scope_phone(op: OP, rp: RelyingParty) -> None:
    """oidcc-scope-phone: as address: not offered, ignored, no phone claims."""
    assert "phone" not in op.meta["scopes_supported"]
    flow, info = _scope_flow(op, rp, "openid phone")
    assert not {"phone_number", "phone_number_verified"} & (set(info) | set(flow.claims))


def test_oidcc_scope_all(op: OP, rp: RelyingParty) -> None:
    """oidcc-scope-all: every standard scope at once; the supported ones are honoured."""
    _, info = _scope_flow(op, rp, "openid profile email address phone")
    assert info["email"] == ADMIN_EMAIL and info["name"] == "admin"


def test_oidcc_ensure_other_scope_order_succeeds(op: OP, rp: RelyingParty) -> None:
    """oidcc-ensure-other-scope-order-succeeds: ``email openid`` works like ``openid email``."""
    _, info = _scope_flow(op, rp, "email openid")
    assert info["email"] == ADMIN_EMAIL


# --- request parameters -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("module", "extra"),
    [
        ("oidcc-display-page", {"display": "page"}),
        ("oidcc-display-popup", {"display": "popup"}),
        ("oidcc-ui-locales", {"ui_locales": "se"}),
        ("oidcc-claims-locales", {"claims_locales": "se"}),
        ("oidcc-ensure-request-with-acr-values-succeeds", {"acr_values": "1 2"}),
        (
            "oidcc-ensure-request-with-unknown-parameter-succeeds",
            {"extra_param_from_conformance_suite": "ignored-value"},
        ),
    ],
)
def test_oidcc_optional_request_parameters(
    op: OP, rp: RelyingParty, module: str, extra: dict[str, str]
) -> None:
    """oidcc-display-page, oidcc-display-popup, oidcc-ui-locales, oidcc-claims-locales,
    oidcc-ensure-request-with-acr-values-succeeds,
    oidcc-ensure-request-with-unknown-parameter-succeeds: the parameter is accepted (or ignored)
    and the flow succeeds."""
    flow = rp.login(op.browser(), **extra)
    assert flow.claims["sub"], module


def test_oidcc_ensure_post_request_succeeds(op: OP, rp: RelyingParty) -> None:
    """oidcc-ensure-post-request-succeeds: the authorization request sent by POST
    (OIDC Core §3.1.2.1)."""
    flow = rp.login(op.browser(), post=True)
    assert flow.response.logins == 1


def test_oidcc_login_hint(op: OP, rp: RelyingParty) -> None:
    """oidcc-login-hint: the hint is accepted and pre-fills the login form."""
    browser = op.browser()
    req = rp.request(login_hint=ADMIN_EMAIL)
    resp = browser.session.get(req.url, timeout=10)
    if "password" not in resp.text:  # connector chooser
        link = re.search(r'href="([^"]*/auth/local[^"]*)"', resp.text)
        assert link
        resp = browser.session.get(link.group(1).replace("&amp;", "&"), timeout=10)
    assert resp.status_code == 200
    assert re.search(rf'name="login"[^>]*value="{re.escape(ADMIN_EMAIL)}"', resp.text), (
        "login_hint did not pre-fill the username"
    )
    flow = rp.login(op.browser(), login_hint=ADMIN_EMAIL)
    assert flow.claims["sub"]


# --- sessions: prompt, max_age, id_token_hint -------------------------------------------------


def test_oidcc_prompt_login(op: OP, rp: RelyingParty) -> None:
    """oidcc-prompt-login: the second request, with prompt=login, makes the user log in again
    and the auth_time values differ."""
    browser = op.browser()
    first = rp.login(browser)
    time.sleep(1.1)  # auth_time has a resolution of one second
    second = second_login(rp, browser, first, prompt="login")
    assert second.response.logins == 1, "prompt=login must show the login form again"
    assert second.claims["auth_time"] > first.claims["auth_time"]


def test_oidcc_prompt_none_not_logged_in(op: OP, rp: RelyingParty) -> None:
    """oidcc-prompt-none-not-logged-in: an error that needs a user interface, sent to the
    client without showing a page."""
    flow = rp.authorize(op.browser(), prompt="none", login=False)
    authorization_error(flow, USER_INTERFACE_ERRORS)
    assert flow.response.logins == 0 and flow.response.approvals == 0


def test_oidcc_prompt_none_logged_in(op: OP, rp: RelyingParty) -> None:
    """oidcc-prompt-none-logged-in: after a login, prompt=none answers at once."""
    browser = op.browser()
    first = rp.login(browser)
    second = second_login(rp, browser, first, prompt="none", login=False)
    assert second.response.approvals == 0
    assert second.claims.get("auth_time") == first.claims.get("auth_time")


def test_oidcc_max_age_1(op: OP, rp: RelyingParty) -> None:
    """oidcc-max-age-1: after waiting, max_age=1 forces a new login and auth_time is later."""
    browser = op.browser()
    first = rp.login(browser)
    time.sleep(2)  # as the suite does
    second = second_login(rp, browser, first, max_age="1")
    assert second.response.logins == 1, "max_age=1 must re-authenticate"
    assert second.claims["auth_time"] > first.claims["auth_time"]


def test_oidcc_max_age_10000(op: OP, rp: RelyingParty) -> None:
    """oidcc-max-age-10000: a recent login satisfies max_age=10000; auth_time is returned and
    unchanged."""
    browser = op.browser()
    first = rp.login(browser)
    second = second_login(rp, browser, first, max_age="10000", login=False)
    assert second.claims["auth_time"] == first.claims["auth_time"]


def test_oidcc_id_token_hint(op: OP, rp: RelyingParty) -> None:
    """oidcc-id-token-hint: prompt=none with the first ID token as hint succeeds silently."""
    browser = op.browser()
    first = rp.login(browser)
    second_login(
        rp, browser, first, prompt="none", id_token_hint=first.tokens["id_token"], login=False
    )


# --- the token endpoint -----------------------------------------------------------------------


def _code_reuse(op: OP, rp: RelyingParty, wait: float) -> None:
    flow = rp.login(op.browser())
    assert op.verifier.userinfo(rp.userinfo(flow.tokens["access_token"]), sub=flow.claims["sub"])
    if wait:
        time.sleep(wait)
    op.verifier.token_error(rp.code_request(flow), "invalid_grant")
    # RFC 6749 §4.1.2: the OP SHOULD revoke what the code issued; dex-py does.
    assert rp.userinfo(flow.tokens["access_token"]).status_code == 401


def test_oidcc_codereuse(op: OP, rp: RelyingParty) -> None:
    """oidcc-codereuse: a code redeemed twice gives invalid_grant (and revokes its tokens)."""
    _code_reuse(op, rp, 0)


@pytest.mark.slow
def test_oidcc_codereuse_30seconds(op: OP, rp: RelyingParty) -> None:
    """oidcc-codereuse-30seconds: the same, 30 seconds after the first use."""
    _code_reuse(op, rp, 30)


def test_oidcc_ensure_registered_redirect_uri(op: OP, rp: RelyingParty) -> None:
    """oidcc-ensure-registered-redirect-uri: an unregistered redirect_uri gets an error page,
    never a redirect."""
    req = rp.request(redirect_uri="https://attacker.example/callback")
    with pytest.raises(PageShown) as shown:
        op.browser().authorize(req.url)
    assert shown.value.resp.status_code == 400
    assert "attacker.example" not in shown.value.resp.headers.get("Location", "")


def test_oidcc_refresh_token(op: OP, rp: RelyingParty, response_mode: str | None) -> None:
    """oidcc-refresh-token: offline_access with prompt=consent yields a refresh token of
    VSCHARs; refreshing returns a consistent ID token and a working access token; the refresh
    token is bound to its client."""
    assert "refresh_token" in op.meta["grant_types_supported"]
    first = rp.login(op.browser(), "openid offline_access", prompt="consent")
    assert first.response.approvals == 1, "prompt=consent shows the approval page"
    refresh = first.tokens["refresh_token"]
    assert _VSCHAR.match(refresh)
    token = rp.oauth().refresh_token(op.meta["token_endpoint"], refresh_token=refresh)
    claims = op.verifier.id_token(
        token["id_token"], client_id=CLIENT.id, access_token=token["access_token"]
    )
    for name in ("iss", "sub", "aud"):
        assert claims[name] == first.claims[name]
    assert claims["iat"] >= first.claims["iat"]
    op.verifier.userinfo(rp.userinfo(token["access_token"]), sub=claims["sub"])

    rp2 = op.rp(SECOND, response_mode=response_mode)
    other = rp2.login(op.browser(), "openid offline_access", prompt="consent")
    stolen = rp.token_post(
        {"grant_type": "refresh_token", "refresh_token": other.tokens["refresh_token"]}
    )
    op.verifier.token_error(stolen, "invalid_grant")


def test_oidcc_ensure_request_with_valid_pkce_succeeds(op: OP, rp: RelyingParty) -> None:
    """oidcc-ensure-request-with-valid-pkce-succeeds: S256 PKCE round trip."""
    assert "S256" in op.meta["code_challenge_methods_supported"]
    flow = rp.login(op.browser(), pkce=True)
    assert flow.tokens["access_token"]


# --- features dex-py does not have: the answers the suite accepts ----------------------------


def _unsigned_request_object(rp: RelyingParty, **claims: str) -> str:
    def seg(obj: dict) -> str:
        raw = json.dumps(obj).encode()
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    return seg({"alg": "none"}) + "." + seg({"client_id": rp.client.id, **claims}) + "."


def test_oidcc_unsigned_request_object_supported_correctly_or_rejected_as_unsupported(
    op: OP, rp: RelyingParty
) -> None:
    """oidcc-unsigned-request-object-supported-correctly-or-rejected-as-unsupported: discovery
    says request objects are unsupported and a request object is refused with
    request_not_supported."""
    assert op.meta.get("request_parameter_supported") is False
    request_object = _unsigned_request_object(rp, response_type="code", scope="openid")
    flow = rp.authorize(op.browser(), request=request_object, login=False)
    assert authorization_error(flow, {"request_not_supported"})


def test_oidcc_ensure_request_object_with_redirect_uri(op: OP, rp: RelyingParty) -> None:
    """oidcc-ensure-request-object-with-redirect-uri: skipped by the suite when request objects
    are unsupported; the object (carrying the redirect_uri) is refused, not half-used."""
    request_object = _unsigned_request_object(rp, redirect_uri=rp.client.redirect_uri)
    flow = rp.authorize(op.browser(), request=request_object, login=False)
    authorization_error(flow, {"request_not_supported"})


def test_oidcc_request_uri_unsigned_supported_correctly_or_rejected_as_unsupported(
    op: OP, rp: RelyingParty
) -> None:
    """oidcc-request-uri-unsigned-supported-correctly-or-rejected-as-unsupported: request_uri is
    refused with request_uri_not_supported, as discovery says."""
    assert op.meta.get("request_uri_parameter_supported") is False
    flow = rp.authorize(op.browser(), request_uri="https://rp.example/request.jwt", login=False)
    authorization_error(flow, {"request_uri_not_supported"})


def test_oidcc_claims_essential(op: OP, rp: RelyingParty) -> None:
    """oidcc-claims-essential: the claims parameter is not supported (discovery says so); the
    request still succeeds and the parameter is ignored."""
    assert op.meta.get("claims_parameter_supported") is False
    claims = json.dumps({"userinfo": {"name": {"essential": True}}})
    flow = rp.login(op.browser(), claims=claims)
    info = op.verifier.userinfo(rp.userinfo(flow.tokens["access_token"]), sub=flow.claims["sub"])
    assert "name" not in info, "no profile scope: the ignored claims request adds nothing"
