"""Sessions and refresh tokens for the operator, on memory, SQLite and PostgreSQL: listing per
user and per client, revoking one token or session, and revoking everything of a user after a
real login, which stops their refresh, refuses their access token at introspection and sends
a back-channel logout token to the client."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from dex_py import backchannel, revocation
from dex_py.clock import FrozenClock
from dex_py.config.model import LOCAL_CONNECTOR_ID
from dex_py.jose.tokens import encode_sub
from dex_py.management import sessions
from dex_py.management.actor import Actor
from dex_py.management.errors import Invalid, NotFound
from dex_py.services import Services
from dex_py.storage.base import session_marker
from tests.logout.conftest import WAIT, Receiver, clients_config, verify_logout_token
from tests.logout.conftest import receiver as receiver  # the fixture
from tests.management.test_clients import admin_records
from tests.oauth.conftest import CLIENT_ID, auth_params, basic, code_from, login_password, redeem
from tests.storage import factories

ADMIN_USER_ID = "08a8684b-db88-4b73-90a9-3cd1661f5466"  # staticPasswords' admin@example.com


@pytest.fixture
def config_overrides(receiver: Receiver) -> dict[str, Any]:
    return {"staticClients": clients_config(backchannel_uri=receiver.uri)}


def test_lists_per_user_and_per_client_without_expired_ones(
    svc: Services, clock: FrozenClock
) -> None:
    now = clock.now()
    jane = factories.claims(user_id="jane")
    live = factories.session(claims=jane, connector_id="local", clients=("a", "b"))
    other_connector = factories.session(claims=jane, connector_id="mock", clients=("a",))
    expired = factories.session(claims=jane, connector_id="local", expiry=now)
    rt_a = factories.refresh_token(claims=jane, connector_id="local", client_id="a")
    rt_b = factories.refresh_token(claims=jane, connector_id="local", client_id="b")
    rt_old = factories.refresh_token(claims=jane, connector_id="local", expiry=now)
    rt_forever = factories.refresh_token(claims=jane, connector_id="mock", expiry=None)
    for s in (live, other_connector, expired):
        svc.storage.create_session(s)
    for t in (rt_a, rt_b, rt_old, rt_forever):
        svc.storage.create_refresh_token(t)

    def ids(items: list[Any]) -> set[str]:
        return {i.id for i in items}

    assert ids(sessions.list_sessions(svc, user_id="jane")) == {live.id, other_connector.id}
    assert ids(sessions.list_sessions(svc, user_id="jane", connector_id="local")) == {live.id}
    assert ids(sessions.list_sessions(svc, client_id="b")) == {live.id}
    assert ids(sessions.list_refresh_tokens(svc, user_id="jane")) == {
        rt_a.id,
        rt_b.id,
        rt_forever.id,
    }
    assert ids(sessions.list_refresh_tokens(svc, client_id="a")) == {rt_a.id}
    assert ids(sessions.list_refresh_tokens(svc, user_id="jane", connector_id="mock")) == {
        rt_forever.id
    }
    [view] = sessions.list_refresh_tokens(svc, client_id="a")
    assert view.sub == encode_sub("jane", "local") and view.scopes == rt_a.scopes
    assert rt_a.token_hash not in repr(view)
    assert live.secret_hash not in repr(sessions.list_sessions(svc, client_id="b"))


def test_revoke_one_refresh_token(svc: Services, actor: Actor) -> None:
    token = factories.refresh_token(client_id=CLIENT_ID)
    kept = factories.refresh_token(client_id=CLIENT_ID)
    svc.storage.create_refresh_token(token)
    svc.storage.create_refresh_token(kept)
    sessions.revoke_refresh_token(svc, actor, token.id)
    assert [t.id for t in svc.storage.list_refresh_tokens()] == [kept.id]
    assert svc.storage.is_access_token_revoked("any", revocation.grant_id_of(token.id))
    with pytest.raises(NotFound):
        sessions.revoke_refresh_token(svc, actor, token.id)
    records = admin_records(svc)
    assert [(r["details"]["action"], r["outcome"]) for r in records] == [
        ("session.revoke_refresh_token", "success"),
        ("session.revoke_refresh_token", "failure"),
    ]
    assert records[0]["object"] == f"refresh_token:{token.id}"
    assert records[0]["client"] == CLIENT_ID


def test_revoke_one_session_sends_back_channel_logout(
    svc: Services, actor: Actor, receiver: Receiver
) -> None:
    session = factories.session(connector_id="local", clients=(CLIENT_ID, "public-cli"))
    svc.storage.create_session(session)
    assert sessions.revoke_session(svc, actor, session.id) == 1
    assert backchannel.drain(WAIT)
    assert svc.storage.list_sessions() == []
    assert svc.storage.any_revoked([session_marker(session.id)])
    _, claims = verify_logout_token(svc.keys.jwks_json().decode(), receiver.tokens[0])
    assert (claims["sid"], claims["aud"]) == (session.id, CLIENT_ID)
    with pytest.raises(NotFound):
        sessions.revoke_session(svc, actor, session.id)


def test_revoke_user_after_a_real_login(
    app: Flask, svc: Services, actor: Actor, receiver: Receiver
) -> None:
    browser = app.test_client()
    code = code_from(login_password(browser, auth_params()))["code"]
    tokens = redeem(browser, code).json
    refresh = browser.post(
        "/dex/token",
        data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        headers=basic(),
    )
    assert refresh.status_code == 200, refresh.get_data(as_text=True)
    listed = sessions.list_sessions(svc, user_id=ADMIN_USER_ID, connector_id=LOCAL_CONNECTOR_ID)
    assert [s.clients for s in listed] == [(CLIENT_ID,)]
    assert len(sessions.list_refresh_tokens(svc, user_id=ADMIN_USER_ID)) == 1

    result = sessions.revoke_user(svc, actor, ADMIN_USER_ID, LOCAL_CONNECTOR_ID)
    assert (result.sessions, result.refresh_tokens, result.logout_deliveries) == (1, 1, 1)
    assert backchannel.drain(WAIT)

    again = browser.post(
        "/dex/token",
        data={"grant_type": "refresh_token", "refresh_token": refresh.json["refresh_token"]},
        headers=basic(),
    )
    assert again.status_code == 400 and again.json["error"] == "invalid_grant"
    introspected = browser.post(
        "/dex/token/introspect", data={"token": refresh.json["access_token"]}, headers=basic()
    )
    assert introspected.json == {"active": False}
    _, claims = verify_logout_token(svc.keys.jwks_json().decode(), receiver.tokens[0])
    assert claims["sid"] == listed[0].id
    assert claims["sub"] == encode_sub(ADMIN_USER_ID, LOCAL_CONNECTOR_ID)
    assert sessions.list_sessions(svc, user_id=ADMIN_USER_ID) == []
    record = admin_records(svc)[-1]
    assert record["object"] == "user:" + encode_sub(ADMIN_USER_ID, LOCAL_CONNECTOR_ID)
    assert record["details"]["action"] == "session.revoke_user"
    assert (record["details"]["sessions"], record["details"]["refresh_tokens"]) == (1, 1)
    assert tokens["refresh_token"] not in str(record)


def test_subjects(svc: Services, actor: Actor) -> None:
    assert sessions.user_of_sub(encode_sub("u1", "ldap")) == ("u1", "ldap")
    with pytest.raises(Invalid):
        sessions.user_of_sub("!!not a sub")
    with pytest.raises(Invalid):
        sessions.revoke_user(svc, actor, "", "local")
