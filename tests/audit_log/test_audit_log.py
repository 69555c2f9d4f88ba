"""The audit log in storage (issue 12 item 3): security events and admin changes kept as
records (never every token issued, never a secret), the ``audit`` section, retention in the
housekeeping loop, and ``dex-py audit export``. The records themselves are checked on every
backend by tests/storage/test_conformance.py."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from click.testing import CliRunner

from dex_py.cli import main
from dex_py.config.audit_log import AuditPolicy
from dex_py.config.model import ConfigError
from dex_py.ops.background import _expire_audit
from dex_py.storage.base import AuditRecord
from tests.oauth.conftest import App, auth_params, basic, code_from, login_password, redeem


def test_logins_reuse_and_revocation_are_kept_but_not_every_token(app: App) -> None:
    browser = app.client()
    assert login_password(browser, auth_params(), password="wrong-password").status_code == 401
    tokens = redeem(browser, code_from(login_password(browser, auth_params()))["code"]).json
    data = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    assert browser.post("/dex/token", data=data, headers=basic()).status_code == 200
    app.clock.advance(seconds=10)  # past the reuse interval: the old token is a replay now
    assert browser.post("/dex/token", data=data, headers=basic()).status_code == 400
    kept = app.storage.list_audit_records()
    # the code exchange and the refresh (event "token") are log lines only
    assert sorted((r.event, r.outcome) for r in kept) == [
        ("login", "failure"),
        ("login", "success"),
        ("refresh_reuse", "failure"),
    ]
    reuse = kept[0]  # newest first
    assert reuse.event == "refresh_reuse" and reuse.time == app.clock.now()
    assert reuse.client == "example-app"
    failed = next(r for r in kept if r.outcome == "failure" and r.event == "login")
    assert failed.connector == "local" and failed.ip == "127.0.0.1"
    assert failed.object == "admin@example.com"
    assert all("wrong-password" not in r.details for r in kept)
    assert all(isinstance(json.loads(r.details), dict) for r in kept)


def test_nothing_is_kept_with_audit_store_false(make_app: Any) -> None:
    app = make_app(audit={"store": False})
    login_password(app.client(), auth_params(), password="wrong-password")
    assert app.storage.list_audit_records() == []


def test_the_audit_section_is_checked() -> None:
    assert AuditPolicy.from_config({"retention": "720h"}).retention == timedelta(days=30)
    with pytest.raises(ConfigError) as raised:
        AuditPolicy.from_config({"retention": "-1h", "keep": True, "store": "yes"})
    assert {path for path, _ in raised.value.errors} == {
        "audit.retention",
        "audit.keep",
        "audit.store",
    }


def test_records_past_the_retention_are_removed_by_housekeeping(app: App) -> None:
    now = app.clock.now()
    for n, age in enumerate((100, 89, 1)):
        app.storage.create_audit_record(
            AuditRecord(id=f"r{n}", time=now - timedelta(days=age), event="login", outcome="x")
        )
    services = SimpleNamespace(storage=app.storage, clock=app.clock, audit_policy=AuditPolicy())
    assert _expire_audit(services) == 1  # type: ignore[arg-type]
    assert [r.id for r in app.storage.list_audit_records()] == ["r2", "r1"]


def test_admin_changes_are_kept_and_exported_as_json_lines(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(
        "issuer: http://127.0.0.1:5556/dex\n"
        f"storage: {{type: sqlite3, config: {{file: {tmp_path / 'dex.db'}}}}}\n"
        "web: {http: 127.0.0.1:5556}\nenablePasswordDB: true\n"
    )
    runner = CliRunner()
    added = runner.invoke(
        main,
        ["passwords", "add", str(config), "--email", "ann@example.com", "--username", "ann",
         "--password-stdin"],
        input="a-long-secret-phrase\n",
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    exported = runner.invoke(main, ["audit", "export", str(config), "--event", "admin"])
    assert exported.exit_code == 0, exported.output
    lines = [json.loads(line) for line in exported.output.splitlines() if line.startswith("{")]
    assert len(lines) == 1
    line = lines[0]
    assert line["event"] == "admin" and line["object"] == "ann@example.com"
    assert line["actor"].startswith("cli:")
    assert line["details"]["action"] == "passwords.add"
    assert "a-long-secret-phrase" not in exported.output + added.output
    bad = runner.invoke(main, ["audit", "export", str(config), "--since", "yesterday"])
    assert bad.exit_code == 1 and "--since: not an ISO 8601 time" in bad.output
