"""Refresh tokens (RFC 6749 §6, RFC 9700 §4.14): one chain per login, rotation, reuse
detection, scope narrowing, lifetimes, and the connector asked on every refresh."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from typing import Any

from dex_py.jose import tokens
from dex_py.passwords import hash_password
from dex_py.storage.base import Password
from tests.oauth.conftest import (
    CLIENT_ID,
    ISSUER,
    App,
    auth_params,
    basic,
    code_from,
    login_password,
    redeem,
)


def login(
    app: App,
    email: str = "admin@example.com",
    password: str = "password",
    scope: str = "openid email groups offline_access",
) -> dict[str, Any]:
    browser = app.client()
    code = code_from(
        login_password(browser, auth_params(scope=scope), email=email, password=password)
    )["code"]
    resp = redeem(browser, code)
    assert resp.status_code == 200, resp.json
    return resp.json


def refresh(app: App, token: str, **extra: str) -> Any:
    return app.client().post(
        "/dex/token",
        data={"grant_type": "refresh_token", "refresh_token": token, **extra},
        headers=basic(),
    )


def claims(app: App, id_token: str) -> dict[str, Any]:
    return tokens.verify(app.svc.keys, id_token, issuer=ISSUER, audience=CLIENT_ID, clock=app.clock)


def test_rotation_issues_a_new_token_and_keeps_identity(app: App) -> None:
    first = login(app)
    resp = refresh(app, first["refresh_token"])
    assert resp.status_code == 200
    assert resp.headers["Cache-Control"] == "no-store"
    body = resp.json
    assert body["refresh_token"] != first["refresh_token"]
    assert claims(app, body["id_token"])["sub"] == claims(app, first["id_token"])["sub"]
    assert refresh(app, body["refresh_token"]).status_code == 200


def test_retry_within_reuse_interval_is_allowed(app: App) -> None:
    first = login(app)
    assert refresh(app, first["refresh_token"]).status_code == 200
    app.clock.advance(seconds=1)  # reuseInterval is 3s by default
    assert refresh(app, first["refresh_token"]).status_code == 200


def test_reuse_after_interval_revokes_the_whole_chain(app: App) -> None:
    first = login(app)
    second = refresh(app, first["refresh_token"]).json
    app.clock.advance(seconds=10)
    replay = refresh(app, first["refresh_token"])
    assert replay.status_code == 400 and replay.json["error"] == "invalid_grant"
    assert refresh(app, second["refresh_token"]).json["error"] == "invalid_grant"


def test_retry_within_reuse_interval_gets_the_same_successor(app: App) -> None:
    """Issue 7 item 7: every request presenting the previous secret within reuseInterval gets
    the one current secret, so none of the answers is dead (or revokes the chain) later."""
    first = login(app)
    answers = [refresh(app, first["refresh_token"]) for _ in range(4)]
    assert [r.status_code for r in answers] == [200] * 4
    successors = {r.json["refresh_token"] for r in answers}
    assert len(successors) == 1 and first["refresh_token"] not in successors
    app.clock.advance(seconds=10)
    (successor,) = successors
    assert refresh(app, successor).status_code == 200


def test_zero_reuse_interval_never_accepts_the_previous_secret(
    make_app: Callable[..., App],
) -> None:
    """Issue 7 item 7: at reuseInterval 0s a second use of a secret, even at the same instant
    (frozen clock), is reuse."""
    app = make_app(expiry={"refreshTokens": {"reuseInterval": "0s"}})
    first = login(app)
    second = refresh(app, first["refresh_token"])
    assert second.status_code == 200
    replay = refresh(app, first["refresh_token"])
    assert replay.status_code == 400 and replay.json["error"] == "invalid_grant"
    assert refresh(app, second.json["refresh_token"]).json["error"] == "invalid_grant"


def test_forged_secret_is_invalid_but_keeps_the_chain(app: App) -> None:
    """Issue 7 item 8: a secret that never belonged to the chain is not reuse (RFC 9700
    §4.14.2), so knowing a token id does not let anyone end the login."""
    first = login(app)
    token_id = first["refresh_token"].split(".")[0]
    for forged in ("forged", "x" * 43):
        resp = refresh(app, f"{token_id}.{forged}")
        assert resp.status_code == 400 and resp.json["error"] == "invalid_grant"
    app.clock.advance(seconds=10)
    assert refresh(app, first["refresh_token"]).status_code == 200


def test_an_older_rotated_secret_revokes_the_chain(app: App) -> None:
    token = first = login(app)["refresh_token"]
    for _ in range(3):
        app.clock.advance(seconds=10)
        token = refresh(app, token).json["refresh_token"]
    app.clock.advance(seconds=10)
    assert refresh(app, first).json["error"] == "invalid_grant"
    assert refresh(app, token).json["error"] == "invalid_grant"  # the chain is gone
    assert app.storage.list_refresh_tokens() == []


def test_refresh_secrets_are_not_stored_in_the_clear(app: App) -> None:
    first = login(app)["refresh_token"]
    second = refresh(app, first).json["refresh_token"]
    (stored,) = app.storage.list_refresh_tokens()
    for value in (first, second):
        assert value.split(".")[1] not in repr(stored)


def test_each_login_has_its_own_chain(app: App) -> None:
    a, b = login(app), login(app)
    assert a["refresh_token"].split(".")[0] != b["refresh_token"].split(".")[0]
    assert refresh(app, a["refresh_token"]).status_code == 200
    assert refresh(app, b["refresh_token"]).status_code == 200
    assert len(app.storage.list_refresh_tokens(client_id=CLIENT_ID)) == 2


def test_scopes_can_narrow_but_not_widen(app: App) -> None:
    first = login(app, scope="openid email offline_access")
    narrow = refresh(app, first["refresh_token"], scope="openid")
    assert narrow.status_code == 200
    assert "email" not in claims(app, narrow.json["id_token"])
    assert narrow.json["scope"] == "openid"
    wide = refresh(app, narrow.json["refresh_token"], scope="openid email groups")
    assert wide.json["error"] == "invalid_scope"
    # the original grant is kept: email is back without asking for it
    again = refresh(app, narrow.json["refresh_token"])
    assert claims(app, again.json["id_token"])["email"] == "admin@example.com"


def test_refresh_token_bound_to_client(app: App) -> None:
    first = login(app)
    resp = app.client().post(
        "/dex/token",
        data={"grant_type": "refresh_token", "refresh_token": first["refresh_token"]},
        headers=basic("peer-app", "peer-secret-peer-secret"),
    )
    assert resp.json["error"] == "invalid_grant"
    assert refresh(app, first["refresh_token"]).status_code == 200


def test_valid_if_not_used_for(make_app: Callable[..., App]) -> None:
    app = make_app(expiry={"refreshTokens": {"validIfNotUsedFor": "1h"}})
    first = login(app)
    app.clock.advance(minutes=50)
    second = refresh(app, first["refresh_token"])
    assert second.status_code == 200
    app.clock.advance(minutes=61)
    assert refresh(app, second.json["refresh_token"]).json["error"] == "invalid_grant"


def test_absolute_lifetime(make_app: Callable[..., App]) -> None:
    app = make_app(expiry={"refreshTokens": {"absoluteLifetime": "2h"}})
    token = login(app)["refresh_token"]
    for _ in range(3):
        app.clock.advance(minutes=30)
        resp = refresh(app, token)
        assert resp.status_code == 200
        token = resp.json["refresh_token"]
    app.clock.advance(minutes=31)
    assert refresh(app, token).json["error"] == "invalid_grant"


def test_expired_refresh_tokens_are_garbage_collected(make_app: Callable[..., App]) -> None:
    app = make_app(expiry={"refreshTokens": {"absoluteLifetime": "1h"}})
    login(app)
    assert len(app.storage.list_refresh_tokens()) == 1
    result = app.storage.garbage_collect(app.clock.now() + timedelta(hours=2))
    assert result.refresh_tokens == 1
    assert app.storage.list_refresh_tokens() == []


def test_disable_rotation_keeps_the_token(make_app: Callable[..., App]) -> None:
    app = make_app(expiry={"refreshTokens": {"disableRotation": True}})
    first = login(app)
    resp = refresh(app, first["refresh_token"])
    assert resp.json["refresh_token"] == first["refresh_token"]
    app.clock.advance(seconds=30)
    assert refresh(app, first["refresh_token"]).status_code == 200


def _add_user(app: App, email: str, groups: tuple[str, ...]) -> None:
    app.storage.create_password(
        Password(
            email=email,
            hash=hash_password("s3cret-pass", cost=4),
            username="bob",
            user_id="bob-id",
            groups=groups,
        )
    )


def test_refresh_asks_the_connector_for_current_groups(app: App) -> None:
    _add_user(app, "bob@example.com", ("dev",))
    first = login(app, email="bob@example.com", password="s3cret-pass")
    assert claims(app, first["id_token"])["groups"] == ["dev"]
    app.storage.update_password("bob@example.com", lambda p: replace(p, groups=("dev", "ops")))
    resp = refresh(app, first["refresh_token"])
    assert claims(app, resp.json["id_token"])["groups"] == ["dev", "ops"]


def test_refresh_fails_when_the_user_is_gone(app: App) -> None:
    _add_user(app, "bob@example.com", ())
    first = login(app, email="bob@example.com", password="s3cret-pass")
    app.storage.delete_password("bob@example.com")
    resp = refresh(app, first["refresh_token"])
    assert resp.status_code == 400 and resp.json["error"] == "invalid_grant"


def _userinfo(app: App, access_token: str) -> int:
    resp = app.client().get("/dex/userinfo", headers={"Authorization": f"Bearer {access_token}"})
    return int(resp.status_code)


def test_losing_a_team_moves_the_chain_and_revokes_the_earlier_tokens(app: App) -> None:
    _add_user(app, "bob@example.com", ("dev", "ops"))
    first = login(app, email="bob@example.com", password="s3cret-pass")
    first_id = first["refresh_token"].split(".")[0]
    assert claims(app, first["id_token"])["grant_id"]  # the chain's link, in the ID token too
    app.storage.update_password("bob@example.com", lambda p: replace(p, groups=("dev",)))
    resp = refresh(app, first["refresh_token"])
    assert resp.status_code == 200, resp.json
    moved = resp.json
    assert moved["refresh_token"].split(".")[0] != first_id
    assert claims(app, moved["id_token"])["groups"] == ["dev"]
    assert claims(app, moved["id_token"])["grant_id"] != claims(app, first["id_token"])["grant_id"]
    assert _userinfo(app, first["access_token"]) == 401  # issued while bob was in ops
    assert _userinfo(app, moved["access_token"]) == 200
    assert refresh(app, first["refresh_token"]).json["error"] == "invalid_grant"
    assert refresh(app, moved["refresh_token"]).status_code == 200


def test_gaining_a_team_keeps_the_chain_and_its_tokens(app: App) -> None:
    _add_user(app, "bob@example.com", ("dev",))
    first = login(app, email="bob@example.com", password="s3cret-pass")
    app.storage.update_password("bob@example.com", lambda p: replace(p, groups=("dev", "ops")))
    resp = refresh(app, first["refresh_token"])
    assert resp.json["refresh_token"].split(".")[0] == first["refresh_token"].split(".")[0]
    assert _userinfo(app, first["access_token"]) == 200


def test_a_user_gone_upstream_revokes_the_chain_and_its_tokens(app: App) -> None:
    _add_user(app, "bob@example.com", ())
    first = login(app, email="bob@example.com", password="s3cret-pass")
    app.storage.delete_password("bob@example.com")
    assert refresh(app, first["refresh_token"]).json["error"] == "invalid_grant"
    assert _userinfo(app, first["access_token"]) == 401
    assert not app.storage.list_refresh_tokens(user_id="bob-id")


def test_malformed_refresh_tokens(app: App) -> None:
    for bad in ("", "nodot", ".", "a.", ".b", "x" * 600, "unknown.secret"):
        resp = refresh(app, bad)
        assert resp.status_code == 400
        assert resp.json["error"] in ("invalid_grant", "invalid_request")


def test_upstream_outage_does_not_cost_the_login(app: App, monkeypatch: Any) -> None:
    """A refused connector refresh undoes the rotation: the same token works once the upstream
    is back, even after the reuse interval (it must not count as a replay)."""
    from connectors.base import ConnectorError

    first = login(app)
    entry = app.svc.connectors.get("local")
    assert entry is not None and entry.connector is not None
    real = entry.connector.refresh

    def down(*args: Any, **kwargs: Any) -> Any:
        raise ConnectorError("directory unreachable")

    monkeypatch.setattr(entry.connector, "refresh", down)
    assert refresh(app, first["refresh_token"]).json["error"] == "invalid_grant"
    app.clock.advance(seconds=30)
    monkeypatch.setattr(entry.connector, "refresh", real)
    assert refresh(app, first["refresh_token"]).status_code == 200


def test_retry_of_a_chain_rotated_without_a_sealed_successor_still_works(app: App) -> None:
    """A chain rotated by the previous release (rolling upgrade) has no sealed successor: a
    retry within reuseInterval is answered with a fresh rotation, as that release did, and the
    answer works."""
    first = login(app)
    assert refresh(app, first["refresh_token"]).status_code == 200
    (stored,) = app.storage.list_refresh_tokens()
    app.storage.update_refresh_token(stored.id, lambda t: replace(t, successor_sealed=""))
    retry = refresh(app, first["refresh_token"])
    assert retry.status_code == 200
    app.clock.advance(seconds=10)
    assert refresh(app, retry.json["refresh_token"]).status_code == 200


def test_a_judgement_made_void_by_a_lost_race_undoes_nothing(app: App, monkeypatch: Any) -> None:
    """Storage may judge a refresh again after another request rotated the chain first
    (PostgreSQL's update without the row lock). What the first judgement decided is void: when
    the second finds a retry and the connector then refuses, the winner's rotation stays."""
    from connectors.base import ConnectorError

    first = login(app)
    token_id = first["refresh_token"].partition(".")[0]
    storage = app.svc.storage
    before_the_race = storage.get_refresh_token(token_id)
    winner = refresh(app, first["refresh_token"]).json
    real_update = storage.update_refresh_token
    raced = False

    def update_after_losing_a_race(id: str, fn: Any) -> Any:
        nonlocal raced
        if not raced:
            raced = True
            fn(before_the_race)  # judged on what was read before the winner wrote; lost
        return real_update(id, fn)

    entry = app.svc.connectors.get("local")
    assert entry is not None and entry.connector is not None

    def down(*args: Any, **kwargs: Any) -> Any:
        raise ConnectorError("directory unreachable")

    monkeypatch.setattr(storage, "update_refresh_token", update_after_losing_a_race)
    monkeypatch.setattr(entry.connector, "refresh", down)
    assert refresh(app, first["refresh_token"]).json["error"] == "invalid_grant"
    monkeypatch.undo()
    assert refresh(app, winner["refresh_token"]).status_code == 200
