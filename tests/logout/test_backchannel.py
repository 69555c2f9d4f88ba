"""Back-Channel Logout 1.0: logout tokens delivered to a real HTTP receiver, retries with
backoff, claiming against double delivery, and the audit record."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import pytest

from dex_py import backchannel
from dex_py.ops.background import run_once
from dex_py.storage.base import LogoutEvent
from tests.logout.conftest import (
    WAIT,
    Receiver,
    clients_config,
    log_in,
    sid_of,
    verify_logout_token,
)
from tests.oauth.conftest import CLIENT_ID, ISSUER, App, approve_page, code_from
from tests.services import free_port

EVENT = "http://schemas.openid.net/event/backchannel-logout"


def logout_now(app: App, browser: Any, id_token: str) -> None:
    resp = browser.get("/dex/logout?" + urlencode({"id_token_hint": id_token}))
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert backchannel.drain(WAIT), "first delivery attempt did not finish"


def only_event(app: App) -> LogoutEvent:
    events = app.storage.list_logout_events()
    assert len(events) == 1, events
    return events[0]


@pytest.fixture
def bc_app(make_app: Callable[..., App], receiver: Receiver) -> App:
    return make_app(staticClients=clients_config(backchannel_uri=receiver.uri))


def test_receiver_gets_a_valid_logout_token(bc_app: App, receiver: Receiver) -> None:
    browser, tokens = log_in(bc_app)
    sid = sid_of(bc_app, tokens["id_token"])
    logout_now(bc_app, browser, tokens["id_token"])
    assert len(receiver.requests) == 1
    req = receiver.requests[0]
    assert (req["method"], req["path"]) == ("POST", "/backchannel-logout")
    assert req["content_type"] == "application/x-www-form-urlencoded"
    jwks = bc_app.client().get("/dex/keys").get_data(as_text=True)
    header, claims = verify_logout_token(jwks, receiver.tokens[0])
    assert header["typ"] == "logout+jwt"
    assert claims["iss"] == ISSUER
    assert claims["aud"] == CLIENT_ID
    assert claims["sid"] == sid
    id_claims = verify_logout_token(jwks, tokens["id_token"])[1]
    assert claims["sub"] == id_claims["sub"]
    assert claims["events"] == {EVENT: {}}
    assert "nonce" not in claims
    assert claims["jti"]
    now = int(bc_app.clock.now().timestamp())
    assert claims["iat"] == now and claims["exp"] == now + 120
    event = only_event(bc_app)
    assert (event.status, event.attempts, event.next_attempt) == ("delivered", 1, None)
    assert (event.client_id, event.uri, event.sid, event.sub) == (
        CLIENT_ID,
        receiver.uri,
        sid,
        claims["sub"],
    )


def test_token_is_neither_stored_nor_logged(
    bc_app: App, receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    browser, tokens = log_in(bc_app)
    logout_now(bc_app, browser, tokens["id_token"])
    token = receiver.tokens[0]
    signature = token.rsplit(".", 1)[1]
    assert signature not in repr(bc_app.storage.list_logout_events())
    assert any("back-channel logout delivered" in r.getMessage() for r in caplog.records)
    for record in caplog.records:
        assert signature not in record.getMessage()
        assert signature not in repr(vars(record))


def test_failing_receiver_is_retried_with_backoff_until_it_recovers(
    bc_app: App, receiver: Receiver
) -> None:
    receiver.status = 500
    browser, tokens = log_in(bc_app)
    logout_now(bc_app, browser, tokens["id_token"])
    event = only_event(bc_app)
    logged_out_at = bc_app.clock.now()
    assert event.status == "pending"
    assert event.attempts == 1
    assert event.next_attempt == logged_out_at + timedelta(seconds=30)
    assert event.last_error == "HTTP 500"

    assert backchannel.deliver_due(bc_app.svc) == 0  # not due yet
    assert len(receiver.requests) == 1

    receiver.status = 200
    bc_app.clock.advance(seconds=30)
    assert backchannel.deliver_due(bc_app.svc) == 1
    event = only_event(bc_app)
    assert (event.status, event.attempts, event.next_attempt, event.last_error) == (
        "delivered",
        2,
        None,
        "",
    )
    jwks = bc_app.client().get("/dex/keys").get_data(as_text=True)
    first, second = (verify_logout_token(jwks, t)[1] for t in receiver.tokens)
    assert first["jti"] != second["jti"]  # a retry signs a new token
    assert (first["sub"], first["sid"]) == (second["sub"], second["sid"])
    assert backchannel.deliver_due(bc_app.svc) == 0
    assert len(receiver.requests) == 2


def test_gives_up_after_max_attempts(bc_app: App, receiver: Receiver) -> None:
    receiver.status = 503
    browser, tokens = log_in(bc_app)
    logout_now(bc_app, browser, tokens["id_token"])
    waits = []
    for _ in range(backchannel.MAX_ATTEMPTS - 1):
        event = only_event(bc_app)
        assert event.status == "pending" and event.next_attempt is not None
        waits.append(event.next_attempt - bc_app.clock.now())
        bc_app.clock.set(event.next_attempt)
        assert backchannel.deliver_due(bc_app.svc) == 0
    assert waits == list(backchannel.BACKOFF)
    event = only_event(bc_app)
    assert (event.status, event.attempts, event.next_attempt) == (
        "failed",
        backchannel.MAX_ATTEMPTS,
        None,
    )
    assert event.last_error == "HTTP 503"
    assert len(receiver.requests) == backchannel.MAX_ATTEMPTS
    bc_app.clock.advance(timedelta(days=1))
    assert backchannel.deliver_due(bc_app.svc) == 0
    assert len(receiver.requests) == backchannel.MAX_ATTEMPTS


def test_network_error_is_recorded_and_retried(make_app: Callable[..., App]) -> None:
    dead = f"http://127.0.0.1:{free_port()}/logout"  # nothing listens there
    app = make_app(staticClients=clients_config(backchannel_uri=dead))
    browser, tokens = log_in(app)
    logout_now(app, browser, tokens["id_token"])
    event = only_event(app)
    assert event.status == "pending" and event.attempts == 1
    assert "ConnectionError" in event.last_error


def test_background_pass_retries_due_deliveries(bc_app: App, receiver: Receiver) -> None:
    receiver.status = 500
    browser, tokens = log_in(bc_app)
    logout_now(bc_app, browser, tokens["id_token"])
    receiver.status = 204
    bc_app.clock.advance(seconds=31)
    run_once(bc_app.svc)
    assert only_event(bc_app).status == "delivered"
    assert len(receiver.requests) == 2


def test_a_claimed_delivery_is_not_sent_twice(bc_app: App, receiver: Receiver) -> None:
    """While one worker is sending, another worker's pass finds nothing due."""
    receiver.status = 500
    browser, tokens = log_in(bc_app)
    logout_now(bc_app, browser, tokens["id_token"])
    bc_app.clock.advance(seconds=30)
    during: list[int] = []
    receiver.on_request = lambda: during.append(backchannel.deliver_due(bc_app.svc))
    receiver.status = 200
    assert backchannel.deliver_due(bc_app.svc) == 1
    assert during == [0]
    assert len(receiver.requests) == 2


