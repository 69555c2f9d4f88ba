"""How ``dex-py kube login`` asks the user: it opens $BROWSER (and keeps stdout for kubectl),
a real Chromium completes the authcode login, and the password grant prompts on a terminal."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.kube_cli.helpers import (
    authcode_login,
    exec_credential,
    login_args,
    password_args,
    plugin_env,
)
from tests.live import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    EXAMPLE_CLIENT_ID,
    PUBLIC_CLIENT_ID,
    verify_id_token,
)
from tests.login_flow import login_password

pytestmark = [pytest.mark.live, pytest.mark.slow]


def test_auto_opens_the_browser_and_keeps_stdout_for_the_credential(
    kube_issuer: Any, tmp_path: Path
) -> None:
    """With a display, ``auto`` is the authcode flow: the plugin opens $BROWSER on the URL.
    Whatever the browser prints stays off stdout, which kubectl parses as JSON."""
    server = kube_issuer()
    url_file = tmp_path / "opened-url"
    browser = tmp_path / "browser.sh"
    browser.write_text(f'#!/bin/sh\necho "browser chatter"\nprintf %s "$1" > {url_file}\n')
    browser.chmod(0o755)
    env = plugin_env(tmp_path, DISPLAY=":99", BROWSER=str(browser))
    env["KUBERNETES_EXEC_INFO"] = json.dumps(
        {"apiVersion": "client.authentication.k8s.io/v1", "spec": {"interactive": True}}
    )
    proc = subprocess.Popen(
        login_args(server, PUBLIC_CLIENT_ID, tmp_path / "cache"),
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while not url_file.exists() or not url_file.read_text():
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
            time.sleep(0.1)
        callback = login_password(
            requests.Session(), url_file.read_text(), ADMIN_EMAIL, ADMIN_PASSWORD
        )
        assert requests.get(callback, timeout=10).status_code == 200
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    run = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
    assert "browser chatter" in err
    cred = exec_credential(run)  # exactly one line of JSON on stdout
    verify_id_token(server.issuer, cred["status"]["token"], audience=PUBLIC_CLIENT_ID)


@pytest.mark.browser
def test_authcode_login_in_chromium(kube_issuer: Any, tmp_path: Path) -> None:
    from tests.chromium import CHROMIUM, chromium
    from tests.services import missing_service

    if not CHROMIUM.exists():
        missing_service("chromium", f"{CHROMIUM} is not installed")
    server = kube_issuer()
    pages: list[str] = []

    def in_chromium(url: str) -> None:
        with chromium() as browser:
            page = browser.new_page()
            page.goto(url)
            page.click('a[href*="/auth/local"]')
            page.fill("#login", ADMIN_EMAIL)
            page.fill("#password", ADMIN_PASSWORD)
            page.click("button[type=submit]")
            page.click('button[name="approval"][value="approve"]')
            page.wait_for_url("http://127.0.0.1:*/callback?**")
            pages.append(page.inner_text("body"))

    run, _ = authcode_login(
        login_args(server, PUBLIC_CLIENT_ID, tmp_path / "cache"),
        plugin_env(tmp_path),
        complete=in_chromium,
    )
    assert pages == ["You are logged in. You may close this window."]
    token = exec_credential(run)["status"]["token"]
    assert verify_id_token(server.issuer, token, audience=PUBLIC_CLIENT_ID)["email"] == ADMIN_EMAIL


def _read_until(fd: int, marker: bytes, timeout: float = 30) -> bytes:
    data = b""
    deadline = time.monotonic() + timeout
    while marker not in data:
        assert time.monotonic() < deadline, data
        ready, _, _ = select.select([fd], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            data += chunk
    return data


def test_the_password_grant_prompts_on_a_terminal(kube_issuer: Any, tmp_path: Path) -> None:
    server = kube_issuer()
    args = password_args(server, tmp_path / "cache", credentials=False)
    env = plugin_env(tmp_path)
    pid, fd = pty.fork()
    if pid == 0:  # the child: dex-py with the terminal as stdin, stdout, stderr and /dev/tty
        try:
            os.execve(args[0], args, env)
        finally:
            os._exit(127)
    try:
        _read_until(fd, b"Username: ")
        os.write(fd, ADMIN_EMAIL.encode() + b"\n")
        _read_until(fd, b"Password: ")
        os.write(fd, ADMIN_PASSWORD.encode() + b"\n")
        rest = _read_until(fd, b"}}")
    finally:
        _, status = os.waitpid(pid, 0)
        os.close(fd)
    assert os.waitstatus_to_exitcode(status) == 0, rest
    assert ADMIN_PASSWORD.encode() not in rest  # getpass does not echo it
    line = next(x for x in rest.decode().splitlines() if x.startswith('{"apiVersion"'))
    token = json.loads(line)["status"]["token"]
    assert verify_id_token(server.issuer, token, audience=EXAMPLE_CLIENT_ID)["email"] == ADMIN_EMAIL
