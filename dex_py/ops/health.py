"""Health endpoints: ``/healthz`` (Dex's: storage works), ``/healthz/live`` (the process
answers) and ``/healthz/ready`` (storage answers and every connector is open)."""

from __future__ import annotations

import logging

from flask import jsonify
from werkzeug import Response

from dex_py.services import services

log = logging.getLogger("dex_py.oauth.health")  # the name before the move


def _storage_ok() -> str:
    try:
        services().storage.ping()
    except Exception as exc:
        log.warning("storage health check failed: %s", type(exc).__name__)
        return "unavailable"
    return "ok"


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
    storage = _storage_ok()
    manager = services().connectors
    connectors = {e.id: ("ok" if manager.healthy(e) else "unavailable") for e in manager.all()}
    ready = storage == "ok" and all(v == "ok" for v in connectors.values())
    resp = jsonify({"ready": ready, "storage": storage, "connectors": connectors})
    resp.status_code = 200 if ready else 503
    resp.headers["Cache-Control"] = "no-store"
    return resp
