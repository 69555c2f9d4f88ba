"""Attacks on authorization codes and refresh tokens, against a live dex-py: PKCE downgrade,
code injection across clients and redirect URIs, code replay, refresh-token replay and theft,
state/nonce replay. Each test names the protection it relies on.
"""

from __future__ import annotations

import secrets
import time
from urllib.parse import urljoin

import pytest
import requests
from authlib.oauth2.rfc7636 import create_s256_code_challenge

from tests.conformance.conftest import OP
from tests.conformance.rp import Flow, RelyingParty
from tests.live import ADMIN_EMAIL, ADMIN_PASSWORD
from tests.login_flow import parse_page
from tests.security.conftest import CLIENT, PUBLIC, SECOND

pytestmark = pytest.mark.live


def introspect(op: OP, token: str) -> dict:
    resp = requests.post(
        op.meta["introspection_endpoint"],
        data={"token": token},
        auth=(CLIENT.id, CLIENT.secret or ""),
        timeout=10,
    )
    assert resp.status_code == 200, resp.text
    return dict(resp.json())


def refresh(rp: RelyingParty, token: str) -> requests.Response:
    return rp.token_post({"grant_type": "refresh_token", "refresh_token": token})


# --- PKCE --------------------------------------------------------------------------------------


def test_pkce_downgrade_missing_verifier(op: OP) -> None:
    """Protection: a code issued with a code_challenge needs the matching code_verifier
    (RFC 7636 §4.6); leaving the verifier out is not a way around it."""
    rp = op.rp(CLIENT)
    flow = rp.authorize(op.browser(), pkce=True)
    op.verifier.token_error(rp.code_request(flow, code_verifier=""), "invalid_grant")
    wrong = secrets.token_urlsafe(48)
    op.verifier.token_error(rp.code_request(flow, code_verifier=wrong), "invalid_grant")
    challenge = flow.request.params["code_challenge"]
    # "plain" downgrade: present the challenge itself as the verifier.
    op.verifier.token_error(rp.code_request(flow, code_verifier=challenge), "invalid_grant")
    assert rp.code_request(flow).status_code == 200, "the legitimate client still can"


def test_pkce_downgrade_verifier_without_challenge(op: OP) -> None:
    """Protection: a verifier for a code issued without a challenge is refused (RFC 9700
    §2.1.1, PKCE downgrade detection)."""
    rp = op.rp(CLIENT)
    flow = rp.authorize(op.browser())
    resp = rp.code_request(flow, code_verifier=secrets.token_urlsafe(48))
    op.verifier.token_error(resp, "invalid_grant")


def test_pkce_required_for_public_clients(op: OP) -> None:
    """Protection: a public client must use PKCE (RFC 9700 §2.1.1), checked at /auth."""
    flow = op.rp(PUBLIC).authorize(op.browser(), login=False)
    assert flow.response.params.get("error") == "invalid_request"


def test_pkce_challenge_method_downgrade_at_token_endpoint(op: OP) -> None:
    """Protection: the method is the one stored with the code; an S256 challenge cannot be
    satisfied by a plain verifier equal to some other known value."""
    rp = op.rp(PUBLIC)
    verifier = secrets.token_urlsafe(48)
    flow = rp.authorize(
        op.browser(),
        code_challenge=create_s256_code_challenge(verifier),
        code_challenge_method="S256",
    )
    data = {
        "grant_type": "authorization_code",
        "code": flow.response.params["code"],
        "redirect_uri": PUBLIC.redirect_uri,
        "client_id": PUBLIC.id,
        "code_verifier": create_s256_code_challenge(verifier),
        "code_challenge_method": "plain",
    }
    resp = requests.post(op.meta["token_endpoint"], data=data, timeout=10)
    op.verifier.token_error(resp, "invalid_grant")


# --- code injection ---------------------------------------------------------------------------


def test_code_injection_across_clients(op: OP) -> None:
    """Protection: a code is bound to the client it was issued to (RFC 6749 §4.1.3); another
    client presenting it with its own credentials gets invalid_grant."""
    victim = op.rp(CLIENT)
    flow = victim.authorize(op.browser())
    attacker = op.rp(SECOND)
    resp = attacker.token_post(
        {
            "grant_type": "authorization_code",
            "code": flow.response.params["code"],
            "redirect_uri": CLIENT.redirect_uri,
        }
    )
    op.verifier.token_error(resp, "invalid_grant")
    resp = attacker.token_post(
        {
            "grant_type": "authorization_code",
            "code": flow.response.params["code"],
            "redirect_uri": SECOND.redirect_uri,
        }
    )
    op.verifier.token_error(resp, "invalid_grant")


def test_code_injection_other_redirect_uri(op: OP) -> None:
    """Protection: the redirect_uri at the token endpoint must equal the one of the
    authorization request (RFC 6749 §4.1.3)."""
    rp = op.rp(CLIENT)
    flow = rp.authorize(op.browser())
    resp = rp.code_request(flow, redirect_uri="http://127.0.0.1:5555/other")
    op.verifier.token_error(resp, "invalid_grant")


def test_code_injection_public_client_impersonation(op: OP) -> None:
    """Protection: a public client's code cannot be redeemed by a confidential client and vice
    versa; a confidential client's code needs its secret."""
    rp = op.rp(CLIENT)
    flow = rp.authorize(op.browser())
    resp = requests.post(
        op.meta["token_endpoint"],
        data={
            "grant_type": "authorization_code",
            "code": flow.response.params["code"],
            "redirect_uri": CLIENT.redirect_uri,
            "client_id": CLIENT.id,
        },
        timeout=10,
    )
    op.verifier.token_error(resp, "invalid_client")


