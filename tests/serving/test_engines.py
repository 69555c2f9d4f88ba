"""A real server started by ``dex_py.serving.run.serve`` (stand-in app), on each engine (Granian,
the default, and gunicorn): TLS versions, HTTP and HTTPS side by side, multi-process metrics,
housekeeping threads, SIGTERM."""

from __future__ import annotations

import http.client
import json
import re
import socket
import ssl
import time
import urllib.request
import warnings
from pathlib import Path
from typing import Any

import pytest

from tests.services import free_port
from tests.tls import CertPair, self_signed_cert

from .conftest import Running, ServerRunner

pytestmark = [pytest.mark.live, pytest.mark.slow]

# OpenSSL (gunicorn) alerts protocol_version; rustls (Granian) alerts handshake_failure.
REFUSED_VERSION = r"ALERT_PROTOCOL_VERSION|ALERT_HANDSHAKE_FAILURE"


@pytest.fixture(params=["granian", "gunicorn"])
def engine(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def tls_client(cert: CertPair, version: ssl.TLSVersion) -> ssl.SSLContext:
    """A client context that speaks exactly ``version`` (old versions re-enabled on purpose,
    so a refusal comes from the server and not from the client's own policy)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(cafile=str(cert.cert))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
        ctx.minimum_version = version
        ctx.maximum_version = version
    return ctx


def https_get(port: int, ctx: ssl.SSLContext, path: str = "/dex/whoami") -> tuple[int, Any, Any]:
    conn = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=30)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        body = resp.read()
        return resp.status, resp.headers, body
    finally:
        conn.close()


def http_get(port: int, path: str = "/dex/whoami") -> tuple[int, Any, bytes]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=30) as resp:
        return resp.status, resp.headers, resp.read()


def handshake_error(port: int, ctx: ssl.SSLContext) -> str:
    with socket.create_connection(("127.0.0.1", port), timeout=30) as raw:
        try:
            with ctx.wrap_socket(raw, server_hostname="127.0.0.1"):
                return ""
        except ssl.SSLError as exc:
            return str(exc)


def test_https_refuses_tls11_and_serves_tls12(
    engine: str, server_runner: ServerRunner, tls_pair: CertPair
) -> None:
    port = free_port()
    run = server_runner.standin(
        engine=engine,
        ports=[port],
        issuer=f"https://127.0.0.1:{port}/dex",
        https=f"127.0.0.1:{port}",
        tls_cert=str(tls_pair.cert),
        tls_key=str(tls_pair.key),
    )
    error = handshake_error(port, tls_client(tls_pair, ssl.TLSVersion.TLSv1_1))
    assert re.search(REFUSED_VERSION, error), error

    status, headers, body = https_get(port, tls_client(tls_pair, ssl.TLSVersion.TLSv1_2))
    assert status == 200
    assert json.loads(body)["scheme"] == "https"
    assert headers["Strict-Transport-Security"].startswith("max-age=")
    assert headers["X-Frame-Options"] == "DENY"

    assert f"dex-py listening on https://127.0.0.1:{port}" in run.log()
    assert run.stop() == 0
    assert "dex-py stopped" in run.log()


def test_tls_min_version_13_refuses_tls12(
    engine: str, server_runner: ServerRunner, tls_pair: CertPair
) -> None:
    port = free_port()
    server_runner.standin(
        engine=engine,
        ports=[port],
        https=f"127.0.0.1:{port}",
        tls_cert=str(tls_pair.cert),
        tls_key=str(tls_pair.key),
        tls_min_version="1.3",
    )
    error = handshake_error(port, tls_client(tls_pair, ssl.TLSVersion.TLSv1_2))
    assert re.search(REFUSED_VERSION, error), error
    status, _, _ = https_get(port, tls_client(tls_pair, ssl.TLSVersion.TLSv1_3))
    assert status == 200


def test_http_and_https_side_by_side(
    engine: str, server_runner: ServerRunner, tls_pair: CertPair
) -> None:
    http_port, https_port = free_port(), free_port()
    run = server_runner.standin(
        engine=engine,
        ports=[http_port, https_port],
        http=f"127.0.0.1:{http_port}",
        https=f"127.0.0.1:{https_port}",
        tls_cert=str(tls_pair.cert),
        tls_key=str(tls_pair.key),
    )
    status, headers, body = http_get(http_port)
    assert status == 200 and json.loads(body)["scheme"] == "http"
    assert "Strict-Transport-Security" not in headers

    status, _, body = https_get(https_port, tls_client(tls_pair, ssl.TLSVersion.TLSv1_3))
    assert status == 200 and json.loads(body)["scheme"] == "https"

    # Plain HTTP on the TLS port gets no HTTP answer.
    with pytest.raises((http.client.HTTPException, OSError)):
        http_get(https_port)
    log = run.log()
    assert f"https://127.0.0.1:{https_port}, http://127.0.0.1:{http_port}" in log
    assert run.stop() == 0


def _metric(text: str, name: str, labels: str) -> float:
    match = re.search(rf"^{re.escape(name)}\{{{re.escape(labels)}\}} (\S+)$", text, re.M)
    return float(match.group(1)) if match else 0.0


def _sorted_labels(**labels: str) -> str:
    return ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))


def _get(port: int, path: str) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def test_two_workers_metrics_migrations_and_housekeeping(
    engine: str, server_runner: ServerRunner
) -> None:
    port, metrics_port = free_port(), free_port()
    run: Running = server_runner.standin(
        engine=engine,
        ports=[port, metrics_port],
        http=f"127.0.0.1:{port}",
        telemetry=f"127.0.0.1:{metrics_port}",
        storage="sqlite3",
        workers=2,
        gc_seconds=3600,
    )
    # Requests until both workers have answered (sync workers close every connection).
    pids: set[int] = set()
    sent = 0
    while len(pids) < 2 and sent < 500:
        pids.add(json.loads(http_get(port)[2])["pid"])
        sent += 1
    assert len(pids) == 2, "only one worker ever answered"

    with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=30) as resp:
        text = resp.read().decode()
    labels = _sorted_labels(code="200", handler="whoami", method="GET")
    assert _metric(text, "dexpy_http_requests_total", labels) == sent
    assert "dexpy_build_info" in text
    # The probes beside the metrics (dex_py.ops.telemetry): the stand-in's storage section names
    # no database file, so the probe cannot open it and says not ready; other paths are 404.
    assert _get(metrics_port, "/healthz/live") == (200, b"ok")
    status, body = _get(metrics_port, "/healthz/ready")
    assert (status, json.loads(body)) == (503, {"ready": False, "storage": "unavailable"})
    assert _get(metrics_port, "/favicon.ico")[0] == 404

    # Migrations ran once, in the master; each worker started its housekeeping thread.
    assert run.markers("migrations") == [run.proc.pid]
    deadline = time.monotonic() + 30
    while set(run.markers("housekeeping")) != pids and time.monotonic() < deadline:
        time.sleep(0.05)
    assert set(run.markers("housekeeping")) == pids
    assert "(issuer http://127.0.0.1:5556/dex, 2 workers)" in run.log()
    assert run.stop() == 0


def test_memory_storage_forces_one_worker_and_warns(
    engine: str, server_runner: ServerRunner
) -> None:
    port = free_port()
    run = server_runner.standin(
        engine=engine,
        ports=[port],
        http=f"127.0.0.1:{port}",
        issuer="http://idp.example.com/dex",
        workers=3,
    )
    assert http_get(port, "/dex/healthz")[0] == 200
    log = run.log()
    assert "1 worker)" in log
    assert "storage type is memory" in log
    assert "plain HTTP on a non-loopback host" in log
    assert run.stop() == 0


def served_certificate(port: int) -> bytes:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with (
        socket.create_connection(("127.0.0.1", port), timeout=30) as raw,
        ctx.wrap_socket(raw) as tls,
    ):
        der = tls.getpeercert(binary_form=True)
    assert der is not None
    return der


def test_changed_certificate_is_served_without_restart(
    engine: str, server_runner: ServerRunner, tmp_path: Path
) -> None:
    pair = self_signed_cert(tmp_path)
    port = free_port()
    run = server_runner.standin(
        engine=engine,
        ports=[port],
        https=f"127.0.0.1:{port}",
        tls_cert=str(pair.cert),
        tls_key=str(pair.key),
    )
    first = served_certificate(port)
    rotated = tmp_path / "rotated"
    rotated.mkdir()
    new = self_signed_cert(rotated)
    new.key.replace(pair.key)  # as cert-manager does: new files under the same names
    new.cert.replace(pair.cert)
    expected = ssl.PEM_cert_to_DER_cert(pair.cert.read_text())
    assert expected != first
    # Granian starts a new worker before stopping the old one: both answer for a moment.
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if all(served_certificate(port) == expected for _ in range(10)):
            break
        time.sleep(0.5)
    assert [served_certificate(port) for _ in range(10)] == [expected] * 10
    assert run.proc.poll() is None
    assert run.stop() == 0
