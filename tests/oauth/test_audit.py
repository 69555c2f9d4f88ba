"""Audit lines (dex_py.ops.audit) on ``dex_py.audit``: logins that succeed and fail, tokens
issued and refused, refresh token reuse and revocation, each with user, client, connector and
the client's address (``web.clientRemoteIP`` honoured); nothing secret in them."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from prometheus_client import REGISTRY

from dex_py.ops import audit as audit_module
from dex_py.ops import metrics
from tests.oauth.conftest import (
    CLIENT_ID,
    CLIENT_SECRET,
    App,
    auth_params,
    basic,
    code_from,
    login_password,
    redeem,
)

ADMIN_ID = "08a8684b-db88-4b73-90a9-3cd1661f5466"


def _audits(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    fields = ("event", "outcome", "user", "email", "client", "connector", "ip", "grant_type")
    return [
        {f: getattr(r, f) for f in (*fields, "reason", "kind") if hasattr(r, f)}
        for r in caplog.records
        if r.name == "dex_py.audit"
    ]


def test_a_failed_and_a_good_login_then_tokens(app: App, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="dex_py.audit")
    browser = app.client()
    bad = login_password(browser, auth_params(), password="wrong-password")
    assert bad.status_code == 401
    resp = login_password(browser, auth_params())
    tokens = redeem(browser, code_from(resp)["code"]).json
    assert "refresh_token" in tokens
    entries = _audits(caplog)
    assert entries[0] == {
        "event": "login",
        "outcome": "failure",
        "user": "admin@example.com",
        "client": CLIENT_ID,
        "connector": "local",
        "ip": "127.0.0.1",
        "reason": "invalid credentials",
    }
    assert entries[1] == {
        "event": "login",
        "outcome": "success",
        "user": ADMIN_ID,
        "email": "admin@example.com",
        "client": CLIENT_ID,
        "connector": "local",
        "ip": "127.0.0.1",
    }
    assert entries[2] == {
        "event": "token",
        "outcome": "success",
        "client": CLIENT_ID,
        "ip": "127.0.0.1",
        "grant_type": "authorization_code",
    }
    text = caplog.text + "".join(str(r.__dict__) for r in caplog.records)
    assert "wrong-password" not in text and tokens["refresh_token"] not in text


def test_refused_tokens_reuse_and_revocation(app: App, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="dex_py.audit")
    browser = app.client()
    first = redeem(browser, code_from(login_password(browser, auth_params()))["code"]).json
    caplog.clear()
    data = {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}
    second = browser.post("/dex/token", data=data, headers=basic()).json
    app.clock.advance(seconds=10)  # past the reuse interval
    reused = browser.post("/dex/token", data=data, headers=basic())
    assert reused.json["error"] == "invalid_grant"
    wrong = browser.post("/dex/token", data=data, headers=basic(CLIENT_ID, "not-" + CLIENT_SECRET))
    assert wrong.status_code == 401
    revoked = browser.post(
        "/dex/token/revoke", data={"token": second["refresh_token"]}, headers=basic()
    )
    assert revoked.status_code == 200
    events = [(e["event"], e["outcome"], e.get("reason", "")) for e in _audits(caplog)]
    assert events == [
        ("token", "success", ""),
        ("refresh_reuse", "failure", ""),
        ("token", "failure", "invalid_grant"),
        ("token", "failure", "invalid_client"),
    ]  # the chain was revoked by the reuse: the revocation found nothing left to revoke


def test_the_address_behind_a_trusted_proxy(
    make_app: Any, caplog: pytest.LogCaptureFixture
) -> None:
    remote = {"header": "X-Forwarded-For", "trustedProxies": ["127.0.0.1/32"]}
    app = make_app(web={"http": "127.0.0.1:5556", "clientRemoteIP": remote})
    caplog.set_level(logging.INFO, logger="dex_py.audit")
    browser = app.client()
    headers = {"X-Forwarded-For": "203.0.113.9"}
    resp = browser.post(
        "/dex/token",
        data={"grant_type": "refresh_token", "refresh_token": "x.y"},
        headers={**basic(CLIENT_ID, "wrong"), **headers},
    )
    assert resp.status_code == 401
    assert _audits(caplog)[-1]["ip"] == "203.0.113.9"


def test_audit_events_are_counted_by_client_connector_and_grant(app: App) -> None:
    metrics._get_metrics()  # metrics on, as with telemetry.http set
    labels = {"client": CLIENT_ID, "connector": "local"}
    failed = {"event": "login", "outcome": "failure", "grant_type": "", **labels}
    refreshed = {"event": "token", "outcome": "success", "grant_type": "refresh_token"}
    refreshed |= {"client": CLIENT_ID, "connector": ""}  # token lines name no connector
    before_failed = REGISTRY.get_sample_value("dexpy_audit_events_total", failed) or 0.0
    before_refreshed = REGISTRY.get_sample_value("dexpy_audit_events_total", refreshed) or 0.0
    browser = app.client()
    assert login_password(browser, auth_params(), password="wrong-password").status_code == 401
    tokens = redeem(browser, code_from(login_password(browser, auth_params()))["code"]).json
    data = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    assert browser.post("/dex/token", data=data, headers=basic()).status_code == 200
    assert REGISTRY.get_sample_value("dexpy_audit_events_total", failed) == before_failed + 1
    assert REGISTRY.get_sample_value("dexpy_audit_events_total", refreshed) == (
        before_refreshed + 1
    )


def test_invented_client_ids_do_not_grow_the_metrics_without_bound(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(audit_module, "_label_values", {"client": set(), "connector": set()})
    monkeypatch.setattr(audit_module, "MAX_LABEL_VALUES", 3)
    seen = [audit_module._bounded("client", f"made-up-{n}") for n in range(6)]
    assert seen == ["made-up-0", "made-up-1", "made-up-2", "other", "other", "other"]
    assert audit_module._bounded("client", "made-up-1") == "made-up-1"
