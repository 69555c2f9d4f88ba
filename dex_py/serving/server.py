"""``dex-py serve``: what both engines share (checks, migrations, TLS, workers, housekeeping).

``plan()`` runs first, in the master, for either engine: the listeners and TLS files are checked,
risky setups are reported (memory storage, which also forces one worker; a plain-HTTP issuer on
a non-loopback host), storage migrations run once and the worker count is settled. Then
``server.engine`` (or ``--server``) picks the engine (``dex_py.serving.run.serve``):

- ``granian`` (``dex_py.serving.granian_server``): HTTP in Rust; slow or idle clients cost no
  worker; SIGTERM drains (readiness 503, ``server.shutdownDelay``, finish every held connection).
- ``gunicorn`` (``dex_py.serving.gunicorn_server``): one master, ``sync`` workers. A sync worker
  reads the request itself, so a few slow clients stall it: use it only behind a proxy that
  buffers whole requests (nginx's default). SIGTERM stops accepting at once: requests still
  queued in the kernel are reset.

For both: each worker builds its own app (database pools are per process) and runs the
housekeeping thread (``dex_py.ops.background``); when ``telemetry.http`` is set, metrics use
prometheus_client's multi-process mode and the master serves the aggregate (``stopped`` removes
it). ``web.http`` and ``web.https`` may both be set, as in Dex; ``TLSContextProvider`` checks
the certificate pair (and is gunicorn's per-connection TLS context).
"""

from __future__ import annotations

import logging
import os
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from dex_py.config import Config, WebConfig
from dex_py.config.validation import is_loopback_host

log = logging.getLogger("dex_py.server")  # the name before the move

