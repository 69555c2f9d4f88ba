"""The auth proxy's Prometheus metrics: requests by endpoint and decision, logins, refreshes,
upstream errors and a latency histogram.

With several ``workers`` the counters must add up across processes: ``dex-py proxy`` sets
``PROMETHEUS_MULTIPROC_DIR`` to a fresh directory before any worker imports this module, so
each process writes its values to files there (prometheus_client's multiprocess mode), and the
master process serves ``/metrics`` on ``metrics.listen`` by summing them (``serve_metrics``).
Label sets are bound once per (endpoint, decision) so the hot path only adds numbers.
"""

from __future__ import annotations

import os

from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server
from prometheus_client.multiprocess import MultiProcessCollector

REQUESTS = Counter(
    "dexpy_proxy_requests_total",
    "Requests answered, by endpoint and decision.",
    ["endpoint", "decision"],
)
LOGINS = Counter("dexpy_proxy_logins_total", "Finished logins, by result.", ["result"])
REFRESHES = Counter("dexpy_proxy_refreshes_total", "Token refreshes, by result.", ["result"])
UPSTREAM_ERRORS = Counter(
    "dexpy_proxy_upstream_errors_total",
    "Upstream answers the proxy made itself (502/504).",
    ["status"],
)
LATENCY = Histogram(
    "dexpy_proxy_request_duration_seconds",
    "Time to answer, by endpoint.",
    ["endpoint"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)


class RequestMetrics:
    """Bound children of REQUESTS and LATENCY, made on first use."""

    def __init__(self) -> None:
        self._counters: dict[tuple[str, str], Counter] = {}
        self._histograms: dict[str, Histogram] = {}

    def observe(self, endpoint: str, decision: str, seconds: float) -> None:
        counter = self._counters.get((endpoint, decision))
        if counter is None:
            counter = self._counters[(endpoint, decision)] = REQUESTS.labels(endpoint, decision)
        counter.inc()
        histogram = self._histograms.get(endpoint)
        if histogram is None:
            histogram = self._histograms[endpoint] = LATENCY.labels(endpoint)
        histogram.observe(seconds)


def serve_metrics(host: str, port: int) -> None:
    """Serve /metrics from a daemon thread: the sum over every worker in multiprocess mode,
    else this process's registry."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
        start_http_server(port, addr=host, registry=registry)
    else:
        start_http_server(port, addr=host)
