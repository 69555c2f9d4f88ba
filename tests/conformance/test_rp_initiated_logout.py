"""The OpenID Foundation's RP-Initiated Logout OP test plan (and the back-channel logout
module built on it) against a live dex-py.

Each module logs a user in, sends the browser to ``end_session_endpoint`` with some
parameters, and checks what the OP did: redirect to the registered ``post_logout_redirect_uri``
with the unchanged ``state`` (and nothing else), or — when it must not redirect — an error or
confirmation page. When the user was logged out, a following ``prompt=none`` request must fail
with an error that needs a user interface. The discovery module is in ``test_config_op.py``
(it needs the HTTPS server).
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
import requests
from jwcrypto.jwk import JWK
from jwcrypto.jws import JWS

from tests.conformance.conftest import CLIENT, OP, POST_LOGOUT_URI, start_op
from tests.conformance.rp import Browser, Flow, RelyingParty
from tests.conformance.verifier import (
    AUTHORIZATION_ERRORS,
    USER_INTERFACE_ERRORS,
    check_error_text,
    unverified_parts,
)
from tests.live import EXAMPLE_CLIENT_ID, EXAMPLE_CLIENT_SECRET, EXAMPLE_REDIRECT_URI
from tests.login_flow import parse_page

pytestmark = pytest.mark.live

BACKCHANNEL_WAIT = 20.0  # upper bound for the first delivery (a background thread); not asserted


class Receiver:
    """A client's back-channel logout endpoint recording the ``logout_token``s it receives."""

    def __init__(self) -> None:
        self.tokens: list[str] = []
        self.arrived = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                form = dict(parse_qsl(self.rfile.read(length).decode()))
                receiver.tokens.append(form.get("logout_token", ""))
                receiver.arrived.set()
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def uri(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}/backchannel-logout"


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    recv = Receiver()
    yield recv
    recv.server.shutdown()
    recv.server.server_close()


@pytest.fixture(scope="module")
def op(tmp_path_factory: pytest.TempPathFactory, receiver: Receiver) -> Iterator[OP]:
    """The conformance OP, with example-app also registering a back-channel logout URI."""
    yield from start_op(
        tmp_path_factory,
        {
            "staticClients": [
                {
                    "id": EXAMPLE_CLIENT_ID,
                    "secret": EXAMPLE_CLIENT_SECRET,
                    "name": "Conformance RP",
                    "redirectURIs": [EXAMPLE_REDIRECT_URI],
                    "postLogoutRedirectURIs": [POST_LOGOUT_URI],
                    "backchannelLogoutURI": receiver.uri,
                }
            ]
        },
    )


@pytest.fixture
def rp(op: OP) -> RelyingParty:
    return op.rp(CLIENT)


def logged_in(op: OP, rp: RelyingParty) -> tuple[Browser, Flow]:
    browser = op.browser()
    flow = rp.login(browser)
    assert isinstance(flow.claims.get("sid"), str), "the ID token names the session (sid)"
    return browser, flow


def end_session(op: OP, browser: Browser, **params: str) -> requests.Response:
    url = op.meta["end_session_endpoint"]
    return browser.open(url + ("?" + urlencode(params) if params else ""))


def assert_logged_out(rp: RelyingParty, browser: Browser) -> None:
    flow = rp.authorize(browser, prompt="none", login=False)
    error = check_error_text(flow.response.params, AUTHORIZATION_ERRORS)
    assert error in USER_INTERFACE_ERRORS, "the session must be gone after logout"


def assert_still_logged_in(rp: RelyingParty, browser: Browser) -> None:
    flow = rp.authorize(browser, prompt="none", login=False)
    assert "code" in flow.response.params, flow.response.params


def assert_no_redirect(resp: requests.Response, status: int) -> None:
    assert not resp.is_redirect, f"redirected to {resp.headers.get('Location')}"
    assert resp.status_code == status, resp.text[:300]
    assert "text/html" in resp.headers["Content-Type"]


def confirm(browser: Browser, page: requests.Response, answer: str = "yes") -> requests.Response:
    """Answer the OP's logout confirmation page."""
    form = next(f for f in parse_page(page.text).forms if f["method"].lower() == "post")
    fields = {
        i["name"]: i.get("value", "")
        for i in form["inputs"]
        if i.get("type") == "hidden" and i.get("name")
    }
    fields["logout"] = answer
    return browser.open(form["action"], fields)


