"""Authorization codes for the ``code`` benchmark (the authorization-code exchange at ``/token``),
made the way a browser gets them: through real HTTP requests to the server under test.

``login`` logs in once with the local password connector (one bcrypt check): ``GET /auth``, the
password form, its POST, and the redirect back to the client with a first code; the browser
cookie and the SSO session cookie are kept. After that each ``GET /auth?...`` with those cookies
answers at once with a redirect carrying a new code, because the session is reused and approval
is skipped (``oauth2.skipApprovalScreen: true`` for the confidential static client).
``make_codes`` makes many codes that way, ``parallel`` requests at a time, each with its own
PKCE ``code_verifier`` (S256), as the ``code verifier`` lines ``bench/code.lua`` reads. Codes
are single-use and expire (``expiry.authCodes``; the bench config makes that an hour), so
``workloads.CodePool`` tops its pool up before each run.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import requests

SCOPE = "openid email"
HEADERS = {"Accept": "text/html"}


class CodeError(Exception):
    """The server did not hand out a code the way the benchmark expects."""


class _Forms(HTMLParser):
    """The forms of a page: action and input name -> value."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[tuple[str, dict[str, str]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append((a.get("action", ""), {}))
        elif tag == "input" and self.forms and a.get("name"):
            self.forms[-1][1][a["name"]] = a.get("value", "")


def pkce_pair() -> tuple[str, str]:
    """A fresh ``(code_verifier, S256 code_challenge)`` (RFC 7636 §4.1, §4.2)."""
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


class CodeMaker:
    """A logged-in browser for ``client_id``: ``login`` once, then ``code`` as often as needed
    (thread-safe: each thread has its own connection pool, all share the cookies)."""

    def __init__(self, base: str, client_id: str, redirect_uri: str) -> None:
        self.base = base
        self.client_id = client_id
        self.redirect_uri = redirect_uri
        self.cookies: dict[str, str] = {}
        self._local = threading.local()

    def _session(self) -> requests.Session:
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            session.headers.update(HEADERS)
            session.cookies.update(self.cookies)
            self._local.session = session
        return session

    def _auth_url(self, challenge: str) -> str:
        query = {
            "client_id": self.client_id,
            "redirect_uri": self.redirect_uri,
            "response_type": "code",
            "scope": SCOPE,
            "state": secrets.token_urlsafe(8),
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
        return f"{self.base}/auth?{urlencode(query)}"

    def _code_from(self, location: str) -> str:
        if not location.startswith(self.redirect_uri):
            raise CodeError(f"redirect to {location[:200]} instead of the client")
        codes = parse_qs(urlsplit(location).query).get("code")
        if not codes:
            raise CodeError(f"redirect to the client without a code: {location[:300]}")
        return codes[0]

    def login(self, username: str, password: str) -> tuple[str, str]:
        """Log in through the password form (following redirects like a browser); keep the
        cookies; return the first ``(code, verifier)``."""
        session = requests.Session()
        session.headers.update(HEADERS)
        verifier, challenge = pkce_pair()
        resp = session.get(self._auth_url(challenge), allow_redirects=False, timeout=30)
        for _ in range(10):
            if resp.is_redirect:
                location = urljoin(resp.url, resp.headers["Location"])
                if location.startswith(self.redirect_uri):
                    self.cookies = session.cookies.get_dict()
                    return self._code_from(location), verifier
                resp = session.get(location, allow_redirects=False, timeout=30)
                continue
            if resp.status_code != 200:
                raise CodeError(f"{resp.url} -> {resp.status_code}: {resp.text[:300]}")
            parser = _Forms()
            parser.feed(resp.text)
            form = next((f for f in parser.forms if "password" in f[1]), None)
            if form is None:
                raise CodeError(
                    f"no password form at {resp.url} (is approval skipped for this client?): "
                    f"{resp.text[:300]}"
                )
            action, fields = form
            data = {**fields, "login": username, "password": password}
            resp = session.post(
                urljoin(resp.url, action or resp.url), data=data, allow_redirects=False, timeout=60
            )
        raise CodeError("the login did not come back to the client in 10 steps")

    def code(self) -> tuple[str, str]:
        """One more ``(code, verifier)`` from the SSO session: one ``GET /auth``."""
        verifier, challenge = pkce_pair()
        resp = self._session().get(self._auth_url(challenge), allow_redirects=False, timeout=30)
        if not resp.is_redirect:
            raise CodeError(f"GET /auth -> {resp.status_code}: {resp.text[:300]}")
        return self._code_from(resp.headers["Location"]), verifier


def make_codes(maker: CodeMaker, count: int, parallel: int) -> tuple[list[str], float]:
    """``count`` fresh codes as ``"code verifier"`` lines, ``parallel`` requests at a time, and
    the seconds it took."""
    started = time.monotonic()
    with ThreadPoolExecutor(parallel) as pool:
        pairs = list(pool.map(lambda _: maker.code(), range(count)))
    return [f"{code} {verifier}" for code, verifier in pairs], time.monotonic() - started
