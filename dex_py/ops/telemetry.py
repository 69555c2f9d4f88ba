"""The telemetry listener (``telemetry.http``, Dex's key): metrics and probes for Prometheus and
the kubelet, apart from the issuer's own port.

Paths, as Dex serves them there:

- ``/metrics``: the Prometheus text format of every worker's metrics (multi-process
  aggregation, ``dex_py.ops.metrics``);
- ``/healthz/live``: ``ok`` while the process answers (a liveness probe that fails only when
  the server is wedged);
- ``/healthz/ready`` and ``/healthz``: 200 when the storage answers and holds a signing key,
  else 503, with a small JSON body saying which (``ready``, ``storage``, ``keys``);
- anything else: 404, so a probe pointed at a wrong path fails instead of reading metrics.

It runs in the engine's master process, which has no app: each readiness probe opens the
storage, asks, and closes it again (no connection is kept that a forked worker could inherit).
The memory storage lives inside each worker, so the master cannot look into it: it is reported
as ``"memory (per worker)"`` and counted ready.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from dex_py.config import StorageConfig
from dex_py.ops.metrics import parse_address
from dex_py.storage.base import NotFoundError, Storage

log = logging.getLogger("dex_py.telemetry")

ReadyCheck = Callable[[], dict[str, Any]]


def storage_readiness(cfg: StorageConfig) -> ReadyCheck:
    """A readiness check for the storage of ``cfg`` (see the module docstring)."""

    def check() -> dict[str, Any]:
        if cfg.type == "memory":
            return {"ready": True, "storage": "memory (per worker)"}
        from dex_py.storage import open_storage

        try:
            storage = open_storage(cfg, migrate=False)
        except Exception as exc:
            log.warning("readiness: storage unavailable: %s", type(exc).__name__)
            return {"ready": False, "storage": "unavailable"}
        try:
            storage.ping()
            has_key = _has_signing_key(storage)
        except Exception as exc:
            log.warning("readiness: storage unavailable: %s", type(exc).__name__)
            return {"ready": False, "storage": "unavailable"}
        finally:
            storage.close()
        return {"ready": has_key, "storage": "ok", "keys": "ok" if has_key else "none yet"}

    return check


def _has_signing_key(storage: Storage) -> bool:
    try:
        return bool(storage.get_keys().signing_key)
    except NotFoundError:
        return False


def _handler(ready: ReadyCheck) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                registry = CollectorRegistry()
                MultiProcessCollector(registry)
                self._send(200, CONTENT_TYPE_LATEST, generate_latest(registry))
            elif path == "/healthz/live":
                self._send(200, "text/plain; charset=utf-8", b"ok")
            elif path in ("/healthz", "/healthz/ready"):
                result = ready()
                body = json.dumps(result).encode()
                self._send(200 if result["ready"] else 503, "application/json", body)
            else:
                self._send(404, "text/plain; charset=utf-8", b"404 page not found\n")

        def _send(self, status: int, content_type: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            log.debug("telemetry: " + format, *args)

    return Handler


def start_telemetry_server(
    address: str, ready: ReadyCheck, draining: Callable[[], bool] | None = None
) -> ThreadingHTTPServer:
    """Serve the paths above on ``address`` from a daemon thread; returns the server (forked
    workers close their copy of its socket; the master calls ``shutdown()``). While
    ``draining()`` is true (after SIGTERM) readiness is 503, as on the issuer's port."""
    host, port = parse_address(address)

    def check() -> dict[str, Any]:
        if draining is not None and draining():
            return {"ready": False, "draining": True}
        return ready()

    server = ThreadingHTTPServer((host, port), _handler(check))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="dex-py-telemetry", daemon=True)
    thread.start()
    return server
