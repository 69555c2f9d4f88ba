"""A throwaway single-member etcd for tests: started from the ``etcd`` binary (Debian
``etcd-server``) on free loopback ports with its data in a temporary directory, stopped by its
pid. ``DEXPY_TEST_ETCD_URL`` points the tests at a running etcd instead (nothing is started).
Without either, ``missing_service`` skips (locally) or fails (CI).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import requests

from tests.services import free_port, missing_service

STARTUP_SECONDS = 30


def _healthy(url: str) -> bool:
    try:
        answer = requests.get(f"{url}/health", timeout=1)
        return answer.ok and answer.json().get("health") == "true"
    except (requests.RequestException, ValueError):
        return False


@contextlib.contextmanager
def etcd_server(data_dir: Path) -> Iterator[str]:
    """Yield the client URL of an etcd of the caller's own (or of ``DEXPY_TEST_ETCD_URL``)."""
    external = os.environ.get("DEXPY_TEST_ETCD_URL")
    if external:
        if not _healthy(external):
            missing_service("etcd", f"DEXPY_TEST_ETCD_URL={external} is not healthy")
        yield external
        return
    binary = shutil.which("etcd")
    if binary is None:
        missing_service("etcd", "no etcd binary on PATH (Debian package etcd-server)")
    client, peer = free_port(), free_port()
    url, peer_url = f"http://127.0.0.1:{client}", f"http://127.0.0.1:{peer}"
    data_dir.mkdir(parents=True, exist_ok=True)
    log = (data_dir / "etcd.log").open("wb")
    process = subprocess.Popen(
        [
            binary,
            "--name=test",
            f"--data-dir={data_dir / 'data'}",
            f"--listen-client-urls={url}",
            f"--advertise-client-urls={url}",
            f"--listen-peer-urls={peer_url}",
            f"--initial-advertise-peer-urls={peer_url}",
            f"--initial-cluster=test={peer_url}",
            "--unsafe-no-fsync",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while not _healthy(url):
            if process.poll() is not None or time.monotonic() > deadline:
                tail = (data_dir / "etcd.log").read_text(errors="replace")[-800:]
                missing_service("etcd", f"did not start: {tail}")
            time.sleep(0.1)
        yield url
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
