"""Prometheus metrics: per-request counter and latency histogram, build info, event counters,
and the multi-process plumbing for gunicorn.

``init_metrics(app, telemetry)`` installs two cheap hooks (a ``perf_counter`` in the WSGI
environ before the request, one cached counter/histogram child update after it) when
``telemetry.http`` is set; otherwise it does nothing. Labels: ``handler`` (the Flask endpoint
name, ``none`` when no route matched), ``method`` (known methods, else ``other``), ``code``.

Under gunicorn every worker writes its samples to files in ``PROMETHEUS_MULTIPROC_DIR``
(prometheus_client's multiprocess mode): ``dex_py.serving.server`` calls
``prepare_multiprocess()`` in the master before any metric exists, ``mark_process_dead(pid)``
when a worker exits, and the master serves the aggregated view on ``telemetry.http``
(``dex_py.ops.telemetry``, with the probes).

``count_event(name, **labels)`` counts domain events (logins, issued tokens, refresh-token reuse);
it is a no-op while metrics are off.
"""

from __future__ import annotations

import os
import platform
import shutil
import tempfile
from dataclasses import dataclass, field
from time import perf_counter
from typing import Any

from flask import Flask, Response, request
from prometheus_client import Counter, Gauge, Histogram
from prometheus_client import values as prometheus_values
from prometheus_client.multiprocess import mark_process_dead as _mark_process_dead

from dex_py import __version__
from dex_py.config import TelemetryConfig

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
_START_KEY = "dex_py.metrics.start"
OBSERVE_EXTENSION = "dex_py.ops.metrics.observe"
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

# Domain events the app may count: name -> (help text, label names).
EVENTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "dexpy_logins_total": ("Login attempts by connector and result.", ("connector", "result")),
    "dexpy_tokens_issued_total": ("Tokens issued by grant type.", ("grant_type",)),
    "dexpy_refresh_reuse_detected_total": ("Stale refresh tokens presented (chain revoked).", ()),
    "dexpy_login_locks_total": (
        "Brute-force limits reached (bruteForce), by limit.",
        ("limit",),
    ),
    "dexpy_connector_unavailable_total": (
        "Readiness probes that found a connector unavailable (it does not make dex-py unready).",
        ("connector",),
    ),
    "dexpy_connector_check_revoked_total": (
        "Refresh chains revoked by the connector check (user gone or claims narrowed).",
        (),
    ),
    "dexpy_tokenreviews_total": ("TokenReview webhook answers by result.", ("result",)),
}


@dataclass
class _Metrics:
    requests: Counter
    duration: Histogram
    build_info: Gauge
    events: dict[str, Counter]
    children: dict[tuple[str, str, int], tuple[Any, Any]] = field(default_factory=dict)


_metrics: _Metrics | None = None


def _create_metrics() -> _Metrics:
    requests = Counter(
        "dexpy_http_requests_total", "HTTP requests handled.", ("handler", "method", "code")
    )
    duration = Histogram(
        "dexpy_http_request_duration_seconds",
        "Time spent handling HTTP requests (in the Flask app).",
        ("handler", "method"),
        buckets=BUCKETS,
    )
    build_info = Gauge(
        "dexpy_build_info",
        "dex-py build information (always 1).",
        ("version", "python"),
        multiprocess_mode="max",
    )
    build_info.labels(__version__, platform.python_version()).set(1)
    events = {name: Counter(name, doc, labels) for name, (doc, labels) in EVENTS.items()}
    return _Metrics(requests, duration, build_info, events)


def _get_metrics() -> _Metrics:
    global _metrics
    if _metrics is None:
        _metrics = _create_metrics()
    return _metrics


def init_metrics(app: Flask, telemetry: TelemetryConfig) -> None:
    """Record request counts and latencies for ``app`` when ``telemetry.http`` is set."""
    if not telemetry.http:
        return
    metrics = _get_metrics()
    children = metrics.children
    requests_total, duration = metrics.requests, metrics.duration

    def start_timer() -> None:
        request._get_current_object().environ[_START_KEY] = perf_counter()  # type: ignore[attr-defined]

    def observe(endpoint: str, method: str, status: int, seconds: float) -> None:
        # Hot path: one dict lookup, two lock-protected updates.
        key = (endpoint or "none", method, status)
        pair = children.get(key)
        if pair is None:
            handler = key[0]
            method = method if method in _METHODS else "other"
            pair = (
                requests_total.labels(handler, method, str(status)),
                duration.labels(handler, method),
            )
            if method != "other":  # bounded: endpoints x known methods x codes
                children[key] = pair
        pair[0].inc()
        pair[1].observe(seconds)

    def record(response: Response) -> Response:
        req = request._get_current_object()  # type: ignore[attr-defined]
        start = req.environ.get(_START_KEY)
        if start is not None:
            observe(req.endpoint, req.method, response.status_code, perf_counter() - start)
        return response

    # First in line, so a before_request hook that answers early is still timed.
    app.before_request_funcs.setdefault(None, []).insert(0, start_timer)
    app.after_request(record)
    app.extensions["dex_py.ops.metrics"] = metrics
    # for answers the server repeats without running the app (dex_py.serving.response_cache)
    app.extensions[OBSERVE_EXTENSION] = observe


def count_event(name: str, **labels: str) -> None:
    """Count one domain event, e.g. ``count_event("dexpy_logins_total", connector="ldap",
    result="success")``. Unknown names raise ``KeyError``; a no-op while metrics are off."""
    if name not in EVENTS:
        raise KeyError(f"undeclared metric event {name!r}; declare it in dex_py.ops.metrics.EVENTS")
    if _metrics is None:
        return
    counter = _metrics.events[name]
    (counter.labels(**labels) if labels else counter).inc()


def prepare_multiprocess(directory: str | None = None) -> str:
    """Switch this process (and the workers it forks) to multi-process metrics in a fresh
    directory; call in the gunicorn master before any metric is created. Returns the dir."""
    path = directory or tempfile.mkdtemp(prefix="dex-py-metrics-")
    os.environ[MULTIPROC_ENV] = path
    # prometheus_client picks its value class at import time; re-pick now that the env is set.
    prometheus_values.ValueClass = prometheus_values.get_value_class()
    return path


def mark_process_dead(pid: int) -> None:
    """Drop a dead worker's live gauges (its counters stay: they are still true totals)."""
    path = os.environ.get(MULTIPROC_ENV)
    if path:
        _mark_process_dead(pid, path)


def cleanup_multiprocess(path: str) -> None:
    shutil.rmtree(path, ignore_errors=True)


def parse_address(address: str) -> tuple[str, int]:
    """``"127.0.0.1:5558"``, ``":5558"`` or ``"[::1]:5558"`` -> ``(host, port)``."""
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"telemetry.http: expected host:port, got {address!r}")
    host = host.strip("[]") or "0.0.0.0"  # noqa: S104 - Go's ":port" means all interfaces
    return host, int(port)
