"""Attacks through the browser part of a login, against a live dex-py: connector mix-up, CSRF on
the login, approval and logout forms, finishing a login from another browser, and
clickjacking. Each test names the protection it relies on.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
from urllib.parse import urljoin, urlsplit

import pytest
import requests

from tests.conformance.conftest import OP, POST_LOGOUT_URI
from tests.conformance.rp import Browser, RelyingParty
from tests.live import ADMIN_EMAIL, ADMIN_PASSWORD
from tests.login_flow import parse_page
from tests.security.conftest import CLIENT, PUBLIC, connector_of

pytestmark = pytest.mark.live


def start_login(op: OP, browser: Browser, connector: str) -> tuple[str, requests.Response]:
    """Send an authorization request and pick ``connector``; return the auth request id and
    the response to the connector choice (not followed)."""
    rp = op.rp(CLIENT)
    resp = browser.open(rp.request().url)
    assert resp.status_code == 200, "connector chooser expected"
    link = next(
        h for h in parse_page(resp.text).links if urlsplit(h).path.endswith(f"/auth/{connector}")
    )
    req_id = dict(p.split("=", 1) for p in urlsplit(link).query.split("&"))["req"]
    return req_id, browser.open(urljoin(resp.url, link))


def password_form(browser: Browser, resp: requests.Response) -> tuple[str, dict[str, str]]:
    """Follow to the password form; return its action and hidden fields."""
    while resp.is_redirect:
        resp = browser.open(urljoin(resp.url, resp.headers["Location"]))
    form = next(f for f in parse_page(resp.text).forms if f["method"].lower() == "post")
    hidden = {i["name"]: i.get("value", "") for i in form["inputs"] if i.get("type") == "hidden"}
    return urljoin(resp.url, form["action"]), hidden


def assert_refused(resp: requests.Response) -> None:
    assert not resp.is_redirect, f"went on to {resp.headers.get('Location')}"
    assert resp.status_code in (400, 403), resp.status_code


# --- connector mix-up ---------------------------------------------------------------------------


def test_connector_mixup_callback_of_other_connector(op: OP) -> None:
    """Protection: the auth request remembers its connector; a callback for connector B
    cannot finish a login started with connector A (mix-up, RFC 9700 §4.4)."""
    browser = op.browser()
    req_id, resp = start_login(op, browser, "mock")
    assert resp.is_redirect  # to mock's "upstream", which answers at /callback
    assert_refused(browser.open(f"{op.issuer}/callback/mock2?state={req_id}"))
    assert_refused(browser.open(f"{op.issuer}/auth/local/login?state={req_id}"))
    assert_refused(
        browser.open(
            f"{op.issuer}/auth/local/login?state={req_id}",
            {"login": ADMIN_EMAIL, "password": ADMIN_PASSWORD},
        )
    )


def test_connector_mixup_password_login_finished_by_callback(op: OP) -> None:
    """Protection: a login started with the password connector cannot be completed by any
    callback (mock's callback would log in as another user)."""
    browser = op.browser()
    req_id, resp = start_login(op, browser, "local")
    assert_refused(browser.open(f"{op.issuer}/callback?state={req_id}"))
    assert_refused(browser.open(f"{op.issuer}/callback/mock?state={req_id}"))
    # the legitimate login still works, and the user is the password DB's
    action, hidden = password_form(browser, resp)
    done = browser.open(action, {**hidden, "login": ADMIN_EMAIL, "password": ADMIN_PASSWORD})
    assert done.is_redirect and "/approval" in done.headers["Location"]


def test_connector_mixup_tokens_name_the_login_connector(op: OP) -> None:
    """Protection: tokens carry the connector the user actually logged in with."""
    rp = op.rp(CLIENT)
    flow = rp.login(op.browser())
    assert connector_of(flow.claims["sub"]) == "local"


# --- CSRF and browser binding -------------------------------------------------------------------


def test_csrf_login_form(op: OP) -> None:
    """Protection: the password form needs its CSRF token (an HMAC of the request id under the
    browser's cookie secret); missing or foreign tokens are refused."""
    browser = op.browser()
    _, resp = start_login(op, browser, "local")
    action, hidden = password_form(browser, resp)
    creds = {"login": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
    assert_refused(browser.open(action, creds))
    attacker = op.browser()
    _, their = start_login(op, attacker, "local")
    _, their_hidden = password_form(attacker, their)
    assert their_hidden["csrf_token"] != hidden["csrf_token"]
    assert_refused(browser.open(action, {**creds, "csrf_token": their_hidden["csrf_token"]}))
    assert browser.open(action, {**hidden, **creds}).is_redirect, "control: valid token works"


def test_login_cannot_be_finished_from_another_browser(op: OP) -> None:
    """Protection: every step of a login must come from the browser that started it (cookie
    binding, the class of GHSA-vh7g-p26c-j2cw): a victim lured to the attacker's login URL
    cannot be made to log in to the attacker's request, nor the other way round."""
    attacker = op.browser()
    _, resp = start_login(op, attacker, "local")
    action, hidden = password_form(attacker, resp)
    victim = op.browser()
    assert_refused(victim.open(action))
    assert_refused(victim.open(action, {**hidden, "login": ADMIN_EMAIL, "password": "password"}))


def test_planted_browser_cookie_does_not_hand_the_victims_login_to_the_attacker(op: OP) -> None:
    """Protection: when the user authenticates, the auth request is re-bound to a fresh
    browser secret sent only to the browser that logged in (the class of
    GHSA-vh7g-p26c-j2cw). The attack: start a public client's flow (attacker's PKCE verifier),
    plant the attacker's ``dexpy_browser`` cookie in the victim's browser (a sibling subdomain
    can), lure the victim to the login; once the victim has logged in, approve the request from
    the attacker's browser and redeem the victim's code."""
    rp = op.rp(PUBLIC)
    attacker = op.browser()
    request = rp.request(pkce=True)
    chooser = attacker.open(request.url)
    link = next(
        urljoin(chooser.url, h)
        for h in parse_page(chooser.text).links
        if urlsplit(h).path.endswith("/auth/local")
    )
    req_id = dict(p.split("=", 1) for p in urlsplit(link).query.split("&"))["req"]
    victim = op.browser()
    for cookie in attacker.session.cookies:
        if cookie.name == "dexpy_browser":
            victim.session.cookies.set_cookie(copy.copy(cookie))  # planted
    action, hidden = password_form(victim, victim.open(link))
    done = victim.open(action, {**hidden, "login": ADMIN_EMAIL, "password": ADMIN_PASSWORD})
    assert done.is_redirect and "/approval" in done.headers["Location"]
    approval_url = urljoin(done.url, done.headers["Location"])

    page = attacker.open(approval_url)
    assert_refused(page)
    csrf = _csrf_for(attacker, req_id)
    assert_refused(
        attacker.open(
            f"{op.issuer}/approval", {"req": req_id, "csrf_token": csrf, "approval": "approve"}
        )
    )
    # control: the victim, who logged in, can still approve (the code goes to its browser)
    form = next(f for f in parse_page(victim.open(approval_url).text).forms)
    fields = {i["name"]: i.get("value", "") for i in form["inputs"] if i.get("type") == "hidden"}
    approved = victim.open(urljoin(approval_url, form["action"]), {**fields, "approval": "approve"})
    assert approved.is_redirect and "code=" in approved.headers["Location"]


def _csrf_for(browser: Browser, req_id: str) -> str:
    """The approval CSRF token the attacker can compute from the secret it planted."""
    secret = next(c.value for c in browser.session.cookies if c.name == "dexpy_browser")
    assert secret is not None
    mac = hmac.new(secret.encode(), b"csrf:" + req_id.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def _approval_page(op: OP, browser: Browser) -> tuple[str, dict[str, str]]:
    _, resp = start_login(op, browser, "local")
    action, hidden = password_form(browser, resp)
    resp = browser.open(action, {**hidden, "login": ADMIN_EMAIL, "password": ADMIN_PASSWORD})
    while resp.is_redirect:
        resp = browser.open(urljoin(resp.url, resp.headers["Location"]))
    form = next(f for f in parse_page(resp.text).forms if f["method"].lower() == "post")
    fields = {i["name"]: i.get("value", "") for i in form["inputs"] if i.get("type") == "hidden"}
    return urljoin(resp.url, form["action"]), fields


def test_csrf_approval_form(op: OP) -> None:
    """Protection: the approval form needs the CSRF token bound to this browser and request;
    another browser cannot approve it either."""
    browser = op.browser()
    action, fields = _approval_page(op, browser)
    assert_refused(browser.open(action, {"req": fields["req"], "approval": "approve"}))
    other = op.browser()
    _, other_fields = _approval_page(op, other)
    forged = {**fields, "csrf_token": other_fields["csrf_token"], "approval": "approve"}
    assert_refused(browser.open(action, forged))
    assert_refused(other.open(action, {**fields, "approval": "approve"}))
    assert browser.open(action, {**fields, "approval": "approve"}).is_redirect, "control"


def test_csrf_logout_form(op: OP) -> None:
    """Protection: the logout confirmation POST needs a CSRF token bound to the browser's
    cookie; a cross-site POST (no or a foreign token) does not log the user out."""
    rp: RelyingParty = op.rp(CLIENT)
    browser = op.browser()
    rp.login(browser)
    end = op.meta["end_session_endpoint"]
    assert_refused(browser.open(end, {"logout": "yes"}))
    assert_refused(browser.open(end, {"logout": "yes", "csrf_token": ""}))
    attacker = op.browser()
    rp.login(attacker)  # the attacker's own session, to get a confirmation form and token
    page = attacker.open(end)
    form = next(f for f in parse_page(page.text).forms if f["method"].lower() == "post")
    token = next(i["value"] for i in form["inputs"] if i.get("name") == "csrf_token")
    assert_refused(browser.open(end, {"logout": "yes", "csrf_token": token}))
    forged = {"logout": "yes", "csrf_token": token, "post_logout_redirect_uri": POST_LOGOUT_URI}
    assert_refused(browser.open(end, forged))
    still = rp.authorize(browser, prompt="none", login=False)
    assert "code" in still.response.params, "the CSRF attempts must not have logged out"


def test_session_cookies_resist_csrf_and_theft(op: OP) -> None:
    """Protection: the browser-binding and SSO cookies are HttpOnly and SameSite (Lax), scoped
    to the issuer's path, so other sites' requests and scripts cannot use them."""
    browser = op.browser()
    op.rp(CLIENT).login(browser)
    cookies = [
        c
        for r in browser.pages
        for c in r.raw.headers.getlist("Set-Cookie")
        if c.startswith(("dexpy_browser=", "dexpy_session="))
    ]
    assert {c.split("=", 1)[0] for c in cookies} == {"dexpy_browser", "dexpy_session"}
    for cookie in cookies:
        attrs = {a.strip().split("=", 1)[0].lower(): a for a in cookie.split(";")[1:]}
        assert "httponly" in attrs, cookie
        assert attrs.get("samesite", "").lower().endswith(("lax", "strict")), cookie
        assert attrs.get("path", "").lower().endswith(urlsplit(op.issuer).path), cookie


# --- clickjacking -------------------------------------------------------------------------------


def _framing_denied(resp: requests.Response) -> bool:
    xfo = resp.headers.get("X-Frame-Options", "").upper()
    csp = resp.headers.get("Content-Security-Policy", "")
    return xfo in ("DENY", "SAMEORIGIN") or "frame-ancestors 'none'" in csp


def test_clickjacking_headers_on_every_html_page(op: OP) -> None:
    """Protection: every HTML page (chooser, password form, approval, form_post, errors,
    logout confirmation, logged-out) forbids framing (X-Frame-Options and CSP
    frame-ancestors), so no page can be overlaid to trick a click."""
    browser = op.browser()
    op.rp(CLIENT).login(browser)  # chooser, password form, approval
    op.rp(CLIENT, response_mode="form_post").authorize(browser, prompt="consent")
    browser.open(op.issuer + "/auth?client_id=nobody")  # error page
    browser.open(op.issuer + "/auth/local/login?state=unknown")  # expired-login page
    page = browser.open(op.meta["end_session_endpoint"])  # confirmation
    form = next(f for f in parse_page(page.text).forms if f["method"].lower() == "post")
    fields = {i["name"]: i.get("value", "") for i in form["inputs"] if i.get("type") == "hidden"}
    browser.open(form["action"], {**fields, "logout": "yes"})  # logged-out page
    html = [r for r in browser.pages if "text/html" in r.headers.get("Content-Type", "")]
    titles = {r.status_code for r in html}
    assert len(html) >= 8 and {200, 400} <= titles
    for resp in html:
        assert _framing_denied(resp), f"{resp.url} can be framed"
        assert resp.headers.get("X-Content-Type-Options") == "nosniff", resp.url
