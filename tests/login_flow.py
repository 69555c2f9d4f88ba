"""The browser part of a login, driven with ``requests`` for every end-to-end test: follow
redirects, fill the password form, click through the connector chooser, approve, and stop at
the redirect back to the client (returned, not fetched). ``follow_login`` is the one loop;
``login_password`` is its common case (the issuer's own password connector), ``pkce_login`` the
whole code flow with PKCE around it; ``example_client`` is the authlib client of the live
server's static client ``example-app``."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import requests
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc7636 import create_s256_code_challenge

from tests.live import EXAMPLE_CLIENT_ID, EXAMPLE_CLIENT_SECRET, EXAMPLE_REDIRECT_URI, LiveServer


class _PageParser(HTMLParser):
    """Collects forms (action, method, inputs) and link targets of an HTML page."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict[str, Any]] = []
        self.links: list[str] = []
        self._form: dict[str, Any] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self._form = {
                "action": a.get("action", ""),
                "method": a.get("method", "get"),
                "inputs": [],
            }
            self.forms.append(self._form)
        elif tag in ("input", "button") and self._form is not None:
            self._form["inputs"].append(a)
        elif tag == "a" and "href" in a:
            self.links.append(a["href"])

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None


def parse_page(html: str) -> _PageParser:
    parser = _PageParser()
    parser.feed(html)
    parser.close()
    return parser


def hidden_fields(form: dict[str, Any]) -> dict[str, str]:
    """The form's hidden inputs as form data."""
    return {
        i["name"]: i.get("value", "")
        for i in form["inputs"]
        if i.get("type") == "hidden" and i.get("name")
    }


def has_input(form: dict[str, Any], name: str) -> bool:
    return any(i.get("name") == name for i in form["inputs"])


def to_example_client(location: str) -> bool:
    """True for the redirect back to ``example-app`` (the default end of a login)."""
    return location.startswith(EXAMPLE_REDIRECT_URI)


def follow_login(
    session: requests.Session,
    resp: requests.Response,
    *,
    back_to_client: Callable[[str], bool] = to_example_client,
    credentials: tuple[str, str] | None = None,
    approval: str = "approve",
    chooser: str | None = None,
    before_get: Callable[[str], str] | None = None,
    headers_for: Mapping[str, Mapping[str, str]] | None = None,
    verify: str | bool | None = None,
    visited: list[str] | None = None,
    log_tail: Callable[[], str] | None = None,
    steps: int = 15,
) -> str:
    """From ``resp`` (the issuer's answer to the authorization request), act like a browser until
    a redirect satisfies ``back_to_client``; return that URL without requesting it.

    Redirects are followed (``before_get`` may replace a location first, e.g. to log in at an
    upstream's own pages; ``headers_for[path]`` adds headers; ``verify`` is a CA file for HTTPS
    upstreams; each location, without its query, is appended to ``visited``). On a page: with
    ``credentials`` a password form is filled with (login, password); an approval form is
    submitted with ``approval``; else the first link whose path ends with ``chooser`` is taken.
    """
    for _step in range(steps):
        if resp.is_redirect:
            location = urljoin(resp.url, resp.headers["Location"])
            if visited is not None:
                visited.append(location.split("?", 1)[0])
            if back_to_client(location):
                return location
            if before_get is not None:
                location = before_get(location)
            headers = dict((headers_for or {}).get(urlsplit(location).path, {}))
            resp = session.get(
                location, headers=headers, allow_redirects=False, verify=verify, timeout=10
            )
            continue
        if resp.status_code != 200:
            tail = f"\n{log_tail()}" if log_tail is not None else ""
            raise AssertionError(
                f"{resp.request.method} {resp.url} -> {resp.status_code}: {resp.text[:800]}{tail}"
            )
        page = parse_page(resp.text)
        password_form = None
        if credentials is not None:
            password_form = next((f for f in page.forms if has_input(f, "password")), None)
        approval_form = next((f for f in page.forms if has_input(f, "req")), None)
        if password_form is not None and credentials is not None:
            login, password = credentials
            form, data = password_form, {"login": login, "password": password}
        elif approval_form is not None:
            form, data = approval_form, {"approval": approval}
        else:
            links = [h for h in page.links if chooser and _path(resp.url, h).endswith(chooser)]
            if not links:
                raise AssertionError(
                    f"no password form, approval form or {chooser or 'chooser'} link at "
                    f"{resp.url}:\n{resp.text[:800]}"
                )
            resp = session.get(
                urljoin(resp.url, links[0]), allow_redirects=False, verify=verify, timeout=10
            )
            continue
        resp = session.post(
            urljoin(resp.url, form["action"] or resp.url),
            data={**hidden_fields(form), **data},
            allow_redirects=False,
            verify=verify,
            timeout=10,
        )
    raise AssertionError(f"the login did not return to the client; last page {resp.url}")


def _path(base: str, href: str) -> str:
    return urlsplit(urljoin(base, href)).path


def login_password(
    session: requests.Session,
    authorize_url: str,
    email: str,
    password: str,
    *,
    approval: str = "approve",
) -> str:
    """Log in through the issuer's password connector and approve (or send ``approval``, e.g.
    ``"rejected"``); return the redirect URL to the client (with ``code`` and ``state``, or an
    error) without following it."""
    issuer_root = authorize_url.split("?", 1)[0].rsplit("/auth", 1)[0]
    return follow_login(
        session,
        session.get(authorize_url, allow_redirects=False, timeout=10),
        back_to_client=lambda location: not location.startswith(issuer_root + "/"),
        credentials=(email, password),
        approval=approval,
        chooser="/auth/local",
        steps=12,
    )


def discovery(issuer: str) -> dict[str, Any]:
    """The issuer's discovery document."""
    resp = requests.get(issuer + "/.well-known/openid-configuration", timeout=10)
    assert resp.status_code == 200
    meta: dict[str, Any] = resp.json()
    return meta


def pkce_login(
    server: LiveServer,
    client: OAuth2Session,
    scope: str,
    email: str,
    password: str,
    **extra: str,
) -> tuple[dict[str, Any], str]:
    """The code flow with PKCE: authorize, ``login_password`` as ``email``, check the state,
    redeem the code with ``client``; return (token response, nonce)."""
    meta = discovery(server.issuer)
    nonce = secrets.token_urlsafe(12)
    verifier = secrets.token_urlsafe(48)
    url, state = client.create_authorization_url(
        meta["authorization_endpoint"],
        nonce=nonce,
        scope=scope,
        code_challenge=create_s256_code_challenge(verifier),
        code_challenge_method="S256",
        **extra,
    )
    callback = login_password(requests.Session(), url, email, password)
    query = parse_qs(urlsplit(callback).query)
    assert query["state"] == [state], callback
    assert query.get("code"), callback
    token = client.fetch_token(
        meta["token_endpoint"], authorization_response=callback, code_verifier=verifier
    )
    return token, nonce


def example_client(
    scope: str | None = None,
    *,
    client_id: str = EXAMPLE_CLIENT_ID,
    client_secret: str = EXAMPLE_CLIENT_SECRET,
) -> OAuth2Session:
    """authlib's client for a confidential static client (``example-app`` unless named) that
    redirects to ``EXAMPLE_REDIRECT_URI``."""
    return OAuth2Session(
        client_id,
        client_secret,
        redirect_uri=EXAMPLE_REDIRECT_URI,
        scope=scope,
        token_endpoint_auth_method="client_secret_basic",
    )
