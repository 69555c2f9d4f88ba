"""A throwaway single-member etcd for tests: started from the ``etcd`` binary (Debian
``etcd-server``) on free loopback ports with its data in a temporary directory, stopped by its
pid; with ``EtcdTLS``, on HTTPS requiring a client certificate. ``DEXPY_TEST_ETCD_URL`` points
the tests at a running etcd instead (nothing is started). Without either, ``missing_service``
skips (locally) or fails (CI).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from tests.services import free_port, missing_service

STARTUP_SECONDS = 30


@dataclass(frozen=True)
class EtcdTLS:
    """PEM files: the server's key pair and the CA that signed it, and the client key pair that
    ``client_ca`` (etcd's ``--trusted-ca-file``) accepts."""

    server_cert: Path
    server_key: Path
    server_ca: Path
    client_cert: Path
    client_key: Path
    client_ca: Path

    def args(self) -> list[str]:
        return [
            f"--cert-file={self.server_cert}",
            f"--key-file={self.server_key}",
            "--client-cert-auth",
            f"--trusted-ca-file={self.client_ca}",
        ]

    def requests_kwargs(self) -> dict[str, Any]:
        return {
            "verify": str(self.server_ca),
            "cert": (str(self.client_cert), str(self.client_key)),
        }


def _healthy(url: str, **kwargs: Any) -> bool:
    try:
        answer = requests.get(f"{url}/health", timeout=1, **kwargs)
        return answer.ok and answer.json().get("health") == "true"
    except (requests.RequestException, ValueError):
        return False


@contextlib.contextmanager
def etcd_server(data_dir: Path, tls: EtcdTLS | None = None) -> Iterator[str]:
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
    scheme = "https" if tls else "http"
    url, peer_url = f"{scheme}://127.0.0.1:{client}", f"http://127.0.0.1:{peer}"
    health = tls.requests_kwargs() if tls else {}
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
            *(tls.args() if tls else []),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while not _healthy(url, **health):
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
