"""The teams rules decide the ``groups`` claim and ``allowedGroups`` on every grant."""

from __future__ import annotations

from collections.abc import Callable

from dex_py.jose import tokens
from tests.oauth.conftest import (
    BASE_CONFIG,
    CLIENT_ID,
    ISSUER,
    App,
    auth_params,
    basic,
    code_from,
    login_password,
    redeem,
)

TEAMS = {
    "unmatched": "drop",
    "rules": [
        {"exact": "admins", "connectors": ["local"], "team": "platform"},
        {"glob": "auth*", "team": "writers"},
    ],
}


def groups_claim(app: App, body: dict) -> list[str]:
    claims = tokens.verify(
        app.svc.keys, body["id_token"], issuer=ISSUER, audience=CLIENT_ID, clock=app.clock
    )
    return claims["groups"]  # type: ignore[no-any-return]


def test_code_refresh_and_password_grants_carry_teams(make_app: Callable[..., App]) -> None:
    app = make_app(teams=TEAMS)
    browser = app.client()
    body = redeem(browser, code_from(login_password(browser, auth_params()))["code"]).json
    assert groups_claim(app, body) == ["platform"]
    refreshed = browser.post(
        "/dex/token",
        data={"grant_type": "refresh_token", "refresh_token": body["refresh_token"]},
        headers=basic(),
    ).json
    assert groups_claim(app, refreshed) == ["platform"]
    password = browser.post(
        "/dex/token",
        data={
            "grant_type": "password",
            "username": "admin@example.com",
            "password": "password",
            "scope": "openid groups",
        },
        headers=basic(),
    ).json
    assert groups_claim(app, password) == ["platform"]


def test_allowed_groups_are_checked_against_teams(make_app: Callable[..., App]) -> None:
    clients = [dict(c) for c in BASE_CONFIG["staticClients"]]
    clients[0]["allowedGroups"] = ["platform"]
    app = make_app(teams=TEAMS, staticClients=clients)
    resp = login_password(app.client(), auth_params())
    assert resp.status_code == 303 and "code=" in resp.headers["Location"]
    clients[0]["allowedGroups"] = ["admins"]  # the upstream name no longer counts
    app = make_app(teams=TEAMS, staticClients=clients)
    resp = login_password(app.client(), auth_params())
    assert "error=access_denied" in resp.headers["Location"]


def test_without_teams_section_groups_pass_through(app: App) -> None:
    browser = app.client()
    body = redeem(browser, code_from(login_password(browser, auth_params()))["code"]).json
    assert groups_claim(app, body) == ["admins"]