def test_oidcc_rp_initiated_logout(op: OP, rp: RelyingParty) -> None:
    """oidcc-rp-initiated-logout: redirect to the registered URI with the (128-character)
    state unchanged and no other parameters; afterwards prompt=none fails."""
    browser, flow = logged_in(op, rp)
    state = secrets.token_urlsafe(96)[:128]
    resp = end_session(
        op,
        browser,
        id_token_hint=flow.tokens["id_token"],
        post_logout_redirect_uri=POST_LOGOUT_URI,
        state=state,
    )
    assert resp.is_redirect, resp.text[:300]
    target = urlsplit(resp.headers["Location"])
    assert f"{target.scheme}://{target.netloc}{target.path}" == POST_LOGOUT_URI
    assert dict(parse_qsl(target.query)) == {"state": state}, "CheckPostLogoutState"
    assert not target.fragment
    assert_logged_out(rp, browser)


def test_oidcc_rp_initiated_logout_bad_post_logout_redirect_uri(op: OP, rp: RelyingParty) -> None:
    """oidcc-rp-initiated-logout-bad-post-logout-redirect-uri: an unregistered URI is never
    redirected to; an error page instead (and the session is untouched)."""
    browser, flow = logged_in(op, rp)
    resp = end_session(
        op,
        browser,
        id_token_hint=flow.tokens["id_token"],
        post_logout_redirect_uri="https://attacker.example/logged-out",
        state="s",
    )
    assert_no_redirect(resp, 400)
    assert_still_logged_in(rp, browser)


def test_oidcc_rp_initiated_logout_modified_id_token_hint(op: OP, rp: RelyingParty) -> None:
    """oidcc-rp-initiated-logout-modified-id-token-hint: a hint whose signature was altered is
    refused with an error page, no redirect."""
    browser, flow = logged_in(op, rp)
    head, payload, sig = flow.tokens["id_token"].split(".")
    modified = f"{head}.{payload}.{sig[:-6]}{'A' * 6 if sig[-6:] != 'A' * 6 else 'B' * 6}"
    resp = end_session(
        op,
        browser,
        id_token_hint=modified,
        post_logout_redirect_uri=POST_LOGOUT_URI,
        state="s",
    )
    assert_no_redirect(resp, 400)
    assert_still_logged_in(rp, browser)


def test_oidcc_rp_initiated_logout_bad_id_token_hint(op: OP, rp: RelyingParty) -> None:
    """oidcc-rp-initiated-logout-bad-id-token-hint: a well-formed ID token signed by someone
    else's key (same claims, a kid of our own) is refused with an error page, no redirect."""
    browser, flow = logged_in(op, rp)
    _, claims = unverified_parts(flow.tokens["id_token"])
    fake_key = JWK.generate(kty="RSA", size=2048, kid="conformance-suite-key")
    jws = JWS(json.dumps(claims).encode())
    jws.add_signature(fake_key, alg="RS256", protected={"alg": "RS256", "kid": fake_key.kid})
    resp = end_session(
        op,
        browser,
        id_token_hint=jws.serialize(compact=True),
        post_logout_redirect_uri=POST_LOGOUT_URI,
        state="s",
    )
    assert_no_redirect(resp, 400)


def test_oidcc_rp_initiated_logout_no_id_token_hint(op: OP, rp: RelyingParty) -> None:
    """oidcc-rp-initiated-logout-no-id-token-hint: post_logout_redirect_uri without a hint
    is not redirected to: an error page (nothing names the client) — and with a client_id the
    user is asked to confirm rather than being logged out and redirected at once."""
    browser, _ = logged_in(op, rp)
    resp = end_session(op, browser, post_logout_redirect_uri=POST_LOGOUT_URI, state="s")
    assert_no_redirect(resp, 400)
    asked = end_session(
        op, browser, post_logout_redirect_uri=POST_LOGOUT_URI, state="s", client_id=CLIENT.id
    )
    assert_no_redirect(asked, 200)
    assert any(f["method"].lower() == "post" for f in parse_page(asked.text).forms)
    assert_still_logged_in(rp, browser)


