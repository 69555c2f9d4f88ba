"""A relying party and a user agent for driving a live dex-py like the conformance suite does.

``Browser`` is the user's browser: a ``requests.Session`` (cookies included) that follows the
issuer's pages — connector chooser, password form, approval page — and stops when the issuer
sends it back to the client, by redirect (``query``/``fragment``) or by an auto-submitting form
(``form_post``). It counts the login forms and approval pages it saw, which is how tests tell
"the OP asked the user again" from "the OP answered from its session".

``RelyingParty`` builds authorization requests and talks to the token endpoint with authlib's
OAuth 2.0 client (``OAuth2Session``), as a real application would.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

import requests
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc7636 import create_s256_code_challenge

from tests.conformance.verifier import Verifier
from tests.live import ADMIN_EMAIL, ADMIN_PASSWORD
from tests.login_flow import has_input, hidden_fields, parse_page

MAX_STEPS = 15


class PageShown(AssertionError):
    """The issuer answered with a page that is not part of a login (an error page, usually)."""

    def __init__(self, resp: requests.Response) -> None:
        super().__init__(f"{resp.request.method} {resp.url} -> {resp.status_code}")
        self.resp = resp


@dataclass
class AuthResponse:
    """What came back to the client's redirect URI."""

    url: str  # where the browser was sent (the redirect URI, with any response in it)
    mode: str  # query | fragment | form_post
    params: dict[str, str]  # the response parameters, from wherever the mode puts them
    logins: int  # password forms the user filled in on the way
    approvals: int  # approval pages the user answered on the way

    @property
    def error(self) -> str | None:
        return self.params.get("error")


class Browser:
    """One user agent with its own cookie jar, logged in (or not) at one issuer."""

    def __init__(
        self, issuer: str, email: str = ADMIN_EMAIL, password: str = ADMIN_PASSWORD
    ) -> None:
        self.issuer = issuer
        self.email = email
        self.password = password
        self.session = requests.Session()
        self.pages: list[requests.Response] = []  # every issuer page seen, for header checks

    def _at_issuer(self, url: str) -> bool:
        return url.startswith(self.issuer + "/") or url == self.issuer

    def open(self, url: str, data: dict[str, str] | None = None) -> requests.Response:
        """One request (GET, or POST with ``data``), redirects not followed."""
        if data is None:
            resp = self.session.get(url, allow_redirects=False, timeout=10)
        else:
            resp = self.session.post(url, data=data, allow_redirects=False, timeout=10)
        self.pages.append(resp)
        return resp

    def authorize(
        self,
        url: str,
        data: dict[str, str] | None = None,
        *,
        approval: str = "approve",
        login: bool = True,
        password: str | None = None,
    ) -> AuthResponse:
        """Send an authorization request (GET ``url``, or POST ``data`` to it) and act as the
        user until the issuer hands the browser back to the client. ``login=False`` fails if a
        password form is shown; any other non-login page raises ``PageShown``."""
        resp = self.open(url, data)
        logins = approvals = 0
        for _ in range(MAX_STEPS):
            if resp.is_redirect:
                target = urljoin(resp.url, resp.headers["Location"])
                if not self._at_issuer(target):
                    return self._callback(target, logins, approvals)
                resp = self.open(target)
                continue
            if resp.status_code != 200:
                raise PageShown(resp)
            page = parse_page(resp.text)
            password_form = next((f for f in page.forms if has_input(f, "password")), None)
            approval_form = next((f for f in page.forms if has_input(f, "req")), None)
            outbound = next(
                (
                    f
                    for f in page.forms
                    if f["method"].lower() == "post"
                    and not self._at_issuer(urljoin(resp.url, f["action"]))
                ),
                None,
            )
            if outbound is not None:  # OAuth 2.0 Form Post Response Mode
                return AuthResponse(
                    url=urljoin(resp.url, outbound["action"]),
                    mode="form_post",
                    params=hidden_fields(outbound),
                    logins=logins,
                    approvals=approvals,
                )
            if password_form is not None:
                assert login, f"the issuer asked the user to log in again at {resp.url}"
                logins += 1
                fields = {
                    **hidden_fields(password_form),
                    "login": self.email,
                    "password": self.password if password is None else password,
                }
                resp = self.open(urljoin(resp.url, password_form["action"] or resp.url), fields)
            elif approval_form is not None:
                approvals += 1
                fields = {**hidden_fields(approval_form), "approval": approval}
                resp = self.open(urljoin(resp.url, approval_form["action"] or resp.url), fields)
            else:
                local = [
                    h
                    for h in page.links
                    if urlsplit(urljoin(resp.url, h)).path.endswith("/auth/local")
                ]
                if not local:
                    raise PageShown(resp)
                resp = self.open(urljoin(resp.url, local[0]))
        raise AssertionError(f"login did not return to the client; last page {resp.url}")

    def _callback(self, target: str, logins: int, approvals: int) -> AuthResponse:
        parts = urlsplit(target)
        if parts.fragment:
            return AuthResponse(
                target, "fragment", dict(parse_qsl(parts.fragment)), logins, approvals
            )
        return AuthResponse(target, "query", dict(parse_qsl(parts.query)), logins, approvals)


@dataclass(frozen=True)
class ClientInfo:
    """A client registered in the live server's config."""

    id: str
    secret: str | None
    redirect_uri: str
    auth_method: str = "client_secret_basic"


@dataclass
class AuthRequest:
    """An authorization request as sent, and the secrets the client kept for it."""

    url: str
    params: dict[str, str]
    state: str
    nonce: str | None
    code_verifier: str | None


