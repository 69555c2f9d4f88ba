"""``/mfa/manage``: the self-service page of a logged-in user."""

from __future__ import annotations

from dex_py.mfa import recovery
from tests.mfa.conftest import (
    ADMIN_KEY,
    App,
    code_now,
    enrolled_state,
    finish,
    hidden,
    password_login,
    post_code,
    shown_recovery_codes,
    shown_secret,
    to_mfa_page,
)


def test_needs_a_session(app: App) -> None:
    resp = app.client().get("/dex/mfa/manage")
    assert resp.status_code == 401


def test_a_password_alone_cannot_change_an_enrolled_users_factors(app: App) -> None:
    enrolled_state(app)
    browser = app.client()
    to_mfa_page(browser)  # password accepted, second factor not given: a session exists
    assert app.storage.list_sessions()
    resp = browser.get("/dex/mfa/manage")
    assert resp.status_code == 403
    resp = browser.post("/dex/mfa/manage", data={"action": "remove_totp", "csrf_token": "x"})
    assert resp.status_code == 403
    assert app.storage.get_mfa_state(ADMIN_KEY).totp_confirmed


def test_new_recovery_codes_and_removal_after_mfa(app: App) -> None:
    state = enrolled_state(app)
    browser = app.client()
    finish(browser, post_code(browser, to_mfa_page(browser), code_now(app, state.totp_secret)))
    page = browser.get("/dex/mfa/manage")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and 'id="totp-status">set up<' in html
    forged = browser.post(
        "/dex/mfa/manage", data={"action": "new_recovery_codes", "csrf_token": "forged"}
    )
    assert forged.status_code == 400
    assert app.storage.get_mfa_state(ADMIN_KEY).recovery_code_hashes == state.recovery_code_hashes
    csrf = hidden(html, "csrf_token")
    resp = browser.post(
        "/dex/mfa/manage", data={"action": "new_recovery_codes", "csrf_token": csrf}
    )
    codes = shown_recovery_codes(resp.get_data(as_text=True))
    assert len(codes) == 10
    stored = app.storage.get_mfa_state(ADMIN_KEY).recovery_code_hashes
    assert set(stored) == {recovery.digest(c) for c in codes}
    assert recovery.digest("aaaaa-bbbbb") not in stored  # the old codes no longer work
    resp = browser.post("/dex/mfa/manage", data={"action": "remove_totp", "csrf_token": csrf})
    assert resp.status_code == 200
    after = app.storage.get_mfa_state(ADMIN_KEY)
    # the old secret is gone (the page now offers a new, unconfirmed one to set up)
    assert not after.totp_confirmed and after.totp_secret != state.totp_secret
    assert after.recovery_code_hashes == ()  # no factor left: the recovery codes go too


def test_a_user_may_enrol_from_the_page(app: App) -> None:
    browser = app.client()
    finish(browser, password_login(browser))  # not required, not enrolled: no second factor
    html = browser.get("/dex/mfa/manage").get_data(as_text=True)
    secret = shown_secret(html)
    csrf = hidden(html, "csrf_token")
    wrong = browser.post(
        "/dex/mfa/manage", data={"action": "enroll", "code": "000000", "csrf_token": csrf}
    )
    assert wrong.status_code == 401 or code_now(app, secret) == "000000"
    resp = browser.post(
        "/dex/mfa/manage",
        data={"action": "enroll", "code": code_now(app, secret), "csrf_token": csrf},
    )
    assert resp.status_code == 200
    assert len(shown_recovery_codes(resp.get_data(as_text=True))) == 10
    assert app.storage.get_mfa_state(ADMIN_KEY).totp_confirmed
    # from now on the login asks for it
    other = app.client()
    assert to_mfa_page(other).url.startswith("/dex/mfa?")
