"""Running ``dex-py kube login`` / ``setup`` and kubectl as real processes for the tests."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import requests
import yaml

from tests.kube_cli.fake_apiserver import FakeAPIServer
from tests.live import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    EXAMPLE_CLIENT_ID,
    EXAMPLE_CLIENT_SECRET,
    LiveServer,
)
from tests.login_flow import login_password
from tests.tls import CAFiles

BIN = Path(sys.executable).parent
DEX_PY = str(BIN / "dex-py")
KUBECTL = "/usr/bin/kubectl"
LOOPBACK_REDIRECT = "http://127.0.0.1/callback"
T = TypeVar("T")
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


def run_interactive(
    args: list[str],
    env: dict[str, str],
    prompt: Callable[[str], T | None],
    act: Callable[[T], None],
    *,
    stdin: Any = subprocess.DEVNULL,
) -> subprocess.CompletedProcess[str]:
    """Run an interactive login: read stderr until ``prompt(stderr so far)`` finds what the
    plugin asks for, ``act`` on it (the user's side), then wait for the process. ``env`` is
    used as given (the plugin itself needs ``KUBERNETES_EXEC_INFO`` interactive, kubectl a
    terminal as ``stdin``). The finished run, with all of stderr."""
    proc = subprocess.Popen(
        args,
        env=env,
        stdin=stdin,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    seen = ""
    found: T | None = None
    try:
        for line in proc.stderr:
            seen += line
            found = prompt(seen)
            if found is not None:
                break
        assert found is not None, seen
        act(found)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, seen + err)


def authcode_login(
    args: list[str], env: dict[str, str], *, before: Any = None, complete: Any = None
) -> tuple[subprocess.CompletedProcess[str], str]:
    """Run an authcode login with --skip-open-browser: read the URL from stderr and finish the
    login with ``complete(url)`` (default: ``http_login(url, before)``). Returns (the finished
    run, the stderr text)."""

    def url_of(text: str) -> str | None:
        lines = [line.strip() for line in text.splitlines()]
        return next((line for line in lines if line.startswith("http")), None)

    run = run_interactive(
        [*args, "--grant-type", "authcode", "--skip-open-browser"],
        {**env, "KUBERNETES_EXEC_INFO": EXEC_INFO_INTERACTIVE},
        url_of,
        complete if complete is not None else lambda url: http_login(url, before),
    )
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


DEVICE_PROMPT = re.compile(r"open (\S+) and enter the code (\S+)\nor open (\S+)\n")


@dataclass(frozen=True)
class DevicePrompt:
    """What the plugin's device flow shows on stderr."""

    verification_uri: str
    user_code: str
    verification_uri_complete: str


def device_prompt(stderr: str) -> DevicePrompt | None:
    """The device flow's prompt, once stderr holds all of it."""
    match = DEVICE_PROMPT.search(stderr)
    return DevicePrompt(*match.groups()) if match else None


def cluster(
    server: LiveServer,
    api: FakeAPIServer,
    api_ca: CAFiles,
    tmp_path: Path,
    client_id: str,
    *plugin_args: str,
) -> tuple[Path, dict[str, Any]]:
    """Start ``api`` with the flags ``kube setup`` prints for ``client_id``; the kubeconfig it
    prints (the plugin's args extended by ``plugin_args``), written to a file, and all of
    setup's output."""
    setup = kube_setup(
        server.config_path,
        "--client-id",
        client_id,
        "--server",
        api.url,
        "--server-certificate-authority",
        str(api_ca.ca_pem),
    )
    api.start(setup["apiServerFlags"])
    config = setup["kubeconfig"]
    config["users"][0]["user"]["exec"]["args"] += list(plugin_args)
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(config))
    return path, setup
