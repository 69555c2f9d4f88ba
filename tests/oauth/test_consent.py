"""When the approval page is shown (``dex_py.oauth.consent``): approval remembered per session,
client and scope (OIDC Core §11, §3.1.2.4); public clients asked every time unless the operator
opts in per client (RFC 8252 §8.6); ``approval_prompt=force`` honoured like ``prompt=consent``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import pytest
from flask.testing import FlaskClient

from dex_py.config import ConfigError
from dex_py.config.loader import from_dict
from dex_py.config.validation import validate
from tests.oauth.conftest import (
    BASE_CONFIG,
    REDIRECT,
    App,
    approve_page,
    auth_params,
    authorize,
    code_from,
    login_password,
    merge,
    open_password_form,
    pkce_pair,
    submit_password,
)


def asks_approval(resp: Any) -> bool:
    return resp.status_code in (302, 303) and "/dex/approval?" in resp.headers["Location"]


def answered(resp: Any) -> dict[str, str]:
    assert resp.status_code in (302, 303) and resp.headers["Location"].startswith(REDIRECT), (
        resp.status_code,
        resp.headers.get("Location"),
    )
    return code_from(resp)


def logged_in(app: App, scope: str) -> FlaskClient:
    browser = app.client()
    assert "code" in code_from(login_password(browser, auth_params(scope=scope)))
    return browser


def test_approval_covers_only_the_scopes_approved(app: App) -> None:
    browser = logged_in(app, "openid email")
    assert "code" in answered(authorize(browser, scope="openid email"))
    assert "code" in answered(authorize(browser, scope="openid"))  # fewer is covered
    more = authorize(browser, scope="openid email groups")
    assert asks_approval(more)
    none = answered(authorize(browser, scope="openid email groups", prompt="none"))
    assert none["error"] == "consent_required"
    # approving the larger set is remembered for that set
    assert "code" in code_from(approve_page(browser, more.headers["Location"]))
    assert "code" in answered(authorize(browser, scope="openid groups", prompt="none"))
    [session] = app.storage.list_sessions()
    [approval] = session.approvals
    assert approval.client_id == "example-app"
    assert set(approval.scopes) == {"openid", "email", "groups"}


def test_offline_access_needs_its_own_approval(app: App) -> None:
    browser = logged_in(app, "openid email profile groups")
    offline = "openid email profile groups offline_access"
    assert asks_approval(authorize(browser, scope=offline))
    assert answered(authorize(browser, scope=offline, prompt="none"))["error"] == (
        "consent_required"
    )


def test_approval_of_one_client_does_not_cover_another(app: App) -> None:
    browser = logged_in(app, "openid email")
    resp = browser.get(
        "/dex/auth?"
        + urlencode(
            auth_params(
                client_id="peer-app", redirect_uri="http://127.0.0.1:5999/cb", scope="openid"
            )
        )
    )
    assert asks_approval(resp)


def public_request(port: int, **extra: str) -> dict[str, str]:
    _, challenge = pkce_pair()
    return auth_params(
        client_id="public-cli",
        redirect_uri=f"http://127.0.0.1:{port}/cb",
        scope="openid email",
        code_challenge=challenge,
        code_challenge_method="S256",
        **extra,
    )


def test_public_client_is_asked_every_time(app: App) -> None:
    browser = app.client()
    first = login_password(browser, public_request(41001))
    assert first.headers["Location"].startswith("http://127.0.0.1:41001/cb?code=")
    # another local program using the same client id on another port
    again = browser.get("/dex/auth?" + urlencode(public_request(41002)))
    assert asks_approval(again)
    silent = browser.get("/dex/auth?" + urlencode(public_request(41002, prompt="none")))
    assert "error=consent_required" in silent.headers["Location"]


@pytest.mark.parametrize("skip_screen", [False, True])
def test_skip_approval_screen_does_not_cover_public_clients(
    make_app: Callable[..., App], skip_screen: bool
) -> None:
    app = make_app(oauth2={"skipApprovalScreen": skip_screen})
    browser = app.client()
    form_url, html = open_password_form(browser, public_request(41003))
    resp = submit_password(browser, form_url, html, "admin@example.com", "password")
    assert asks_approval(resp)


def public_client_app(make_app: Callable[..., App], **client: Any) -> App:
    clients = [dict(c) for c in BASE_CONFIG["staticClients"]]
    clients[1].update(client)
    return make_app(staticClients=clients)


def test_operator_can_skip_approval_for_one_public_client(make_app: Callable[..., App]) -> None:
    app = public_client_app(make_app, skipApproval=True)
    browser = app.client()
    form_url, html = open_password_form(browser, public_request(41004))
    resp = submit_password(browser, form_url, html, "admin@example.com", "password")
    assert resp.headers["Location"].startswith("http://127.0.0.1:41004/cb?code=")
    again = browser.get("/dex/auth?" + urlencode(public_request(41005)))
    assert again.headers["Location"].startswith("http://127.0.0.1:41005/cb?code=")
    # the other clients still ask
    other = app.client()
    form_url, html = open_password_form(other, auth_params())
    assert asks_approval(submit_password(other, form_url, html, "admin@example.com", "password"))


def test_skip_approval_must_be_a_boolean() -> None:
    clients = [dict(c) for c in BASE_CONFIG["staticClients"]]
    clients[1]["skipApproval"] = "yes"
    with pytest.raises(ConfigError) as err:
        from_dict(merge(BASE_CONFIG, {"staticClients": clients}))
    assert "staticClients[1].skipApproval" in str(err.value)


def test_skip_approval_screen_with_public_clients_warns() -> None:
    config = from_dict(merge(BASE_CONFIG, {"oauth2": {"skipApprovalScreen": True}}))
    warnings = validate(config).warnings
    assert any(w.startswith("staticClients[1].public: ") for w in warnings), warnings
    clients = [dict(c) for c in BASE_CONFIG["staticClients"]]
    clients[1]["skipApproval"] = True
    config = from_dict(
        merge(BASE_CONFIG, {"oauth2": {"skipApprovalScreen": True}, "staticClients": clients})
    )
    assert not any(w.startswith("staticClients[1].") for w in validate(config).warnings)


def test_approval_prompt_force_shows_the_page_despite_skip_approval_screen(
    make_app: Callable[..., App],
) -> None:
    app = make_app(oauth2={"skipApprovalScreen": True})
    browser = app.client()
    form_url, html = open_password_form(browser, auth_params(approval_prompt="force"))
    resp = submit_password(browser, form_url, html, "admin@example.com", "password")
    assert asks_approval(resp)
    assert "code" in code_from(approve_page(browser, resp.headers["Location"]))
    # with the SSO session, too; and prompt=none cannot satisfy it
    assert "code" in answered(authorize(browser))
    assert asks_approval(authorize(browser, approval_prompt="force"))
    forced_none = answered(authorize(browser, approval_prompt="force", prompt="none"))
    assert forced_none["error"] == "consent_required"
    assert "code" in answered(authorize(browser, approval_prompt="auto"))
