"""Running ``dex-py kube login`` / ``setup`` and kubectl as real processes for the tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import requests

from tests.live import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    EXAMPLE_CLIENT_ID,
    EXAMPLE_CLIENT_SECRET,
    LiveServer,
)
from tests.login_flow import login_password

BIN = Path(sys.executable).parent
DEX_PY = str(BIN / "dex-py")
KUBECTL = "/usr/bin/kubectl"
LOOPBACK_REDIRECT = "http://127.0.0.1/callback"
EXEC_INFO_INTERACTIVE = json.dumps(
    {
        "apiVersion": "client.authentication.k8s.io/v1",
        "kind": "ExecCredential",
        "spec": {"interactive": True},
    }
)


def plugin_env(home: Path, **extra: str) -> dict[str, str]:
    """The environment kubectl would give the plugin: our venv first on PATH, HOME in tmp."""
    hidden = ("KUBERNETES_EXEC_INFO", "DISPLAY", "WAYLAND_DISPLAY", "BROWSER")  # no desktop
    env = {k: v for k, v in os.environ.items() if k not in hidden}
    env.update(PATH=f"{BIN}:{env.get('PATH', '/usr/bin:/bin')}", HOME=str(home), **extra)
    return env


def login_args(server: LiveServer, client_id: str, cache: Path, *extra: str) -> list[str]:
    return [
        DEX_PY,
        "kube",
        "login",
        "--issuer",
        server.issuer,
        "--client-id",
        client_id,
        "--token-cache-dir",
        str(cache),
        *extra,
    ]


def password_args(server: LiveServer, cache: Path, *, credentials: bool = True) -> list[str]:
    """The plugin as the confidential ``example-app`` with the password grant (and the admin's
    username and password unless ``credentials`` is false)."""
    args = login_args(
        server,
        EXAMPLE_CLIENT_ID,
        cache,
        "--client-secret",
        EXAMPLE_CLIENT_SECRET,
        "--grant-type",
        "password",
    )
    if credentials:
        args += ["--username", ADMIN_EMAIL, "--password", ADMIN_PASSWORD]
    return args


def run_login(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args, env=env, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL
    )


def exec_credential(run: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    """The ExecCredential on stdout; stdout must hold nothing else."""
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert len(lines) == 1, run.stdout
    cred: dict[str, Any] = json.loads(lines[0])
    return cred


def http_login(url: str, before: Any = None) -> None:
    """Log in at ``url`` as the admin over HTTP and deliver the redirect to the plugin's
    loopback listener; ``before(callback)`` runs first (e.g. to send a forged redirect)."""
    callback = login_password(requests.Session(), url, ADMIN_EMAIL, ADMIN_PASSWORD)
    if before is not None:
        before(callback)
    page = requests.get(callback, timeout=10)
    assert page.status_code == 200, page.text


def authcode_login(
    args: list[str], env: dict[str, str], *, before: Any = None, complete: Any = None
) -> tuple[subprocess.CompletedProcess[str], str]:
    """Run an authcode login with --skip-open-browser: read the URL from stderr and finish the
    login with ``complete(url)`` (default: ``http_login(url, before)``). Returns (the finished
    run, the stderr text)."""
    proc = subprocess.Popen(
        [*args, "--grant-type", "authcode", "--skip-open-browser"],
        env={**env, "KUBERNETES_EXEC_INFO": EXEC_INFO_INTERACTIVE},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    seen = []
    url = ""
    try:
        for line in proc.stderr:
            seen.append(line)
            if line.strip().startswith("http"):
                url = line.strip()
                break
        assert url, "".join(seen)
        if complete is not None:
            complete(url)
        else:
            http_login(url, before)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    run = subprocess.CompletedProcess(proc.args, proc.returncode, out, "".join(seen) + err)
    return run, run.stderr


def kube_setup(config: Path, *args: str) -> dict[str, Any]:
    run = subprocess.run(
        [DEX_PY, "kube", "setup", str(config), *args, "--output", "json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    data: dict[str, Any] = json.loads(run.stdout)
    return data


def kubectl(kubeconfig: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [KUBECTL, "--kubeconfig", str(kubeconfig), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
        stdin=subprocess.DEVNULL,
        check=False,
    )
