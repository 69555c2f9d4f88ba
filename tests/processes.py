"""Starting and stopping servers in tests, each in its own process group (the deploy tests, the
proxy walk-through)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import requests

STARTUP_TIMEOUT = 60.0


def wait_until_ok(
    urls: list[str], process: subprocess.Popen[bytes], log: Path, **request_args: Any
) -> None:
    """Poll each URL in turn until it answers 200; fail with the log's tail if the process
    exits or the time runs out."""
    deadline = time.monotonic() + STARTUP_TIMEOUT
    pending = list(urls)
    while pending and time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"exited {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if requests.get(pending[0], timeout=2, **request_args).status_code == 200:
                pending.pop(0)
                continue
        except requests.RequestException:
            pass
        time.sleep(0.2)
    if pending:
        pytest.fail(f"{pending[0]} not answering:\n{log.read_text()[-3000:]}")


def stop_group(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the process group, then SIGKILL if it has not ended in 30 s."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)
