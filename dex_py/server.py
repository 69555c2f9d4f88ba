"""``dex-py serve``: checks, migrations and the two engines, Granian (default) and gunicorn.

``plan()`` runs first, in the master, for either engine: the listeners and TLS files are checked,
risky setups are reported (memory storage, which also forces one worker; a plain-HTTP issuer on
a non-loopback host), storage migrations run once and the worker count is settled. Then
``server.engine`` (or ``--server``) picks the engine:

- ``granian`` (``dex_py.granian_server``): HTTP in Rust; slow or idle clients cost no worker;
  SIGTERM drains (readiness 503, ``server.shutdownDelay``, finish every held connection).
- ``gunicorn`` (here): one master, ``sync`` workers (DESIGN §8: they balanced load evenly where
  ``gthread`` did not). A sync worker reads the request itself, so a few slow clients stall it;
  use it only behind a proxy that buffers whole requests (nginx's default). SIGTERM stops
  accepting at once: requests still queued in the kernel are reset.

For both: each worker builds its own app (database pools are per process) and runs the
housekeeping thread (``dex_py.background``); when ``telemetry.http`` is set, metrics use
prometheus_client's multi-process mode and the master serves the aggregate. ``web.http`` and
``web.https`` may both be set, as in Dex. gunicorn would put TLS on every bind, so TLS is done by
our worker class (``DexSyncWorker``) on the ``web.https`` listener only, with an ``SSLContext``
whose minimum version is ``web.tlsMinVersion``; each worker reloads the certificate and key when
their files change. gunicorn's framing errors in request bodies become 400s (``CheckedBody``).
"""

from __future__ import annotations

import atexit
import ipaddress
import logging
import os
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from gunicorn.app.base import BaseApplication
from gunicorn.http.errors import NoMoreData, ParseException
from gunicorn.workers.sync import SyncWorker
from werkzeug.exceptions import BadRequest

from dex_py.config import Config, WebConfig
from dex_py.logs import GunicornLogger, setup_logging

log = logging.getLogger(__name__)

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


def _port(address: str) -> int:
    _host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit():
        raise ServeError(f"listen address {address!r}: expected host:port")
    return int(port)


class DexSyncWorker(SyncWorker):
    """gunicorn's sync worker, with TLS only on the ``web.https`` listener."""

    def init_process(self) -> None:
        self._tls: TLSContextProvider | None = getattr(self.app, "tls", None)
        tls_port = getattr(self.app, "tls_port", None)
        self._tls_fds = {
            s.fileno()
            for s in self.sockets
            if isinstance(s.getsockname(), tuple) and s.getsockname()[1] == tls_port
        }
        super().init_process()

    def handle(self, listener: Any, client: Any, addr: Any) -> None:
        if self._tls is not None and listener.fileno() in self._tls_fds:
            # The handshake happens on the first read, inside SyncWorker.handle's error handling.
            client = self._tls.get().wrap_socket(
                client, server_side=True, do_handshake_on_connect=False
            )
        super().handle(listener, client, addr)

    def handle_request(self, listener: Any, req: Any, client: Any, addr: Any) -> Any:
        if isinstance(client, ssl.SSLSocket):
            req.scheme = "https"  # gunicorn derives the scheme from its own (off) TLS setting
        return super().handle_request(listener, req, client, addr)


class CheckedBody:
    """gunicorn's request body stream, with its framing errors (bad chunk size, missing CRLF
    after chunk data, body cut short) raised as 400 Bad Request instead of escaping into the
    app as a 500 with a traceback."""

    def __init__(self, stream: Any, environ: dict[str, Any]) -> None:
        self.stream = stream
        self.environ = environ

    def _call(self, method: Callable[..., Any], *args: Any) -> Any:
        try:
            return method(*args)
        except (ParseException, NoMoreData) as exc:
            log.warning(
                "refused %s %s: 400 malformed body (%s)",
                self.environ.get("REQUEST_METHOD"),
                self.environ.get("PATH_INFO"),
                type(exc).__name__,
            )
            raise BadRequest("malformed request body") from None

    def read(self, size: int | None = None) -> bytes:
        return self._call(self.stream.read, size)

    def readline(self, size: int | None = None) -> bytes:
        return self._call(self.stream.readline, size)

    def readlines(self, hint: int | None = None) -> list[bytes]:
        return self._call(self.stream.readlines, hint)

    def __iter__(self) -> Any:
        return iter(self.readline, b"")


