"""Dex's command line on ``dex-py serve``: ``--web-http-addr``, ``--web-https-addr``,
``--telemetry-addr`` and ``--grpc-addr`` replace their keys of the config file (checked like the
file's own values), the probes on the telemetry listener, and ``dex-py version``."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import requests
import yaml

from tests.live import REPO_ROOT, LiveServer, default_config
from tests.services import free_port


def _dex_py(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [_script(), *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def _script() -> str:
    return str(Path(sys.executable).parent / "dex-py")


def test_address_flags_replace_the_config(make_live_server: Callable[..., LiveServer]) -> None:
    """The file says web.http is a port nobody serves on; the flag moves the server to the
    issuer's port (the harness only sees it healthy there), and telemetry onto its own."""
    port, unused, telemetry = free_port(), free_port(), free_port()
    server = make_live_server(
        {"web": {"http": f"127.0.0.1:{unused}"}, "telemetry": None},
        port=port,
        extra_args=[
            "--web-http-addr",
            f"127.0.0.1:{port}",
            "--telemetry-addr",
            f"127.0.0.1:{telemetry}",
        ],
    )
    assert requests.get(server.url("/.well-known/openid-configuration"), timeout=5).ok
    metrics = requests.get(f"http://127.0.0.1:{telemetry}/metrics", timeout=5)
    assert metrics.status_code == 200 and "dexpy_" in metrics.text
    # the probes on the telemetry listener, as Dex serves them there
    ready = requests.get(f"http://127.0.0.1:{telemetry}/healthz/ready", timeout=10)
    assert ready.status_code == 200
    assert ready.json() == {"ready": True, "storage": "ok", "keys": "ok"}
    live = requests.get(f"http://127.0.0.1:{telemetry}/healthz/live", timeout=5)
    assert (live.status_code, live.text) == (200, "ok")
    assert requests.get(f"http://127.0.0.1:{telemetry}/", timeout=5).status_code == 404
    try:
        requests.get(f"http://127.0.0.1:{unused}/dex/healthz", timeout=2)
    except requests.ConnectionError:
        pass
    else:
        raise AssertionError("the config file's web.http should not be served")


def test_a_bad_flag_value_is_a_config_error(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(default_config(free_port(), tmp_path)))
    result = _dex_py("serve", str(config), "--web-http-addr", "nowhere")
    assert result.returncode == 1
    assert "web.http: must be host:port" in result.stderr
    assert "Traceback" not in result.stderr


def test_version() -> None:
    result = _dex_py("version")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("dex-py Version: ") and lines[0].split(": ")[1]
    assert lines[1] == f"Python Version: {sys.version.split()[0]}"
