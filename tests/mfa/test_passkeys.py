"""WebAuthn checks with a software authenticator: origin, challenge, signature counter (a
counter that did not grow and a replayed assertion are refused), the counter stored by
compare-and-swap, and the passkey step of the login in process."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from dex_py.login_guard import SecondFactorGuard
from dex_py.mfa import factors, passkeys
from dex_py.storage.base import MFAState
from dex_py.storage.memory import MemoryStorage
from tests.mfa.conftest import ADMIN_KEY, App, finish, hidden, to_mfa_page
from tests.mfa.soft_authenticator import SoftAuthenticator

NOW = datetime(2026, 1, 1, 12, tzinfo=UTC)
RP = passkeys.RelyingParty("localhost", "http://localhost:5556", "dex-py")
CHALLENGE = passkeys.challenge("browser-secret", "login:req-1")


def _registered(authenticator: SoftAuthenticator) -> MFAState:
    challenge = passkeys.challenge("browser-secret", "register:sess-1")
    registered = passkeys.verify_registration(
        RP, authenticator.register(challenge), challenge, "key", NOW
    )
    assert registered is not None and registered[1] == "hwk"
    return MFAState(id=ADMIN_KEY, webauthn_credentials=(registered[0],))


def test_assertion_accepted_then_counter_must_grow() -> None:
    auth = SoftAuthenticator(RP.id, RP.origin)
    state = _registered(auth)
    good = passkeys.verify_assertion(RP, state, auth.assert_(CHALLENGE), CHALLENGE)
    assert good is not None and good.new_sign_count == 1 and good.method == "hwk"
    stored = replace(
        state, webauthn_credentials=(replace(state.webauthn_credentials[0], sign_count=1),)
    )
    # a cloned authenticator answers with a counter that did not grow
    assert passkeys.verify_assertion(RP, stored, auth.assert_(CHALLENGE, step=0), CHALLENGE) is None
    assert passkeys.verify_assertion(RP, stored, auth.assert_(CHALLENGE), CHALLENGE) is not None


def test_wrong_origin_challenge_or_key_refused() -> None:
    auth = SoftAuthenticator(RP.id, RP.origin)
    state = _registered(auth)
    other_origin = auth.assert_(CHALLENGE, origin="http://evil.example")
    assert passkeys.verify_assertion(RP, state, other_origin, CHALLENGE) is None
    other_login = passkeys.challenge("browser-secret", "login:req-2")
    assert passkeys.verify_assertion(RP, state, auth.assert_(other_login), CHALLENGE) is None
    stranger = SoftAuthenticator(RP.id, RP.origin)
    assert passkeys.verify_assertion(RP, state, stranger.assert_(CHALLENGE), CHALLENGE) is None
    wrong_rp = SoftAuthenticator("evil.example", RP.origin)
    registration = wrong_rp.register(CHALLENGE)
    assert passkeys.verify_registration(RP, registration, CHALLENGE, "x", NOW) is None


def test_counter_stored_by_compare_and_swap() -> None:
    storage = MemoryStorage()
    auth = SoftAuthenticator(RP.id, RP.origin)
    storage.create_mfa_state(_registered(auth))
    state = storage.get_mfa_state(ADMIN_KEY)
    first = passkeys.verify_assertion(RP, state, auth.assert_(CHALLENGE), CHALLENGE)
    replayed = passkeys.verify_assertion(RP, state, auth.assert_(CHALLENGE), CHALLENGE)
    assert first is not None and replayed is not None  # both read the same stored counter
    assert factors.use_assertion(storage, ADMIN_KEY, first, NOW)
    assert not factors.use_assertion(storage, ADMIN_KEY, replayed, NOW)  # counter moved
    assert storage.get_mfa_state(ADMIN_KEY).webauthn_credentials[0].sign_count == 1


def test_the_same_key_cannot_be_registered_twice() -> None:
    storage = MemoryStorage()
    auth = SoftAuthenticator(RP.id, RP.origin)
    credential = _registered(auth).webauthn_credentials[0]
    codes = factors.add_passkey(storage, ADMIN_KEY, credential, NOW)
    assert codes is not None and len(codes) == 10  # a first factor comes with recovery codes
    assert factors.add_passkey(storage, ADMIN_KEY, credential, NOW) is None
    other = _registered(SoftAuthenticator(RP.id, RP.origin)).webauthn_credentials[0]
    assert factors.add_passkey(storage, ADMIN_KEY, other, NOW) == []  # codes kept
    assert len(storage.get_mfa_state(ADMIN_KEY).webauthn_credentials) == 2


def test_passkey_step_of_the_login(make_app) -> None:
    app: App = make_app(issuer="http://localhost:5556/dex")
    rp = passkeys.RelyingParty.of_issuer("http://localhost:5556/dex", "dex-py")
    auth = SoftAuthenticator(rp.id, rp.origin)
    challenge = passkeys.challenge("x", "register:x")
    registered = passkeys.verify_registration(rp, auth.register(challenge), challenge, "k", NOW)
    assert registered is not None
    app.storage.create_mfa_state(MFAState(id=ADMIN_KEY, webauthn_credentials=(registered[0],)))
    browser = app.client()
    step = to_mfa_page(browser)
    assert 'id="use-passkey"' in step.html and 'id="code"' not in step.html
    secret = browser.get_cookie("dexpy_browser", path="/dex").value
    login_challenge = passkeys.challenge(secret, "login:" + step.req)
    csrf = hidden(step.html, "csrf_token")
    wrong = auth.assert_(passkeys.challenge(secret, "login:another-request"))
    resp = browser.post(step.url, data={"webauthn": wrong, "csrf_token": csrf})
    assert resp.status_code == 401
    assert app.storage.attempts(SecondFactorGuard.key(ADMIN_KEY), app.clock.now()) == 1
    resp = browser.post(
        step.url, data={"webauthn": auth.assert_(login_challenge), "csrf_token": csrf}
    )
    assert resp.status_code == 303
    assert app.storage.get_mfa_state(ADMIN_KEY).webauthn_credentials[0].sign_count == auth.counter
    final = finish(browser, resp)
    assert "code=" in final.headers["Location"]


def test_passkey_enrolment_at_a_login_that_requires_one(make_app) -> None:
    app: App = make_app(
        issuer="http://localhost:5556/dex",
        mfa={"required": True, "allowedMethods": ["webauthn", "recovery"]},
    )
    rp = passkeys.RelyingParty.of_issuer("http://localhost:5556/dex", "dex-py")
    auth = SoftAuthenticator(rp.id, rp.origin)
    browser = app.client()
    step = to_mfa_page(browser)
    assert step.url.startswith("/dex/mfa/enroll?")
    assert 'id="add-passkey"' in step.html and 'id="totp-qr"' not in step.html
    secret = browser.get_cookie("dexpy_browser", path="/dex").value
    csrf = hidden(step.html, "csrf_token")
    stolen = auth.register(passkeys.challenge(secret, "enroll:another-request"))
    assert browser.post(step.url, data={"webauthn": stolen, "csrf_token": csrf}).status_code == 401
    answer = auth.register(passkeys.challenge(secret, "enroll:" + step.req))
    resp = browser.post(
        step.url, data={"webauthn": answer, "passkey_name": "yubi", "csrf_token": csrf}
    )
    assert resp.status_code == 200 and 'id="recovery-codes"' in resp.get_data(as_text=True)
    (credential,) = app.storage.get_mfa_state(ADMIN_KEY).webauthn_credentials
    assert credential.name == "yubi"
    assert "hwk" in app.storage.get_auth_request(step.req).claims.amr