def checked_bodies(app: Any) -> Callable[..., Any]:
    """WSGI middleware installing ``CheckedBody`` (gunicorn engine)."""

    def wrapped(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        environ["wsgi.input"] = CheckedBody(environ["wsgi.input"], environ)
        return app(environ, start_response)

    return wrapped


class DexApplication(BaseApplication):
    """gunicorn application: ``options`` are gunicorn settings; ``factory()`` builds the app in
    each worker."""

    def __init__(
        self,
        options: dict[str, Any],
        factory: Callable[[], Any],
        *,
        tls: TLSContextProvider | None = None,
        tls_port: int | None = None,
    ) -> None:
        self.options = options
        self.factory = factory
        self.tls = tls
        self.tls_port = tls_port
        super().__init__()

    def load_config(self) -> None:
        assert self.cfg is not None
        for key, value in self.options.items():
            if key in self.cfg.settings:
                self.cfg.set(key, value)

    def load(self) -> Any:
        app = self.factory()
        wrapped = checked_bodies(app)
        wrapped.app = app  # type: ignore[attr-defined]  # for post_worker_init
        return wrapped


def _is_loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def startup_warnings(config: Config) -> list[str]:
    """Risky but legal setups the operator should hear about at startup."""
    warnings = []
    if config.storage.type == "memory":
        warnings.append(
            "storage type is memory: data is lost on restart; each worker would have its own "
            "memory, so dex-py runs a single worker"
        )
    issuer = urlsplit(config.issuer)
    if issuer.scheme == "http" and not _is_loopback(issuer.hostname or ""):
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


def stopped(state: dict[str, Any]) -> None:
    """In the master, last: stop the metrics server, remove the metrics directory, say so."""
    metrics_server = state.pop("metrics_server", None)
    if metrics_server is not None:
        metrics_server.shutdown()
    if "metrics_dir" in state:
        from dex_py import metrics

        metrics.cleanup_multiprocess(state.pop("metrics_dir"))
    log.info("dex-py stopped")


def start_housekeeping(app: Any, interval: float) -> None:
    """Start the worker's housekeeping thread (``dex_py.background``), once per worker."""
    services = getattr(app, "extensions", {}).get("dex_py")
    if services is None:
        log.debug("no dex_py services on the app; background housekeeping not started")
        return
    from dex_py.background import start_background

    start_background(services, interval=interval)


def default_factory(config: Config) -> Any:
    from dex_py.app import create_app

    return create_app(config)


def _gunicorn_level(level: str) -> str:
    return {"warn": "warning"}.get((level or "info").lower(), (level or "info").lower())


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
        _port(address)
    tls: TLSContextProvider | None = None
    tls_port: int | None = None
    if web.https:
        if not (web.tls_cert and web.tls_key):
            raise ServeError("web.https is set: web.tlsCert and web.tlsKey are required")
        tls_port = _port(web.https)
        if web.http and _port(web.http) == tls_port:
            raise ServeError("web.http and web.https must use different ports")
        try:
            tls = TLSContextProvider(web)
        except OSError as exc:
            raise ServeError(f"web.tlsCert/web.tlsKey: {exc}") from exc

    for warning in startup_warnings(config):
        log.warning(warning)
    n_workers = workers or config.server.workers or default_workers()
    if config.storage.type == "memory":
        n_workers = 1
    run_migrations(config)
    return Plan(binds, tls, tls_port, n_workers)


def listening_message(config: Config, n_workers: int) -> str:
    urls = ", ".join(_listen_urls(config.web))
    plural = "" if n_workers == 1 else "s"
    return f"dex-py listening on {urls} (issuer {config.issuer}, {n_workers} worker{plural})"


def build_application(
    config: Config,
    config_path: str,
    *,
    workers: int | None = None,
    app_factory: AppFactory | None = None,
    access_log: bool = False,
) -> DexApplication:
    """The gunicorn engine (``server.engine: gunicorn``), ready to ``run()``."""
    settled = plan(config, workers=workers)
    binds, tls, tls_port, n_workers = (
        settled.binds,
        settled.tls,
        settled.tls_port,
        settled.workers,
    )

    factory = app_factory or default_factory
    gc_interval = config.server.gc_interval.total_seconds()
    telemetry = config.telemetry.http
    state: dict[str, Any] = {}

    if telemetry:
        from dex_py import metrics

        metrics_dir = state["metrics_dir"] = metrics.prepare_multiprocess()
        master_pid = os.getpid()
        # Also when gunicorn exits without on_exit (e.g. the port is taken); workers run
        # atexit handlers too, hence the pid check.

        def remove_metrics_dir() -> None:
            if os.getpid() == master_pid:
                metrics.cleanup_multiprocess(metrics_dir)

        atexit.register(remove_metrics_dir)

    def when_ready(server: Any) -> None:
        if telemetry:
            from dex_py import metrics

            state["metrics_server"] = metrics.start_metrics_server(telemetry)
            log.info("metrics on http://%s/metrics", telemetry)
        log.info(listening_message(config, n_workers), extra={"config": config_path})

    def post_fork(server: Any, worker: Any) -> None:
        metrics_server = state.get("metrics_server")
        if metrics_server is not None:  # the worker's inherited copy of the master's socket
            metrics_server.socket.close()

    def post_worker_init(worker: Any) -> None:
        start_housekeeping(getattr(worker.app.callable, "app", None), gc_interval)

    def child_exit(server: Any, worker: Any) -> None:
        if telemetry:
            from dex_py import metrics

            metrics.mark_process_dead(worker.pid)

    def on_exit(server: Any) -> None:
        stopped(state)

    options: dict[str, Any] = {
        "bind": binds,
        "workers": n_workers,
        "worker_class": DexSyncWorker,
        "timeout": config.server.timeout,
        "preload_app": False,
        "proc_name": "dex-py",
        "logger_class": GunicornLogger,
        "loglevel": _gunicorn_level(config.logger.level),
        "errorlog": "-",
        "accesslog": "-" if access_log else None,
        "control_socket_disable": True,  # gunicorn >= 25: no shared ~/.gunicorn/gunicorn.ctl
        "when_ready": when_ready,
        "post_fork": post_fork,
        "post_worker_init": post_worker_init,
        "child_exit": child_exit,
        "on_exit": on_exit,
    }
    return DexApplication(options, lambda: factory(config), tls=tls, tls_port=tls_port)


def serve(
    config: Config,
    config_path: str,
    *,
    workers: int | None = None,
    app_factory: AppFactory | None = None,
    access_log: bool = False,
    engine: str | None = None,
) -> None:
    """Run dex-py until SIGTERM/SIGINT on ``engine`` (default ``server.engine``: granian).

    ``app_factory(config)`` builds the WSGI app in each worker (default
    ``dex_py.app.create_app``). ``workers`` overrides ``server.workers``.
    """
    setup_logging(config.logger)
    engine = engine or config.server.engine
    kwargs: dict[str, Any] = {
        "workers": workers,
        "app_factory": app_factory,
        "access_log": access_log,
    }
    try:
        if engine == "gunicorn":
            application = build_application(config, config_path, **kwargs)
        else:
            from dex_py.granian_server import build_granian

            server = build_granian(config, config_path, **kwargs)
    except ServeError as exc:
        log.error("cannot start: %s", exc)
        raise SystemExit(f"error: {exc}") from None
    if engine == "gunicorn":
        application.run()  # exits the process (SystemExit)
    else:
        server.serve_forever()
