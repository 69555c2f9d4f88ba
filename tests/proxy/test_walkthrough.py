"""docs/proxy.md's walk-through, as written: the issuer on ``config.example.yaml`` (what ``make
run`` serves), a static app on port 8080, ``dex-py proxy proxy.example.yaml`` with the two
variables the guide exports; the team ``admins`` gets the page, signs out, and someone outside
the team (the "Example" connector's user) gets 403. It runs on the example files' own ports."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
import requests

from tests.live import REPO_ROOT, _dex_py_command
from tests.processes import stop_group, wait_until_ok
from tests.proxy.live_proxy import browser_login
from tests.services import missing_service, port_open

pytestmark = [pytest.mark.live, pytest.mark.slow, pytest.mark.xdist_group("example_ports")]

PROXY = "http://127.0.0.1:4180"
ISSUER = "http://127.0.0.1:5556/dex"
PORTS = (5556, 5558, 4180, 4181, 8080)


@contextlib.contextmanager
def _started(
    cmd: list[str], cwd: Path, log: Path, env: dict[str, str]
) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        process = subprocess.Popen(
            cmd, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
    try:
        yield process
    finally:
        stop_group(process)


def test_the_guide_from_make_run_to_a_page_only_the_team_opens(tmp_path: Path) -> None:
    taken = [port for port in PORTS if port_open("127.0.0.1", port)]
    if taken:
        missing_service("the example ports", f"already in use: {taken}")
    shutil.copy(REPO_ROOT / "config.example.yaml", tmp_path / "config.yaml")
    (tmp_path / "var").mkdir()
    app_dir = tmp_path / "app"
    app_dir.mkdir()
    (app_dir / "index.html").write_text("<h1>admins only</h1>\n")
    env = {
        **os.environ,
        "DEXPY_PROXY_CLIENT_SECRET": "ZGV4LXB5LXByb3h5LXNlY3JldA",
        "DEXPY_PROXY_COOKIE_SECRET": "walkthrough-cookie-secret-0123456789abcdef",
    }
    issuer_cmd = [*_dex_py_command(), "serve", "config.yaml"]
    app_cmd = [sys.executable, "-m", "http.server", "8080", "--bind", "127.0.0.1"]
    proxy_cmd = [*_dex_py_command(), "proxy", str(REPO_ROOT / "proxy.example.yaml")]
    with (
        _started(issuer_cmd, tmp_path, tmp_path / "issuer.log", env) as issuer,
        _started(app_cmd, app_dir, tmp_path / "app.log", env) as app,
    ):
        wait_until_ok([ISSUER + "/healthz"], issuer, tmp_path / "issuer.log")
        wait_until_ok(["http://127.0.0.1:8080/"], app, tmp_path / "app.log")
        with _started(proxy_cmd, REPO_ROOT, tmp_path / "proxy.log", env) as proxy:
            wait_until_ok([PROXY + "/ready"], proxy, tmp_path / "proxy.log")
            target = SimpleNamespace(url=PROXY)
            admin, answer = browser_login(target, rd="/")  # type: ignore[arg-type]
            assert answer.status_code == 302 and answer.headers["Location"] == "/"
            page = admin.get(PROXY + "/", timeout=10)
            assert page.status_code == 200 and "admins only" in page.text
            me = admin.get(PROXY + "/oauth2/userinfo", timeout=10).json()
            assert me["email"] == "admin@example.com" and "admins" in me["groups"]

            admin.get(PROXY + "/oauth2/sign_out", timeout=10)  # ends the login at the issuer too
            signed_out = admin.get(
                PROXY + "/", headers={"Accept": "text/html"}, allow_redirects=False
            )
            assert signed_out.status_code == 302  # a browser is sent to log in again
            assert signed_out.headers["Location"].startswith("/oauth2/start")
            outsider, answer = browser_login(  # type: ignore[arg-type]
                target, rd="/", credentials=None, chooser="/auth/mock"
            )
            assert answer.status_code == 302
            assert outsider.get(PROXY + "/", timeout=10).status_code == 403
            # /healthz skips authentication: the app itself answers (http.server has no such file)
            assert requests.get(PROXY + "/healthz", timeout=10).status_code == 404