# --- replay -----------------------------------------------------------------------------------


def test_authorization_code_replay_revokes_tokens(op: OP) -> None:
    """Protection: a code redeemed twice is refused and everything its first use issued is
    revoked (RFC 6749 §4.1.2, RFC 9700 §4.5): access token (UserInfo, introspection) and
    refresh token."""
    rp = op.rp(CLIENT)
    flow = rp.login(op.browser(), "openid offline_access")
    access, refresh_token = flow.tokens["access_token"], flow.tokens["refresh_token"]
    assert rp.userinfo(access).status_code == 200
    assert introspect(op, access)["active"] is True
    op.verifier.token_error(rp.code_request(flow), "invalid_grant")
    assert rp.userinfo(access).status_code == 401
    assert introspect(op, access)["active"] is False
    op.verifier.token_error(refresh(rp, refresh_token), "invalid_grant")


def test_refresh_token_replay_revokes_chain(op: OP) -> None:
    """Protection: refresh tokens rotate; presenting a superseded one (outside the short retry
    window) revokes the whole chain, so a thief and the client cannot both continue
    (RFC 9700 §4.14.2)."""
    rp = op.rp(CLIENT)
    flow = rp.login(op.browser(), "openid offline_access")
    old = flow.tokens["refresh_token"]
    first = refresh(rp, old)
    assert first.status_code == 200, first.text
    new = first.json()["refresh_token"]
    assert new != old
    time.sleep(1.2)  # the server is configured with reuseInterval 1s
    op.verifier.token_error(refresh(rp, old), "invalid_grant")
    op.verifier.token_error(refresh(rp, new), "invalid_grant")


def test_refresh_token_theft_by_other_client(op: OP) -> None:
    """Protection: a refresh token is bound to its client (RFC 6749 §6); another client gets
    invalid_grant and the owner keeps working."""
    rp = op.rp(CLIENT)
    flow = rp.login(op.browser(), "openid offline_access")
    stolen = op.rp(SECOND).token_post(
        {"grant_type": "refresh_token", "refresh_token": flow.tokens["refresh_token"]}
    )
    op.verifier.token_error(stolen, "invalid_grant")
    assert refresh(rp, flow.tokens["refresh_token"]).status_code == 200


def test_refresh_token_forged_secret(op: OP) -> None:
    """Protection: the refresh token's secret is checked (hash compare), not only its id."""
    rp = op.rp(CLIENT)
    flow = rp.login(op.browser(), "openid offline_access")
    token_id, _, secret = flow.tokens["refresh_token"].partition(".")
    forged = f"{token_id}.{secrets.token_urlsafe(32)}"
    op.verifier.token_error(refresh(rp, forged), "invalid_grant")
    assert secret not in forged


def test_state_and_nonce_replay(op: OP) -> None:
    """Protection: state is echoed byte for byte (so the RP can bind the response to its
    session), the nonce of *this* request is bound into the code's ID token (so an injected
    code from another session is detected, OIDC Core §15.5.2), and a code works once."""
    rp = op.rp(CLIENT)
    browser = op.browser()
    state = "st-" + secrets.token_urlsafe(40) + "-~._"
    first: Flow = rp.authorize(browser, state=state)
    assert first.response.params["state"] == state
    second = rp.authorize(browser)
    tokens_2 = rp.redeem(second)
    tokens_1 = rp.redeem(first)
    claims_1 = op.verifier.id_token(
        tokens_1["id_token"], client_id=CLIENT.id, nonce=first.request.nonce
    )
    claims_2 = op.verifier.id_token(
        tokens_2["id_token"], client_id=CLIENT.id, nonce=second.request.nonce
    )
    assert claims_1["nonce"] != claims_2["nonce"]
    op.verifier.token_error(rp.code_request(first), "invalid_grant")


def test_login_request_replay(op: OP) -> None:
    """Protection: an authorization request is consumed when answered; replaying the approval
    form (same browser, same CSRF token) mints no second code."""
    rp = op.rp(CLIENT)
    browser = op.browser()
    req = rp.request(prompt="consent")
    resp = browser.open(req.url)
    approval_post: tuple[str, dict[str, str]] | None = None
    for _ in range(10):
        if resp.is_redirect:
            target = urljoin(resp.url, resp.headers["Location"])
            if not target.startswith(op.issuer):
                break
            resp = browser.open(target)
            continue
        page = parse_page(resp.text)
        form = page.forms[0] if page.forms else None
        if form is None:
            link = next(h for h in page.links if "/auth/local" in h)
            resp = browser.open(urljoin(resp.url, link))
            continue
        fields = {i["name"]: i.get("value", "") for i in form["inputs"] if i.get("name")}
        if "password" in fields:
            fields.update(login=ADMIN_EMAIL, password=ADMIN_PASSWORD)
        if "req" in fields:
            fields["approval"] = "approve"
            approval_post = (urljoin(resp.url, form["action"]), dict(fields))
        resp = browser.open(urljoin(resp.url, form["action"]), fields)
    assert approval_post is not None and resp.is_redirect
    replay = browser.open(*approval_post)
    assert not replay.is_redirect and replay.status_code == 400
