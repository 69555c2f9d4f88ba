"""The gunicorn engine of ``dex-py serve`` (``server.engine: gunicorn``): sync workers.

One gunicorn master, ``sync`` workers (DESIGN §8: they balanced load evenly where ``gthread``
did not). A sync worker reads each request itself, one at a time, so slow clients stall it: use
this engine only behind a proxy that buffers whole requests. ``build_application`` runs
``dex_py.serving.server.plan`` (checks, warnings, migrations, worker count) and returns the gunicorn
application: hooks start the metrics aggregate in the master (``telemetry.http``), close its
socket in each worker, start each worker's housekeeping thread, and mark dead workers for
prometheus_client. SIGTERM shuts down gracefully, SIGHUP restarts the workers (gunicorn's
signals). gunicorn would put TLS on every bind, so TLS is done by ``DexSyncWorker`` on the
``web.https`` listener only (``TLSContextProvider``: minimum version ``web.tlsMinVersion``, the
certificate reloaded when its files change). ``CheckedBody`` turns gunicorn's body framing
errors into 400s.
"""

from __future__ import annotations

import atexit
import logging
import os
import ssl
from collections.abc import Callable
from typing import Any

from gunicorn.app.base import BaseApplication
from gunicorn.http.errors import NoMoreData, ParseException
from gunicorn.workers.sync import SyncWorker
from werkzeug.exceptions import BadRequest

from dex_py.config import Config
from dex_py.ops.logs import GunicornLogger
from dex_py.serving.server import (
    AppFactory,
    TLSContextProvider,
    default_factory,
    listening_message,
    plan,
    start_grpc,
    start_housekeeping,
    stopped,
)

log = logging.getLogger("dex_py.gunicorn_server")  # the name before the move


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


def _gunicorn_level(level: str) -> str:
    return {"warn": "warning"}.get((level or "info").lower(), (level or "info").lower())


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
        from dex_py.ops import metrics

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
            from dex_py.ops import telemetry as probes

            state["metrics_server"] = probes.start_telemetry_server(
                telemetry, probes.storage_readiness(config.storage)
            )
            log.info("metrics and probes on http://%s (/metrics, /healthz/*)", telemetry)
        log.info(listening_message(config, n_workers), extra={"config": config_path})
        start_grpc(config, state)

    def post_fork(server: Any, worker: Any) -> None:
        metrics_server = state.get("metrics_server")
        if metrics_server is not None:  # the worker's inherited copy of the master's socket
            metrics_server.socket.close()

    def post_worker_init(worker: Any) -> None:
        start_housekeeping(getattr(worker.app.callable, "app", None), gc_interval)

    def child_exit(server: Any, worker: Any) -> None:
        if telemetry:
            from dex_py.ops import metrics

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
