"""``dex-py passwords``: add / list / passwd / delete against a real SQLite database."""

from __future__ import annotations

import bcrypt
import pytest
from click.testing import CliRunner

from dex_py.cli.passwords import passwords

DEX_HASH = "$2a$10$2b2cU8CPhOTaGrs1HRQuAueS7JTT5ZHsHSzYiFPm1leZck7Mc8T4W"


@pytest.fixture
def config_file(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text(
        f"""
issuer: http://127.0.0.1:5556/dex
storage:
  type: sqlite3
  config:
    file: {tmp_path / "dex.db"}
web:
  http: 127.0.0.1:5556
enablePasswordDB: true
staticPasswords:
- email: admin@example.com
  hash: "{DEX_HASH}"
  username: admin
  userID: 08a8684b-db88-4b73-90a9-3cd1661f5466
"""
    )
    return str(path)


@pytest.fixture
def run(config_file):
    runner = CliRunner()

    def invoke(*args: str, input: str | None = None):
        return runner.invoke(passwords, [args[0], config_file, *args[1:]], input=input)

    return invoke


def _stored_hash(config_file: str, email: str) -> bytes:
    from dex_py.cli import load_config_or_exit
    from dex_py.storage import open_storage

    storage = open_storage(load_config_or_exit(config_file).storage)
    try:
        return storage.get_password(email).hash
    finally:
        storage.close()


def test_round_trip(run, config_file):
    result = run(
        "add",
        "--email",
        "Jane@Example.com",
        "--username",
        "jane",
        "--user-id",
        "jane-id",
        "--group",
        "devs",
        "--group",
        "ops",
        input="first pass\nfirst pass\n",
    )
    assert result.exit_code == 0, result.output
    assert "jane@example.com" in result.output
    assert bcrypt.checkpw(b"first pass", _stored_hash(config_file, "jane@example.com"))

    result = run("list")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    jane = next(line for line in lines if line.startswith("jane@example.com"))
    assert jane.split() == ["jane@example.com", "jane", "jane-id", "devs,ops", "storage"]
    admin = next(line for line in lines if line.startswith("admin@example.com"))
    assert admin.split()[-1] == "config"
    assert "$2" not in result.output  # never print hashes

    result = run("passwd", "--email", "jane@example.com", "--password-stdin", input="second\n")
    assert result.exit_code == 0, result.output
    new_hash = _stored_hash(config_file, "jane@example.com")
    assert bcrypt.checkpw(b"second", new_hash)
    assert not bcrypt.checkpw(b"first pass", new_hash)

    result = run("delete", "--email", "JANE@example.com")
    assert result.exit_code == 0, result.output
    result = run("list")
    assert "jane@example.com" not in result.output
    result = run("delete", "--email", "jane@example.com")
    assert result.exit_code == 1
    assert "no user with e-mail jane@example.com" in result.output


def test_add_generates_uuid_user_id(run):
    result = run(
        "add", "--email", "a@example.com", "--username", "a", "--password-stdin", input="pw\n"
    )
    assert result.exit_code == 0, result.output
    listed = run("list").output
    row = next(line for line in listed.splitlines() if line.startswith("a@example.com"))
    user_id = row.split()[2]
    assert len(user_id) == 36 and user_id.count("-") == 4
    assert row.split()[3] == "-"


def test_add_existing_email_fails(run):
    args = ("add", "--email", "b@example.com", "--username", "b", "--password-stdin")
    assert run(*args, input="pw\n").exit_code == 0
    result = run(*args, input="pw\n")
    assert result.exit_code == 1
    assert "already exists" in result.output


def test_prompt_confirmation_must_match(run):
    result = run(
        "add", "--email", "c@example.com", "--username", "c", input="one\ntwo\nthree\nthree\n"
    )
    assert result.exit_code == 0, result.output
    assert "do not match" in result.output


@pytest.mark.parametrize(
    ("password", "rule"), [("", "must not be empty"), ("x" * 73, "at most 72 bytes")]
)
def test_add_refuses_bad_password(run, password, rule):
    result = run(
        "add",
        "--email",
        "d@example.com",
        "--username",
        "d",
        "--password-stdin",
        input=password + "\n",
    )
    assert result.exit_code == 1
    assert rule in result.output
    assert "d@example.com" not in run("list").output


@pytest.mark.parametrize(
    ("command", "extra"),
    [
        ("add", ("--username", "x", "--password-stdin")),
        ("passwd", ("--password-stdin",)),
        ("delete", ()),
    ],
)
def test_static_password_is_read_only(run, command, extra):
    result = run(command, "--email", "Admin@example.com", *extra, input="pw\n")
    assert result.exit_code == 1
    assert "staticPasswords" in result.output or "static password" in result.output


def test_passwd_unknown_user_fails(run):
    result = run("passwd", "--email", "ghost@example.com", "--password-stdin", input="pw\n")
    assert result.exit_code == 1
    assert "no user with e-mail ghost@example.com" in result.output


def test_invalid_config_exits_1(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("storage: {type: sqlite3}\n")
    result = CliRunner().invoke(passwords, ["list", str(bad)])
    assert result.exit_code == 1
    assert "issuer" in result.output


def test_admin_changes_leave_audit_lines_without_secrets(config_file, tmp_path):
    """Each change an operator makes from the command line is one audit line (event admin,
    the action, the OS user) in the configured log format, with no password in it."""
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    path = Path(config_file)
    path.write_text(path.read_text() + "logger:\n  format: json\n")
    script = Path(sys.executable).parent / "dex-py"
    cmd = [str(script), "passwords"]
    added = subprocess.run(
        [*cmd, "add", config_file, "--email", "jane@example.com", "--username", "jane",
         "--password-stdin"],
        input="s3cret-pass-phrase\n", capture_output=True, text=True, timeout=60, check=False,
        env={**os.environ},
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    deleted = subprocess.run(
        [*cmd, "delete", config_file, "--email", "jane@example.com"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert deleted.returncode == 0, deleted.stderr
    lines = [json.loads(line) for out in (added, deleted) for line in out.stderr.splitlines()]
    audits = [e for e in lines if e.get("logger") == "dex_py.audit"]
    assert [(e["event"], e["action"], e["email"]) for e in audits] == [
        ("admin", "passwords.add", "jane@example.com"),
        ("admin", "passwords.delete", "jane@example.com"),
    ]
    assert all(e["actor"] for e in audits)
    assert "s3cret-pass-phrase" not in added.stderr + added.stdout
