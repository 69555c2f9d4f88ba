"""RP-initiated logout against a live ``dex-py serve`` (gunicorn, SQLite): a real receiver gets
the back-channel logout token, verified independently with jwcrypto against ``/keys``."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests
from werkzeug import Request, Response
from werkzeug.serving import make_server

from tests.live import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    EXAMPLE_CLIENT_ID,
    EXAMPLE_CLIENT_SECRET,
    EXAMPLE_REDIRECT_URI,
    LiveServer,
    default_config,
    verify_id_token,
)
from tests.login_flow import login_password
from tests.logout.conftest import WAIT, verify_logout_token

pytestmark = pytest.mark.live

LOGGED_OUT = "http://127.0.0.1:5555/logged-out"
EVENT = "http://schemas.openid.net/event/backchannel-logout"


class TokenSink:
    """A real HTTP endpoint that keeps the logout tokens it receives."""

    def __init__(self) -> None:
        self.tokens: list[str] = []
        self.received = threading.Event()
        self.server = make_server("127.0.0.1", 0, self.wsgi, threaded=True)
        self.uri = f"http://127.0.0.1:{self.server.server_port}/bc-logout"

    def wsgi(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        if request.method == "POST" and request.mimetype == "application/x-www-form-urlencoded":
            self.tokens.append(request.form.get("logout_token", ""))
            self.received.set()
        return Response("", status=200)(environ, start_response)


@pytest.fixture
def sink() -> Iterator[TokenSink]:
    s = TokenSink()
    thread = threading.Thread(target=s.server.serve_forever, daemon=True)
    thread.start()
    yield s
    s.server.shutdown()
    thread.join(WAIT)


def test_rp_initiated_logout_delivers_a_backchannel_token(
    make_live_server: Callable[..., LiveServer], sink: TokenSink, tmp_path: Any
) -> None:
    clients = default_config(0, tmp_path)["staticClients"]
    clients[0]["postLogoutRedirectURIs"] = [LOGGED_OUT]
    clients[0]["backchannelLogoutURI"] = sink.uri
    server = make_live_server({"staticClients": clients})
    browser = requests.Session()

    state = secrets.token_urlsafe(8)
    query = {
        "client_id": EXAMPLE_CLIENT_ID,
        "redirect_uri": EXAMPLE_REDIRECT_URI,
        "response_type": "code",
        "scope": "openid email",
        "state": state,
        "nonce": secrets.token_urlsafe(8),
    }
    callback = login_password(
        browser, server.url("/auth") + "?" + urlencode(query), ADMIN_EMAIL, ADMIN_PASSWORD
    )
    code = parse_qs(urlsplit(callback).query)["code"][0]
    token = requests.post(
        server.url("/token"),
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": query["redirect_uri"],
        },
        auth=(EXAMPLE_CLIENT_ID, EXAMPLE_CLIENT_SECRET),
        timeout=10,
    )
    assert token.status_code == 200, token.text
    id_token = token.json()["id_token"]
    id_claims = verify_id_token(server.issuer, id_token, audience=EXAMPLE_CLIENT_ID)

    meta = requests.get(server.url("/.well-known/openid-configuration"), timeout=10).json()
    assert meta["end_session_endpoint"] == server.url("/logout")
    resp = browser.get(
        meta["end_session_endpoint"],
        params={
            "id_token_hint": id_token,
            "post_logout_redirect_uri": LOGGED_OUT,
            "state": "bye",
        },
        allow_redirects=False,
        timeout=10,
    )
    assert resp.status_code == 302, resp.text[:500]
    assert resp.headers["Location"] == f"{LOGGED_OUT}?state=bye"

    assert sink.received.wait(WAIT), f"no logout token; server log:\n{server.log_tail()}"
    jwks = requests.get(server.url("/keys"), timeout=10).text
    header, claims = verify_logout_token(jwks, sink.tokens[0])
    assert header["typ"] == "logout+jwt"
    assert claims["iss"] == server.issuer
    assert claims["aud"] == EXAMPLE_CLIENT_ID
    assert claims["sub"] == id_claims["sub"]
    assert claims["sid"] == id_claims["sid"]
    assert claims["events"] == {EVENT: {}}
    assert "nonce" not in claims
    assert claims["exp"] > time.time()

    # The SSO session is gone: prompt=none now answers login_required.
    again = browser.get(
        server.url("/auth") + "?" + urlencode({**query, "prompt": "none"}),
        allow_redirects=False,
        timeout=10,
    )
    assert again.status_code == 302
    assert parse_qs(urlsplit(again.headers["Location"]).query)["error"] == ["login_required"]
