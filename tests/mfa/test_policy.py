"""Who must pass a second factor: the mfa section per server, team and connector,
staticClients[].requireMFA, acr_values, and how it holds for SSO, prompt=login and the password
grant; the section's validation."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlencode

import pytest

from dex_py import second_factor
from dex_py.config import ConfigError
from dex_py.config.mfa import MFAPolicy
from tests.mfa.conftest import (
    CLIENT_ID,
    App,
    auth_params,
    basic,
    code_now,
    enrolled_state,
    finish,
    password_login,
    post_code,
    to_mfa_page,
)


def asks_second_factor(app: App, **params: str) -> bool:
    resp = password_login(app.client(), auth_params(**params))
    assert resp.status_code == 303
    return "/dex/mfa?" in resp.headers["Location"]


@pytest.mark.parametrize(
    ("overrides", "asked"),
    [
        ({}, False),
        ({"mfa": {"required": True}}, True),
        ({"mfa": {"teams": ["admins"]}}, True),  # the admin user is in team admins
        ({"mfa": {"teams": ["auditors"]}}, False),
        ({"mfa": {"connectors": ["local"]}}, True),
        ({"mfa": {"connectors": ["mock"]}}, False),
    ],
)
def test_policy_per_server_team_and_connector(
    make_app: Callable[..., App], overrides: dict, asked: bool
) -> None:
    assert asks_second_factor(make_app(**overrides)) is asked


def test_policy_per_client(make_app: Callable[..., App]) -> None:
    from tests.oauth.conftest import BASE_CONFIG

    clients = [dict(c) for c in BASE_CONFIG["staticClients"]]
    clients[0]["requireMFA"] = True
    app = make_app(staticClients=clients)
    assert asks_second_factor(app)
    other = make_app()
    assert not asks_second_factor(other)


def test_acr_values_can_demand_mfa(app: App) -> None:
    assert not asks_second_factor(app, acr_values=second_factor.ACR_SINGLE)
    assert asks_second_factor(app, acr_values=f"{second_factor.ACR_MFA} other")


def test_sso_session_without_mfa_does_not_answer_a_request_demanding_it(app: App) -> None:
    browser = app.client()
    finish(browser, password_login(browser))  # an SSO session, password only
    resp = browser.get("/dex/auth?" + urlencode(auth_params()))
    assert resp.status_code in (302, 303)
    assert "code=" in resp.headers["Location"]  # the session answers
    demanding = auth_params(acr_values=second_factor.ACR_MFA, prompt="none")
    resp = browser.get("/dex/auth?" + urlencode(demanding))
    assert "error=login_required" in resp.headers["Location"]


def test_sso_after_mfa_reuses_it_and_prompt_login_asks_again(app: App) -> None:
    state = enrolled_state(app)
    browser = app.client()
    step = to_mfa_page(browser)
    finish(browser, post_code(browser, step, code_now(app, state.totp_secret)))
    session = app.storage.list_sessions()[0]
    assert second_factor.AMR_MFA in session.claims.amr
    resp = browser.get("/dex/auth?" + urlencode(auth_params(acr_values=second_factor.ACR_MFA)))
    assert "code=" in resp.headers["Location"]  # the session (with its second factor) answers
    resp = browser.get("/dex/auth?" + urlencode(auth_params(prompt="login")))
    assert resp.status_code == 200 and b"/auth/local" in resp.data  # the login page first ...
    again = to_mfa_page(browser, auth_params(prompt="login"))
    assert again.url.startswith("/dex/mfa?")  # ... then the second factor again


def test_max_age_asks_the_second_factor_again(app: App) -> None:
    state = enrolled_state(app)
    browser = app.client()
    finish(browser, post_code(browser, to_mfa_page(browser), code_now(app, state.totp_secret)))
    app.clock.advance(seconds=120)
    resp = browser.get("/dex/auth?" + urlencode(auth_params()))
    assert "code=" in resp.headers["Location"]  # the session answers without max_age
    resp = browser.get("/dex/auth?" + urlencode(auth_params(max_age="60")))
    assert resp.status_code == 200 and b"/auth/local" in resp.data  # the login page
    assert to_mfa_page(browser, auth_params(max_age="60")).url.startswith("/dex/mfa?")


def test_password_grant_refused_for_users_who_need_a_second_factor(app: App) -> None:
    data = {
        "grant_type": "password",
        "username": "admin@example.com",
        "password": "password",
        "scope": "openid",
    }
    ok = app.client().post("/dex/token", data=data, headers=basic())
    assert ok.status_code == 200, ok.json
    enrolled_state(app)
    resp = app.client().post("/dex/token", data=data, headers=basic())
    assert resp.status_code == 400
    assert resp.json["error"] == "invalid_grant"
    assert "second factor" in resp.json["error_description"]


def test_discovery_lists_acr_values(app: App) -> None:
    doc = app.client().get("/dex/.well-known/openid-configuration").json
    assert second_factor.ACR_MFA in doc["acr_values_supported"]
    assert {"amr", "acr"} <= set(doc["claims_supported"])
    assert CLIENT_ID  # the test app's client is the one used above


def test_section_errors_name_the_key() -> None:
    with pytest.raises(ConfigError) as err:
        MFAPolicy.from_config(
            {
                "required": "yes",
                "allowedMethods": ["totp", "sms"],
                "teams": "admins",
                "issuer": "a:b",
                "colour": 1,
            }
        )
    errors = dict(err.value.errors)
    assert set(errors) == {
        "mfa.required",
        "mfa.allowedMethods[1]",
        "mfa.teams",
        "mfa.issuer",
        "mfa.colour",
    }
    with pytest.raises(ConfigError) as err:
        MFAPolicy.from_config({"allowedMethods": ["recovery"]})
    assert dict(err.value.errors)["mfa.allowedMethods"].startswith("recovery codes need")
    assert MFAPolicy.from_config(None) == MFAPolicy()


def test_config_file_errors_stop_loading(tmp_path) -> None:
    from dex_py.config.loader import load

    path = tmp_path / "config.yaml"
    path.write_text(
        "issuer: http://127.0.0.1:5556/dex\nstorage: {type: memory}\n"
        "web: {http: 127.0.0.1:5556}\nmfa: {required: 1}\n"
        "staticClients: [{id: a, secret: b, redirectURIs: ['http://x/cb'], requireMFA: 2}]\n"
    )
    with pytest.raises(ConfigError) as err:
        load(str(path))
    keys = {key for key, _ in err.value.errors}
    assert {"mfa.required", "staticClients[0].requireMFA"} <= keys


def test_a_factor_that_allowed_methods_exclude_does_not_count(
    make_app: Callable[..., App],
) -> None:
    app = make_app(mfa={"allowedMethods": ["webauthn", "recovery"]})
    enrolled_state(app)  # TOTP only: not usable here
    assert not asks_second_factor(app)
    strict = make_app(mfa={"required": True, "allowedMethods": ["webauthn", "recovery"]})
    enrolled_state(strict)
    step = to_mfa_page(strict.client())
    assert step.url.startswith("/dex/mfa/enroll?")  # set up an allowed one; no TOTP offered
    assert 'id="totp-qr"' not in step.html