@dataclass
class Flow:
    """One authorization round trip: what was asked, and what came back."""

    request: AuthRequest
    response: AuthResponse
    tokens: dict[str, Any] = field(default_factory=dict)
    claims: dict[str, Any] = field(default_factory=dict)  # of the verified ID token


class RelyingParty:
    """A client application using authlib against the live issuer."""

    def __init__(
        self,
        verifier: Verifier,
        client: ClientInfo,
        *,
        response_type: str = "code",
        response_mode: str | None = None,
        client_auth: Any = None,
    ) -> None:
        self.verifier = verifier
        self.client = client
        self.response_type = response_type
        self.response_mode = response_mode
        self.client_auth = client_auth  # e.g. authlib's PrivateKeyJWT for private_key_jwt

    @property
    def meta(self) -> dict[str, Any]:
        return self.verifier.meta

    def oauth(self, **kw: Any) -> OAuth2Session:
        session = OAuth2Session(
            self.client.id,
            self.client.secret,
            redirect_uri=self.client.redirect_uri,
            token_endpoint_auth_method=self.client.auth_method,
            **kw,
        )
        if self.client_auth is not None:
            session.register_client_auth_method(self.client_auth)
        return session

    def request(
        self,
        scope: str = "openid",
        *,
        nonce: bool = True,
        pkce: bool = False,
        state: str | None = None,
        **extra: str | None,
    ) -> AuthRequest:
        """An authorization request URL built by authlib; ``None`` values in ``extra`` drop
        the parameter."""
        params: dict[str, str] = {"response_type": self.response_type, "scope": scope}
        if self.response_mode:
            params["response_mode"] = self.response_mode
        nonce_value = secrets.token_urlsafe(12) if nonce else None
        if nonce_value:
            params["nonce"] = nonce_value
        verifier = None
        if pkce:
            verifier = secrets.token_urlsafe(48)
            params["code_challenge"] = create_s256_code_challenge(verifier)
            params["code_challenge_method"] = "S256"
        drop = {k for k, v in extra.items() if v is None}
        params.update({k: v for k, v in extra.items() if v is not None})
        for name in drop:
            params.pop(name, None)
        client = self.oauth()
        redirect_uri = params.pop("redirect_uri", self.client.redirect_uri)
        url, sent_state = client.create_authorization_url(
            self.meta["authorization_endpoint"],
            state=state or secrets.token_urlsafe(16),
            redirect_uri=redirect_uri,
            **params,
        )
        parts = urlsplit(url)
        pairs = [(k, v) for k, v in parse_qsl(parts.query) if k not in drop]
        url = urlunsplit(parts._replace(query=urlencode(pairs)))
        return AuthRequest(url, dict(pairs), sent_state, nonce_value, verifier)

    def authorize(
        self, browser: Browser, scope: str = "openid", *, post: bool = False, **kw: Any
    ) -> Flow:
        """Run the browser part; check ``state`` came back unchanged (OAuth 2.0 §4.1.2)."""
        login_opts = {k: kw.pop(k) for k in ("approval", "login", "password") if k in kw}
        req = self.request(scope, **kw)
        if post:
            resp = browser.authorize(req.url.split("?", 1)[0], data=req.params, **login_opts)
        else:
            resp = browser.authorize(req.url, **login_opts)
        assert resp.params.get("state") == req.state, "state not returned unchanged"
        expected_mode = self.response_mode or (
            "query" if self.response_type == "code" else "fragment"
        )
        assert resp.mode == expected_mode, f"response mode {resp.mode}, expected {expected_mode}"
        return Flow(req, resp)

    def redeem(self, flow: Flow, **kw: Any) -> dict[str, Any]:
        """Exchange the flow's code at the token endpoint with authlib (raises on errors)."""
        code = flow.response.params["code"]
        extra: dict[str, Any] = {}
        if flow.request.code_verifier:
            extra["code_verifier"] = flow.request.code_verifier
        redirect_uri = flow.request.params.get("redirect_uri", self.client.redirect_uri)
        token = self.oauth(**kw).fetch_token(
            self.meta["token_endpoint"],
            grant_type="authorization_code",
            code=code,
            redirect_uri=redirect_uri,
            **extra,
        )
        flow.tokens = dict(token)
        return flow.tokens

    def login(self, browser: Browser, scope: str = "openid", **kw: Any) -> Flow:
        """Authorize, redeem the code, and verify the ID token: the happy path."""
        flow = self.authorize(browser, scope, **kw)
        assert flow.response.error is None, flow.response.params
        tokens = self.redeem(flow)
        assert tokens["token_type"].lower() == "bearer"
        flow.claims = self.verifier.id_token(
            tokens["id_token"],
            client_id=self.client.id,
            nonce=flow.request.nonce,
            access_token=tokens["access_token"],
            max_age=int(kw["max_age"]) if "max_age" in kw else None,
        )
        return flow

    def token_post(self, data: dict[str, str], *, auth: bool = True) -> requests.Response:
        """A raw token-endpoint POST (client_secret_basic when ``auth``), to see errors."""
        creds = (self.client.id, self.client.secret or "") if auth else None
        return requests.post(self.meta["token_endpoint"], data=data, auth=creds, timeout=10)

    def code_request(self, flow: Flow, **extra: str) -> requests.Response:
        data = {
            "grant_type": "authorization_code",
            "code": flow.response.params["code"],
            "redirect_uri": flow.request.params.get("redirect_uri", self.client.redirect_uri),
            **extra,
        }
        if flow.request.code_verifier and "code_verifier" not in extra:
            data["code_verifier"] = flow.request.code_verifier
        return self.token_post(data)

    def userinfo(self, access_token: str) -> requests.Response:
        return requests.get(
            self.meta["userinfo_endpoint"],
            headers={"Authorization": f"Bearer {access_token}"},
            timeout=10,
        )