AppFactory = Callable[[Config], Any]  # config -> WSGI app (create_app)
MAX_DEFAULT_WORKERS = 8
TLS_VERSIONS = {"1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}


class ServeError(Exception):
    """The server cannot start (bad listen address, unreadable certificate, failed migration)."""


def default_workers() -> int:
    """``cores + 1``, capped at 8: the request paths are CPU-bound (signing, JSON, SQL client
    code), and on a 2-core machine 3 sync workers beat 5 by 30 % on the refresh grant with
    PostgreSQL (bench/README.md)."""
    return min((os.cpu_count() or 1) + 1, MAX_DEFAULT_WORKERS)


def make_ssl_context(web: WebConfig) -> ssl.SSLContext:
    """A server-side TLS context for ``web.tlsCert``/``web.tlsKey``, TLS >= ``tlsMinVersion``."""
    version = TLS_VERSIONS.get(web.tls_min_version or "1.2")
    if version is None:
        raise ServeError(f"web.tlsMinVersion: must be 1.2 or 1.3, got {web.tls_min_version!r}")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = version
    try:
        context.load_cert_chain(certfile=web.tls_cert, keyfile=web.tls_key)
    except (OSError, ssl.SSLError) as exc:
        raise ServeError(f"web.tlsCert/web.tlsKey: cannot load: {exc}") from exc
    return context


class TLSContextProvider:
    """Hands out the TLS context, rebuilding it when the cert or key file changes."""

    def __init__(self, web: WebConfig) -> None:
        self.web = web
        self._stamp = self._files_stamp()
        self._context = make_ssl_context(web)

    def _files_stamp(self) -> tuple[int, int]:
        return (os.stat(self.web.tls_cert).st_mtime_ns, os.stat(self.web.tls_key).st_mtime_ns)

    def get(self) -> ssl.SSLContext:
        try:
            stamp = self._files_stamp()
            if stamp != self._stamp:
                self._context = make_ssl_context(self.web)
                self._stamp = stamp
                log.info("TLS certificate reloaded", extra={"cert": self.web.tls_cert})
        except (OSError, ServeError) as exc:  # mid-rotation: keep serving the old pair
            log.warning("TLS certificate reload failed, keeping the previous one: %s", exc)
        return self._context


def port_of(address: str) -> int:
    """The port of a ``host:port`` listen address; ServeError if there is none."""
    _host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit():
        raise ServeError(f"listen address {address!r}: expected host:port")
    return int(port)


def startup_warnings(config: Config) -> list[str]:
    """Risky but legal setups the operator should hear about at startup."""
    warnings = []
    if config.storage.type == "memory":
        warnings.append(
            "storage type is memory: data is lost on restart; each worker would have its own "
            "memory, so dex-py runs a single worker"
        )
    issuer = urlsplit(config.issuer)
    if issuer.scheme == "http" and not is_loopback_host(issuer.hostname or ""):
        warnings.append(
            f"issuer {config.issuer} is plain HTTP on a non-loopback host: codes and tokens "
            "travel unencrypted; use https (or TLS in front of dex-py)"
        )
    return warnings


def run_migrations(config: Config) -> None:
    """Bring the database schema up to date, once, in the master."""
    if config.storage.type == "memory":
        return
    from dex_py.storage import migrate

    try:
        revision = migrate.upgrade(config.storage)
    except migrate.MigrationError as exc:
        raise ServeError(f"database migration failed: {exc}") from exc
    log.info("database schema at revision %s", revision)


def start_grpc(config: Config, state: dict[str, Any]) -> None:
    """In the master, once the workers are up: the gRPC API when ``grpc.addr`` is set
    (``dex_py.serving.grpc_server``); ``stopped`` stops it."""
    if not config.grpc.addr:
        return
    from dex_py.serving.grpc_server import GrpcStartError, start_grpc_api

    try:
        state["grpc_api"] = start_grpc_api(config)
    except GrpcStartError as exc:
        log.error("gRPC API not started: %s", exc)


def stopped(state: dict[str, Any]) -> None:
    """In the master, last: stop the gRPC API and the metrics server, remove the metrics
    directory, say so."""
    grpc_api = state.pop("grpc_api", None)
    if grpc_api is not None:
        grpc_api.stop()
    metrics_server = state.pop("metrics_server", None)
    if metrics_server is not None:
        metrics_server.shutdown()
    if "metrics_dir" in state:
        from dex_py.ops import metrics

        metrics.cleanup_multiprocess(state.pop("metrics_dir"))
    log.info("dex-py stopped")


def start_housekeeping(app: Any, interval: float) -> None:
    """Start the worker's housekeeping thread (``dex_py.ops.background``), once per worker."""
    services = getattr(app, "extensions", {}).get("dex_py")
    if services is None:
        log.debug("no dex_py services on the app; background housekeeping not started")
        return
    from dex_py.ops.background import start_background

    start_background(services, interval=interval)
    start_connector_check(services)


def start_connector_check(services: Any) -> None:
    """With the TokenReview webhook on and ``connectorCheck`` above zero, the thread that checks
    its clients' refresh chains upstream (``dex_py.oauth.connector_check``)."""
    from dex_py.config.kubernetes import parse_token_review

    settings = parse_token_review(services.config)
    if settings is None or settings.connector_check <= timedelta(0):
        return
    from dex_py.oauth.connector_check import check_chains
    from dex_py.ops.background import start_periodic
    from dex_py.storage import DATABASE_UNAVAILABLE, error_reason

    window = settings.connector_check

    def task() -> None:
        try:
            check_chains(services, settings.audiences, window / 2)
        except DATABASE_UNAVAILABLE as exc:
            log.error("connector check failed: database unavailable: %s", error_reason(exc))
        except Exception:
            log.exception("connector check failed")

    start_periodic(
        task, interval=window.total_seconds(), name="dex-py-connector-check", run_first=False
    )


def default_factory(config: Config) -> Any:
    from dex_py.app import create_app

    return create_app(config)


def _listen_urls(web: WebConfig) -> list[str]:
    return [f"https://{web.https}"] * bool(web.https) + [f"http://{web.http}"] * bool(web.http)


@dataclass
class Plan:
    """What ``serve`` settled before starting either engine."""

    binds: list[str]  # web.https first, then web.http
    tls: TLSContextProvider | None
    tls_port: int | None
    workers: int


def plan(config: Config, *, workers: int | None = None) -> Plan:
    """Check the listeners and TLS files, report risky setups, run migrations and pick the
    worker count: everything ``serve`` does before starting a server (testable on its own)."""
    web = config.web
    binds = [a for a in (web.https, web.http) if a]
    if not binds:
        raise ServeError("web: set web.http and/or web.https (host:port to listen on)")
    for address in binds:
        port_of(address)
    for name, address in (("web.https", web.https), ("web.http", web.http)):
        if address:
            check_port_free(name, listen_host(address), port_of(address))
    tls: TLSContextProvider | None = None
    tls_port: int | None = None
    if web.https:
        if not (web.tls_cert and web.tls_key):
            raise ServeError("web.https is set: web.tlsCert and web.tlsKey are required")
        tls_port = port_of(web.https)
        if web.http and port_of(web.http) == tls_port:
            raise ServeError("web.http and web.https must use different ports")
        try:
            tls = TLSContextProvider(web)
        except OSError as exc:
            raise ServeError(f"web.tlsCert/web.tlsKey: {exc}") from exc

    if config.grpc.addr:
        _check_grpc(config)
    for warning in startup_warnings(config):
        log.warning(warning)
    n_workers = workers or config.server.workers or default_workers()
    if config.storage.type == "memory":
        n_workers = 1
    run_migrations(config)
    return Plan(binds, tls, tls_port, n_workers)


def _check_grpc(config: Config) -> None:
    from dex_py.serving.grpc_server import GrpcStartError, check_grpc_api

    address = config.grpc.addr
    check_port_free("grpc.addr", listen_host(address), port_of(address))
    try:
        check_grpc_api(config)
    except GrpcStartError as exc:
        raise ServeError(str(exc)) from None


def listening_message(config: Config, n_workers: int) -> str:
    urls = ", ".join(_listen_urls(config.web))
    plural = "" if n_workers == 1 else "s"
    return f"dex-py listening on {urls} (issuer {config.issuer}, {n_workers} worker{plural})"


def check_port_free(name: str, host: str, port: int) -> None:
    """ServeError if something already listens on ``host:port``, said plainly before either
    engine starts (gunicorn would retry and log its own lines; Granian's workers bind with
    SO_REUSEPORT, which would let a second dex-py on the same port silently take half of the
    connections). A plain bind (no SO_REUSEPORT) fails on any listener there, ours included."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # TIME_WAIT is fine
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise ServeError(f"{name} {host}:{port}: cannot listen: {exc.strerror}") from None


def listen_host(address: str) -> str:
    """The host part of a ``host:port`` listen address (``:port``: every interface)."""
    host = address.rpartition(":")[0].strip("[]")
    return host or "0.0.0.0"  # noqa: S104 - Go's ":port" means every interface, as in Dex
