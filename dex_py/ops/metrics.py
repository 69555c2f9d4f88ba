"""Prometheus metrics: per-request counters and histograms, build info, event counters, and the
multi-process plumbing for gunicorn.

``init_metrics(app, telemetry)`` installs two cheap hooks (a ``perf_counter`` in the WSGI
environ before the request, cached counter/histogram child updates after it) when
``telemetry.http`` is set; otherwise it does nothing. Two sets of request metrics:

- dex-py's own, ``dexpy_http_requests_total`` and ``dexpy_http_request_duration_seconds``:
  ``handler`` is the Flask endpoint name (``none`` when no route matched), ``method`` the known
  method (else ``other``), ``code`` the status.
- Dex's names, so its dashboards and alerts keep working: ``http_requests_total``,
  ``request_duration_seconds`` (buckets 0.25 s to 10 s) and ``response_size_bytes`` (buckets
  200 to 1500 bytes), labelled ``code``, ``method`` (lower case, as Go's promhttp writes it) and
  ``handler``: the route's path below the issuer, ``{name}`` for a variable part
  (``/token``, ``/auth/{connector}/login``), as Dex labels its handlers.

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
import re
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
DEX_DURATION_BUCKETS = (0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
DEX_SIZE_BUCKETS = (200.0, 500.0, 900.0, 1500.0)
_DEX_LABELS = ("code", "method", "handler")

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
    "dexpy_audit_events_total": (
        "Security events (one per audit log line): logins, tokens issued or refused (refreshes"
        " by grant_type), refresh reuse, code replay, revocations, logouts; by client and"
        " connector.",
        ("event", "outcome", "grant_type", "client", "connector"),
    ),
}


@dataclass
class _Metrics:
    requests: Counter
    duration: Histogram
    build_info: Gauge
    events: dict[str, Counter]
    dex_requests: Counter
    dex_duration: Histogram
    dex_size: Histogram
    children: dict[tuple[str, str, int], tuple[Any, ...]] = field(default_factory=dict)


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
    dex_requests = Counter("http_requests", "Count of all HTTP requests.", _DEX_LABELS)
    dex_duration = Histogram(
        "request_duration_seconds",
        "A histogram of latencies for requests.",
        _DEX_LABELS,
        buckets=DEX_DURATION_BUCKETS,
    )
    dex_size = Histogram(
        "response_size_bytes",
        "A histogram of response sizes for requests.",
        _DEX_LABELS,
        buckets=DEX_SIZE_BUCKETS,
    )
    return _Metrics(requests, duration, build_info, events, dex_requests, dex_duration, dex_size)


def dex_handler_names(app: Flask, issuer_path: str) -> dict[str, str]:
    """Flask endpoint -> Dex's handler label: the first rule's path below the issuer, with
    ``<name>`` / ``<conv:name>`` written ``{name}``."""
    names: dict[str, str] = {}
    for rule in app.url_map.iter_rules():
        if rule.endpoint in names:
            continue
        path = rule.rule
        if issuer_path and path.startswith(issuer_path):
            path = path[len(issuer_path) :] or "/"
        names[rule.endpoint] = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", path)
    return names


def _get_metrics() -> _Metrics:
    global _metrics
    if _metrics is None:
        _metrics = _create_metrics()
    return _metrics


def init_metrics(app: Flask, telemetry: TelemetryConfig, issuer_path: str = "") -> None:
    """Record request counts, latencies and sizes for ``app`` when ``telemetry.http`` is set."""
    if not telemetry.http:
        return
    metrics = _get_metrics()
    children = metrics.children
    handler_names: dict[str, str] = {}

    def start_timer() -> None:
        request._get_current_object().environ[_START_KEY] = perf_counter()  # type: ignore[attr-defined]

    def children_for(key: tuple[str, str, int]) -> tuple[Any, ...]:
        endpoint, method, status = key
        if not handler_names:
            handler_names.update(dex_handler_names(app, issuer_path))
        method = method if method in _METHODS else "other"
        code = str(status)
        dex_labels = (code, method.lower(), handler_names.get(endpoint, "none"))
        found = (
            metrics.requests.labels(endpoint, method, code),
            metrics.duration.labels(endpoint, method),
            metrics.dex_requests.labels(*dex_labels),
            metrics.dex_duration.labels(*dex_labels),
            metrics.dex_size.labels(*dex_labels),
        )
        if method != "other":  # bounded: endpoints x known methods x codes
            children[key] = found
        return found

    def observe(endpoint: str, method: str, status: int, seconds: float, size: int = 0) -> None:
        # Hot path: one dict lookup, five lock-protected updates.
        key = (endpoint or "none", method, status)
        found = children.get(key) or children_for(key)
        found[0].inc()
        found[1].observe(seconds)
        found[2].inc()
        found[3].observe(seconds)
        found[4].observe(size)

    def record(response: Response) -> Response:
        req = request._get_current_object()  # type: ignore[attr-defined]
        start = req.environ.get(_START_KEY)
        if start is not None:
            size = response.content_length or 0
            seconds = perf_counter() - start
            observe(req.endpoint, req.method, response.status_code, seconds, size)
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
