"""Fixtures for logout tests: an app whose clients register post-logout redirect URIs and a
back-channel logout URI, a real HTTP receiver for logout tokens, and login helpers (reused from
``tests.oauth.conftest``)."""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from flask.testing import FlaskClient
from jwcrypto.jwk import JWKSet
from jwcrypto.jws import JWS
from werkzeug import Request, Response
from werkzeug.serving import BaseWSGIServer, make_server

from dex_py import backchannel
from tests.oauth.conftest import (
    BASE_CONFIG,
    App,
    auth_params,
    code_from,
    login_password,
    make_app,
    redeem,
)

__all__ = ["make_app"]

LOGOUT_REDIRECT = "http://127.0.0.1:5555/logged-out"
WAIT = 30.0  # upper bound for a background delivery to finish; never the thing under test


@dataclass
class Receiver:
    """A client's back-channel logout endpoint: a real HTTP server on 127.0.0.1 that records
    every request and answers with ``status`` (changeable while running)."""

    status: int = 200
    requests: list[dict[str, Any]] = field(default_factory=list)
    on_request: Callable[[], None] | None = None
    server: BaseWSGIServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def uri(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_port}/backchannel-logout"

    @property
    def tokens(self) -> list[str]:
        with self._lock:
            return [r["form"].get("logout_token", "") for r in self.requests]

    def wsgi(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        if self.on_request is not None:
            self.on_request()
        with self._lock:
            self.requests.append(
                {
                    "method": request.method,
                    "path": request.path,
                    "content_type": request.mimetype,
                    "form": request.form.to_dict(),
                }
            )
            status = self.status
        return Response("", status=status)(environ, start_response)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    recv = Receiver()
    recv.server = make_server("127.0.0.1", 0, recv.wsgi, threaded=True)
    thread = threading.Thread(target=recv.server.serve_forever, daemon=True)
    thread.start()
    yield recv
    backchannel.drain(WAIT)
    recv.server.shutdown()
    thread.join(WAIT)


def clients_config(
    backchannel_uri: str = "", peer_backchannel_uri: str = ""
) -> list[dict[str, Any]]:
    """The shared test clients, example-app with a post-logout redirect URI and, if given,
    back-channel URIs on example-app / peer-app."""
    clients = copy.deepcopy(BASE_CONFIG["staticClients"])
    clients[0]["postLogoutRedirectURIs"] = [LOGOUT_REDIRECT]
    if backchannel_uri:
        clients[0]["backchannelLogoutURI"] = backchannel_uri
    if peer_backchannel_uri:
        clients[2]["backchannelLogoutURI"] = peer_backchannel_uri
    return clients


@pytest.fixture
def logout_app(make_app: Callable[..., App]) -> App:
    """An app whose example-app registers ``LOGOUT_REDIRECT`` (no back-channel URI)."""
    return make_app(staticClients=clients_config())


def log_in(app: App, browser: FlaskClient | None = None) -> tuple[FlaskClient, dict[str, Any]]:
    """Log in as admin for example-app in a (new) browser; return it and the token response."""
    browser = browser or app.client()
    code = code_from(login_password(browser, auth_params()))["code"]
    resp = redeem(browser, code)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return browser, resp.json


def sid_of(app: App, id_token: str) -> str:
    from dex_py.jose import tokens

    claims = tokens.verify(
        app.svc.keys, id_token, issuer=app.svc.issuer, audience=None, clock=app.clock
    )
    return str(claims["sid"])


def verify_logout_token(jwks_json: str, token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Independent check with jwcrypto against a JWKS document: ``(header, claims)``."""
    keys = JWKSet.from_json(jwks_json)
    jws = JWS()
    jws.deserialize(token)
    header = jws.jose_header
    assert isinstance(header, dict)
    key = keys.get_key(header["kid"])
    assert key is not None, "kid not in the JWKS"
    jws.verify(key, alg=key.get("alg"))
    return header, json.loads(jws.payload)
