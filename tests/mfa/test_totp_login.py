"""The second-factor step of the browser login, in process: enrolment, TOTP and recovery codes,
and the protections that go with them (each test fails without its protection)."""

from __future__ import annotations

from collections.abc import Callable

from dex_py import second_factor
from dex_py.jose import tokens
from dex_py.login_guard import SecondFactorGuard
from tests.mfa.conftest import (
    ADMIN_KEY,
    CLIENT_ID,
    ISSUER,
    App,
    code_from,
    code_now,
    enroll,
    enrolled_state,
    finish,
    hidden,
    password_login,
    path_of,
    post_code,
    redeem,
    shown_recovery_codes,
    shown_secret,
    step_later,
    to_mfa_page,
)

REQUIRED = {"mfa": {"required": True}}


def id_token_claims(app: App, browser, resp) -> dict:
    body = redeem(browser, code_from(resp)["code"]).json
    return tokens.verify(
        app.svc.keys, body["id_token"], issuer=ISSUER, audience=CLIENT_ID, clock=app.clock
    )


def test_enrolment_on_first_login_then_tokens_carry_amr_and_acr(
    make_app: Callable[..., App],
) -> None:
    app = make_app(**REQUIRED)
    browser = app.client()
    page, _secret = enroll(app, browser)
    html = page.get_data(as_text=True)
    codes = shown_recovery_codes(html)
    assert len(codes) == 10 and len(set(codes)) == 10
    state = app.storage.get_mfa_state(ADMIN_KEY)
    assert state.totp_confirmed
    # stored hashed: no code appears in storage
    assert not set(codes) & set(state.recovery_code_hashes)
    assert len(state.recovery_code_hashes) == 10
    resp = browser.get(path_of(hidden_continue(html)))
    claims = id_token_claims(app, browser, finish(browser, resp))
    assert claims["amr"] == ["pwd", "otp", "mfa"]
    assert claims["acr"] == second_factor.ACR_MFA


def hidden_continue(html: str) -> str:
    import re

    m = re.search(r'id="continue" href="([^"]+)"', html)
    assert m
    return m.group(1).replace("&amp;", "&")


def test_without_mfa_tokens_say_password_only(app: App) -> None:
    browser = app.client()
    resp = finish(browser, password_login(browser))
    claims = id_token_claims(app, browser, resp)
    assert claims["amr"] == ["pwd"]
    assert claims["acr"] == second_factor.ACR_SINGLE


def test_no_tokens_before_enrolment(make_app: Callable[..., App]) -> None:
    """Skipping the /mfa pages and approving directly is refused."""
    app = make_app(**REQUIRED, oauth2={"skipApprovalScreen": True})
    browser = app.client()
    step = to_mfa_page(browser)
    csrf = hidden(step.html, "csrf_token")
    resp = browser.get(f"/dex/approval?req={step.req}")
    assert resp.status_code == 303 and "/dex/mfa?" in resp.headers["Location"]
    resp = browser.post(
        "/dex/approval", data={"req": step.req, "csrf_token": csrf, "approval": "approve"}
    )
    assert resp.status_code == 403
    assert "code=" not in resp.headers.get("Location", "")
    # the request is still there: nothing was issued
    assert app.storage.get_auth_request(step.req).logged_in


def test_enrolled_user_is_asked_even_when_not_required(app: App) -> None:
    state = enrolled_state(app)
    browser = app.client()
    step = to_mfa_page(browser)
    assert step.url.startswith("/dex/mfa?")
    resp = post_code(browser, step, code_now(app, state.totp_secret))
    assert resp.status_code == 303
    claims = id_token_claims(app, browser, finish(browser, resp))
    assert claims["amr"] == ["pwd", "otp", "mfa"]


def test_enrolled_user_cannot_enrol_again_with_only_a_password(app: App) -> None:
    state = enrolled_state(app)
    browser = app.client()
    step = to_mfa_page(browser)
    resp = browser.get(f"/dex/mfa/enroll?req={step.req}")
    assert resp.status_code == 303 and "/dex/mfa?" in resp.headers["Location"]
    assert app.storage.get_mfa_state(ADMIN_KEY).totp_secret == state.totp_secret


def test_a_code_works_once(app: App) -> None:
    state = enrolled_state(app)
    code = code_now(app, state.totp_secret)
    first = app.client()
    assert post_code(first, to_mfa_page(first), code).status_code == 303
    second = app.client()
    step = to_mfa_page(second)
    resp = post_code(second, step, code)
    assert resp.status_code == 401
    assert "not valid" in resp.get_data(as_text=True)
    # an earlier step's code is refused too, once a later one was used
    assert post_code(second, step, code_now(app, state.totp_secret, -1)).status_code == 401
    step_later(app)
    assert post_code(second, step, code_now(app, state.totp_secret)).status_code == 303


def test_codes_one_step_either_side_are_accepted_not_two(app: App) -> None:
    state = enrolled_state(app)
    secret = state.totp_secret
    browser = app.client()
    step = to_mfa_page(browser)
    for steps in (-2, 2, 3):
        assert post_code(browser, step, code_now(app, secret, steps)).status_code == 401
    assert post_code(browser, step, code_now(app, secret, -1)).status_code == 303
    other = app.client()
    assert post_code(other, to_mfa_page(other), code_now(app, secret, 1)).status_code == 303


def test_wrong_codes_are_counted_and_lock_the_second_factor(app: App) -> None:
    state = enrolled_state(app)
    browser = app.client()
    step = to_mfa_page(browser)
    key = SecondFactorGuard.key(ADMIN_KEY)
    limit = app.svc.mfa_guard.policy.second_factor.failures
    for i in range(limit):
        assert post_code(browser, step, "000000" if i % 2 else "123456").status_code == 401
        assert app.storage.attempts(key, app.clock.now()) == i + 1
    resp = post_code(browser, step, code_now(app, state.totp_secret))
    assert resp.status_code == 429
    assert "Too many wrong codes" in resp.get_data(as_text=True)
    # the right code was not even checked: its step is still unused
    assert app.storage.get_mfa_state(ADMIN_KEY).totp_last_step == 0


def test_recovery_code_works_once(app: App) -> None:
    enrolled_state(app)
    browser = app.client()
    resp = post_code(browser, to_mfa_page(browser), "AAAAA BBBBB")
    assert resp.status_code == 303
    left = app.storage.get_mfa_state(ADMIN_KEY).recovery_code_hashes
    assert len(left) == 1
    other = app.client()
    assert post_code(other, to_mfa_page(other), "aaaaa-bbbbb").status_code == 401
    assert app.storage.get_mfa_state(ADMIN_KEY).recovery_code_hashes == left


def test_forms_check_csrf(make_app: Callable[..., App]) -> None:
    app = make_app(**REQUIRED)
    browser = app.client()
    step = to_mfa_page(browser)  # the enrolment page

    secret = shown_secret(step.html)
    resp = post_code(browser, step, code_now(app, secret), csrf="forged")
    assert resp.status_code == 400
    assert not app.storage.get_mfa_state(ADMIN_KEY).totp_confirmed
    # the verification form too, once enrolled
    app2 = make_app()
    state = enrolled_state(app2)
    b2 = app2.client()
    step2 = to_mfa_page(b2)
    assert post_code(b2, step2, code_now(app2, state.totp_secret), csrf="").status_code == 400
    assert app2.storage.get_mfa_state(ADMIN_KEY).totp_last_step == 0