def test_oidcc_rp_initiated_logout_no_params(op: OP, rp: RelyingParty) -> None:
    """oidcc-rp-initiated-logout-no-params: no parameters: the user is logged out (after
    confirming, RP-Initiated Logout §2 SHOULD) and sees a logged-out page, no redirect."""
    browser, _ = logged_in(op, rp)
    page = end_session(op, browser)
    assert_no_redirect(page, 200)
    done = confirm(browser, page)
    assert_no_redirect(done, 200)
    assert "logged out" in done.text.lower()
    assert_logged_out(rp, browser)


def test_oidcc_rp_initiated_logout_no_post_logout_redirect_uri(op: OP, rp: RelyingParty) -> None:
    """oidcc-rp-initiated-logout-no-post-logout-redirect-uri: a valid hint and state but no
    URI: logged out, logged-out page, no redirect."""
    browser, flow = logged_in(op, rp)
    resp = end_session(op, browser, id_token_hint=flow.tokens["id_token"], state="s")
    assert_no_redirect(resp, 200)
    assert "logged out" in resp.text.lower()
    assert_logged_out(rp, browser)


def test_oidcc_rp_initiated_logout_no_state(op: OP, rp: RelyingParty) -> None:
    """oidcc-rp-initiated-logout-no-state: redirect to the URI exactly, with no state and no
    unexpected parameters; afterwards prompt=none fails."""
    browser, flow = logged_in(op, rp)
    resp = end_session(
        op, browser, id_token_hint=flow.tokens["id_token"], post_logout_redirect_uri=POST_LOGOUT_URI
    )
    assert resp.is_redirect
    assert resp.headers["Location"] == POST_LOGOUT_URI, "CheckNoPostLogoutState"
    assert_logged_out(rp, browser)


def test_oidcc_rp_initiated_logout_only_state(op: OP, rp: RelyingParty) -> None:
    """oidcc-rp-initiated-logout-only-state: only state: the user is logged out (after
    confirming) and no redirect happens."""
    browser, _ = logged_in(op, rp)
    page = end_session(op, browser, state="only-state")
    assert_no_redirect(page, 200)
    done = confirm(browser, page)
    assert_no_redirect(done, 200)
    assert_logged_out(rp, browser)


def test_oidcc_rp_initiated_logout_query_added_to_post_logout_redirect_uri(
    op: OP, rp: RelyingParty
) -> None:
    """oidcc-rp-initiated-logout-query-added-to-post-logout-redirect-uri: the registered URI
    plus ``?foo=bar`` is a different URI: error page, no redirect."""
    browser, flow = logged_in(op, rp)
    resp = end_session(
        op,
        browser,
        id_token_hint=flow.tokens["id_token"],
        post_logout_redirect_uri=POST_LOGOUT_URI + "?foo=bar",
        state="s",
    )
    assert_no_redirect(resp, 400)
    assert_still_logged_in(rp, browser)


def test_oidcc_backchannel_rp_initiated_logout(
    op: OP, rp: RelyingParty, receiver: Receiver
) -> None:
    """oidcc-backchannel-rp-initiated-logout (Back-Channel Logout OP plan): after an
    RP-initiated logout the client's backchannel_logout_uri receives a logout token signed by
    the OP, with the session's sid and sub, the logout event, a jti, and no nonce."""
    assert op.meta["backchannel_logout_supported"] is True
    assert op.meta["backchannel_logout_session_supported"] is True
    browser, flow = logged_in(op, rp)
    receiver.arrived.clear()
    resp = end_session(
        op, browser, id_token_hint=flow.tokens["id_token"], post_logout_redirect_uri=POST_LOGOUT_URI
    )
    assert resp.is_redirect
    deadline = time.monotonic() + BACKCHANNEL_WAIT
    token = None
    while token is None and time.monotonic() < deadline:
        receiver.arrived.wait(0.5)
        token = next(
            (t for t in receiver.tokens if unverified_parts(t)[1].get("sid") == flow.claims["sid"]),
            None,
        )
    assert token is not None, "no logout token for the session arrived"
    header, claims = op.verifier.verify_jws(token)
    assert header.get("typ") == "logout+jwt"
    assert claims["iss"] == op.issuer
    assert claims["aud"] in (CLIENT.id, [CLIENT.id])
    assert claims["sub"] == flow.claims["sub"] and claims["sid"] == flow.claims["sid"]
    assert "http://schemas.openid.net/event/backchannel-logout" in claims["events"]
    assert isinstance(claims["jti"], str) and claims["jti"]
    assert type(claims["iat"]) is int and "nonce" not in claims
