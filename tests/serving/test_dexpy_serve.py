"""The real ``dex-py serve`` (dex_py.cli -> dex_py.serving.server -> dex_py.app.create_app) with
SQLite in a temp dir, two workers and metrics: health, headers, metrics, graceful stop."""

from __future__ import annotations

import json
import shutil
import sys
import urllib.request
from pathlib import Path

import pytest

from tests.services import free_port

from .conftest import ServerRunner

pytestmark = [pytest.mark.live, pytest.mark.slow]


def dex_py_argv() -> list[str]:
    script = Path(sys.executable).parent / "dex-py"
    if script.exists() or shutil.which("dex-py"):
        return [str(script if script.exists() else shutil.which("dex-py"))]
    return [sys.executable, "-m", "dex_py.cli"]  # not pip-installed: same entry point


def test_dex_py_serve_sqlite(server_runner: ServerRunner, tmp_path: Path) -> None:
    port, metrics_port = free_port(), free_port()
    config = tmp_path / "config.yaml"
    config.write_text(
        f"""
issuer: http://127.0.0.1:{port}/dex
storage:
  type: sqlite3
  config:
    file: {tmp_path / "dex.db"}
web:
  http: 127.0.0.1:{port}
telemetry:
  http: 127.0.0.1:{metrics_port}
logger:
  level: info
  format: json
server:
  workers: 2
"""
    )
    run = server_runner.command(
        [*dex_py_argv(), "serve", str(config)], [port, metrics_port], tag="dexpy"
    )
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/dex/healthz", timeout=30) as resp:
        assert resp.status == 200
        assert resp.headers["X-Frame-Options"] == "DENY"
        assert resp.headers["Content-Security-Policy"]
    with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=30) as resp:
        text = resp.read().decode()
    assert 'dexpy_http_requests_total{code="200",handler="oauth.healthz",method="GET"} 1.0' in text

    assert (tmp_path / "dex.db").exists()
    assert run.stop() == 0
    lines = [json.loads(line) for line in run.log().splitlines() if line.startswith("{")]
    messages = [entry["msg"] for entry in lines]
    assert (
        f"dex-py listening on http://127.0.0.1:{port} (issuer http://127.0.0.1:{port}/dex, "
        "2 workers)" in messages
    )
    assert "database schema at revision" in " ".join(messages)
