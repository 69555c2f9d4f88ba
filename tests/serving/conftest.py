"""Fixtures for the serving tests: root-logger isolation, a self-signed certificate, and a
runner that starts a real server (``tests.serving.standin`` or ``dex-py serve``, either engine)
and stops it."""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.tls import CertPair, self_signed_cert

REPO = Path(__file__).resolve().parents[2]
START_DEADLINE = 60.0


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """Put the root and gunicorn loggers back as they were after a test reconfigures them."""
    loggers = [logging.getLogger(n) for n in ("", "gunicorn.error", "gunicorn.access", "alembic")]
    saved = [(lg, list(lg.handlers), lg.level, lg.propagate) for lg in loggers]
    yield
    for lg, handlers, level, propagate in saved:
        lg.handlers[:] = handlers
        lg.setLevel(level)
        lg.propagate = propagate


@pytest.fixture
def tls_pair(tmp_path: Path) -> CertPair:
    return self_signed_cert(tmp_path)


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


@dataclass
class Running:
    proc: subprocess.Popen[bytes]
    log_path: Path
    marker_dir: Path
    ports: list[int] = field(default_factory=list)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def markers(self, name: str) -> list[int]:
        path = self.marker_dir / name
        return [int(x) for x in path.read_text().split()] if path.exists() else []

    def stop(self) -> int:
        """SIGTERM (graceful shutdown) and wait; returns the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=60)


class ServerRunner:
    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.running: list[Running] = []

    def _start(self, argv: list[str], ports: list[int], marker_dir: Path, tag: str) -> Running:
        log_path = self.tmp_path / f"{tag}.log"
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        with log_path.open("wb") as out:
            proc = subprocess.Popen(
                argv,
                cwd=REPO,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,  # its own process group, so cleanup reaches workers
            )
        run = Running(proc, log_path, marker_dir, ports)
        self.running.append(run)
        deadline = time.monotonic() + START_DEADLINE
        while not all(_accepts(p) for p in ports):
            if proc.poll() is not None:
                pytest.fail(f"server exited with {proc.returncode}:\n{run.log()}")
            if time.monotonic() > deadline:
                pytest.fail(f"server did not start listening on {ports}:\n{run.log()}")
            time.sleep(0.05)
        return run

    def standin(self, ports: list[int], **params: Any) -> Running:
        """Run ``dex_py.serving.run.serve`` with the stand-in app; ``ports`` are waited for."""
        marker_dir = self.tmp_path / f"markers{len(self.running)}"
        marker_dir.mkdir()
        params_path = self.tmp_path / f"params{len(self.running)}.json"
        params_path.write_text(json.dumps({"marker_dir": str(marker_dir), **params}))
        argv = [sys.executable, "-m", "tests.serving.standin", str(params_path)]
        return self._start(argv, ports, marker_dir, f"standin{len(self.running)}")

    def command(self, argv: list[str], ports: list[int], tag: str) -> Running:
        """Run any server command (the real ``dex-py serve CONFIG``)."""
        return self._start(argv, ports, self.tmp_path, f"{tag}{len(self.running)}")

    def close(self) -> None:
        for run in self.running:
            if run.proc.poll() is None:
                os.killpg(run.proc.pid, signal.SIGKILL)
                run.proc.wait(timeout=30)


@pytest.fixture
def server_runner(tmp_path: Path) -> Iterator[ServerRunner]:
    runner = ServerRunner(tmp_path)
    yield runner
    runner.close()
