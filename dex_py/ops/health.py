"""Health endpoints on the issuer's port: ``/healthz`` (Dex's: storage works),
``/healthz/live`` (the process answers) and ``/healthz/ready`` (storage answers and a signing
key is loaded). Connectors are reported in ``/healthz/ready``'s details but do not make the
server unready: one unreachable upstream (say github.com) must not take every login of every
other connector out of the load balancer. Each probe that finds a connector unavailable counts
``dexpy_connector_unavailable_total{connector}``. The telemetry listener serves the same
probes (``dex_py.ops.telemetry``)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from flask import jsonify
from werkzeug import Response

from dex_py.ops.metrics import count_event
from dex_py.services import services

log = logging.getLogger("dex_py.oauth.health")  # the name before the move


def _check(what: str, probe: Callable[[], object]) -> str:
    try:
        probe()
    except Exception as exc:
        log.warning("%s health check failed: %s", what, type(exc).__name__)
        return "unavailable"
    return "ok"


def _storage_ok() -> str:
    return _check("storage", services().storage.ping)


def _keys_ok() -> str:
    return _check("signing key", services().keys.signer)


def healthz_view() -> Response:
    status = _storage_ok()
    resp = jsonify({"storage": status})
    resp.status_code = 200 if status == "ok" else 503
    resp.headers["Cache-Control"] = "no-store"
    return resp


def live_view() -> Response:
    resp = jsonify({"status": "ok"})
    resp.headers["Cache-Control"] = "no-store"
    return resp


def ready_view() -> Response:
    svc = services()
    storage = _storage_ok()
    keys = _keys_ok()
    manager = svc.connectors
    connectors = {e.id: ("ok" if manager.healthy(e) else "unavailable") for e in manager.all()}
    for connector_id, state in connectors.items():
        if state != "ok":
            count_event("dexpy_connector_unavailable_total", connector=connector_id)
    ready = storage == "ok" and keys == "ok"
    body = {"ready": ready, "storage": storage, "keys": keys, "connectors": connectors}
    resp = jsonify(body)
    resp.status_code = 200 if ready else 503
    resp.headers["Cache-Control"] = "no-store"
    return resp
