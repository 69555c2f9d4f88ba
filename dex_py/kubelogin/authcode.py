"""The authorization code flow for a native app (RFC 8252): a loopback redirect on an
ephemeral port (§7.3), PKCE with S256 (RFC 7636 §4), and the ``state`` checked (RFC 6749 §10.12).

The plugin listens on ``--listen-address`` (default ``127.0.0.1:0``: the OS picks the port),
prints the authorization URL on stderr (and opens a browser unless told not to), answers the
one redirect whose ``state`` matches, and redeems its code with the PKCE verifier. Redirects
with another ``state`` get an error page and are never redeemed.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import sys
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

from dex_py.kubelogin.claims import id_token_claims
from dex_py.kubelogin.errors import LoginError
from dex_py.kubelogin.oidc import Issuer

CALLBACK_PATH = "/callback"
TIMEOUT = 300.0  # seconds the user has to finish logging in


def pkce_pair() -> tuple[str, str]:
    """(verifier, S256 challenge) per RFC 7636 §4.1-4.2."""
    verifier = secrets.token_urlsafe(64)  # 86 characters of the unreserved set
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def split_listen_address(address: str) -> tuple[str, int]:
    """``host:port`` (port 0 = ephemeral); the host must be a loopback name (RFC 8252 §8.3)."""
    host, sep, port = address.rpartition(":")
    host = host.strip("[]")
    if not sep or not port.isdigit() or int(port) > 65535:
        raise LoginError(f"--listen-address must be host:port, not {address!r}")
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise LoginError("--listen-address must be a loopback address (127.0.0.1, ::1, localhost)")
    return host, int(port)


class _Callback(HTTPServer):
    expected_state = ""
    result: dict[str, str] | None = None


class _Handler(BaseHTTPRequestHandler):
    server: _Callback
    timeout = 10  # seconds a connection may stay silent: a stray local client cannot stall us

    def do_GET(self) -> None:
        parts = urllib.parse.urlsplit(self.path)
        if parts.path != CALLBACK_PATH:
            self._page(404, "Not found.")
            return
        query = {k: v[0] for k, v in urllib.parse.parse_qs(parts.query).items()}
        if not secrets.compare_digest(query.get("state", ""), self.server.expected_state):
            self._page(400, "This login answer does not belong to the running login (state).")
            return
        self.server.result = query
        if "error" in query:
            self._page(400, "The login failed. See the terminal for details.")
        else:
            self._page(200, "You are logged in. You may close this window.")

    def _page(self, status: int, text: str) -> None:
        body = f"<!doctype html><title>dex-py kube login</title><p>{text}</p>".encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        return  # stderr is the user's; stay quiet


def login(
    issuer: Issuer,
    scopes: list[str],
    *,
    listen_address: str,
    open_browser: bool,
    timeout: float = TIMEOUT,
) -> dict[str, Any]:
    """Run the flow; return the token response."""
    host, port = split_listen_address(listen_address)
    verifier, challenge = pkce_pair()
    state = secrets.token_urlsafe(32)
    nonce = secrets.token_urlsafe(16)
    try:
        server = _Callback((host, port), _Handler)
    except OSError as exc:
        raise LoginError(f"cannot listen on {listen_address}: {exc}") from None
    server.expected_state = state
    server.timeout = 1.0
    url_host = f"[{host}]" if ":" in host else host
    redirect_uri = f"http://{url_host}:{server.server_address[1]}{CALLBACK_PATH}"
    query = urllib.parse.urlencode(
        {
            "response_type": "code",
            "client_id": issuer.client_id,
            "redirect_uri": redirect_uri,
            "scope": " ".join(scopes),
            "state": state,
            "nonce": nonce,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
    )
    url = f"{issuer.endpoint('authorization_endpoint')}?{query}"
    print(f"Open this URL in a browser to log in:\n\n    {url}\n", file=sys.stderr, flush=True)
    if open_browser:
        import webbrowser

        webbrowser.open(url)
    deadline = time.monotonic() + timeout
    try:
        while server.result is None:
            if time.monotonic() > deadline:
                raise LoginError(f"no login within {timeout:.0f} s; run the command again")
            server.handle_request()
    finally:
        server.server_close()
    result = server.result
    if "error" in result:
        desc = result.get("error_description", "")
        raise LoginError(f"the issuer refused the login: {result['error']} {desc}".strip())
    if not result.get("code"):
        raise LoginError("the issuer's redirect carried no code")
    answer = issuer.token(
        {
            "grant_type": "authorization_code",
            "code": result["code"],
            "redirect_uri": redirect_uri,
            "code_verifier": verifier,
        }
    )
    try:
        claims = id_token_claims(answer["id_token"])
    except ValueError as exc:
        raise LoginError(str(exc)) from None
    if claims.get("nonce") != nonce:  # OpenID Connect Core §3.1.3.7, step 11
        raise LoginError("the ID token's nonce does not match this login")
    return answer