def test_only_clients_with_a_backchannel_uri_are_notified(
    make_app: Callable[..., App], receiver: Receiver
) -> None:
    app = make_app(staticClients=clients_config(peer_backchannel_uri=receiver.uri))
    browser, tokens = log_in(app)  # example-app: no back-channel URI
    sid = sid_of(app, tokens["id_token"])
    # peer-app gets a code in the same session (approval once, no new login).
    resp = browser.get(
        "/dex/auth?"
        + urlencode(
            {
                "client_id": "peer-app",
                "redirect_uri": "http://127.0.0.1:5999/cb",
                "response_type": "code",
                "scope": "openid",
                "state": "peer",
            }
        )
    )
    if resp.status_code in (302, 303) and "/approval" in resp.headers["Location"]:
        resp = approve_page(browser, resp.headers["Location"])
    assert "code" in code_from(resp)
    assert set(app.storage.get_session(sid).clients) == {CLIENT_ID, "peer-app"}
    logout_now(app, browser, tokens["id_token"])
    event = only_event(app)
    assert event.client_id == "peer-app" and event.status == "delivered"
    jwks = app.client().get("/dex/keys").get_data(as_text=True)
    assert [verify_logout_token(jwks, t)[1]["aud"] for t in receiver.tokens] == ["peer-app"]


def test_client_without_backchannel_uri_gets_nothing(logout_app: App) -> None:
    browser, tokens = log_in(logout_app)
    logout_now(logout_app, browser, tokens["id_token"])
    assert logout_app.storage.list_logout_events() == []
    assert logout_app.storage.list_sessions() == []
