"""``dex-py serve`` on Granian, the default engine: slow clients never hold a Python thread.

Granian does HTTP in Rust (hyper); what a connection costs and how a worker runs the Flask app
is told in ``dex_py.serving.granian_worker``, which each worker process runs.

One master (``DexGranian``, a ``granian.server.MPServer``) forks ``workers`` processes. Plain
Granian binds one address; here every worker serves each configured listener (``web.https`` with
TLS >= ``web.tlsMinVersion``, and ``web.http``) with one Rust worker per listener, each bound
with SO_REUSEPORT. In each worker, after the app is built: the housekeeping thread
(``dex_py.ops.background``). In the master: migrations already ran
(``dex_py.serving.server.plan``), metrics multi-process mode and the aggregate on
``telemetry.http``, the certificate watch (a changed and loadable ``tlsCert``/``tlsKey`` pair
respawns the workers one at a time, which is how Granian loads a new certificate), and a dead
worker is replaced.

Shutdown (SIGTERM): ``/healthz/ready`` answers 503 at once, requests are served as usual for
``server.shutdownDelay`` (so load balancers stop sending new ones), then every worker stops
accepting, answers every connection it holds and exits (bounded by ``server.timeout``); the
master exits 0. The workers ignore SIGTERM/SIGINT themselves (a signal to the whole process
group, as systemd and test harnesses send, must not cut the delay short); the master stops them
with ``STOP_SIGNAL``. SIGINT or a second SIGTERM skips the delay. Granian's internals used here
(``MPServer`` hooks; ``RSGIWorker``'s arguments in ``granian_worker``) are those of 2.8, the
pinned range.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import resource
import signal
import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from granian.constants import Interfaces
from granian.log import LogLevels
from granian.net import SocketSpec
from granian.server.mp import MPServer, WorkerProcess

from dex_py.config import Config
from dex_py.serving.granian_worker import (
    BACKPRESSURE,
    STOP_SIGNAL,
    Listener,
    WorkerSetup,
    worker_main,
)
from dex_py.serving.loop_routes import LoopRoutes
from dex_py.serving.server import (
    default_factory,
    listen_host,
    listening_message,
    make_ssl_context,
    plan,
    port_of,
    start_grpc,
    stopped,
)

log = logging.getLogger("dex_py.granian_server")  # the name before the move

BACKLOG = 4096  # kernel accept queue per listener
CERT_POLL_SECONDS = 5.0


class _ForkedWorker(WorkerProcess):
    """A Granian worker process that is always forked and stopped with ``STOP_SIGNAL``."""

    def _spawn(self, target: Any, args: Any) -> None:
        self.inner = multiprocessing.get_context("fork").Process(
            name="dex-py-worker", target=target, args=args
        )

    def terminate(self) -> None:
        self.interrupt_by_parent = True
        if self.inner.pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.inner.pid, STOP_SIGNAL)


class DexGranian(MPServer):
    """Granian's multi-process server with several listeners per worker, a drain period on
    SIGTERM and a certificate watch (see the module docstring)."""

    def __init__(
        self,
        listeners: list[Listener],
        *,
        workers: int,
        factory: Callable[[], Any],
        ready_path: str,
        gc_interval: float,
        shutdown_delay: float,
        stop_timeout: int,
        log_level: str,
        access_log: bool = False,
        cert_files: tuple[str, str] | None = None,
        cert_check: Callable[[], Any] | None = None,
    ) -> None:
        first = listeners[0]
        super().__init__(
            "dex_py",
            address=first.host,
            port=first.port,
            interface=Interfaces.RSGI,
            workers=workers,
            backlog=BACKLOG,
            backpressure=BACKPRESSURE,
            respawn_failed_workers=True,
            workers_kill_timeout=max(1, stop_timeout),
            log_level=log_level,  # type: ignore[arg-type]
            log_dictconfig={  # Granian's records go to our root handler (dex_py.ops.logs)
                "loggers": {
                    "_granian": {"handlers": [], "propagate": True},
                    "granian.access": {"handlers": [], "propagate": True},
                }
            },
        )
        self.listeners = listeners
        self.shutdown_delay = shutdown_delay
        self.cert_files = cert_files
        self.cert_check = cert_check
        self.draining = multiprocessing.get_context("fork").Event()
        self.setup = WorkerSetup(
            factory=factory,
            listeners=[],
            draining=self.draining,
            ready_path=ready_path,
            loop_routes=LoopRoutes(ready_path.removesuffix("/healthz/ready")),
            gc_interval=gc_interval,
            access_log=access_log,
            close_in_worker=[],
        )
        self.on_worker_exit: Callable[[int], None] | None = None
        self._stop_timer: threading.Timer | None = None

    # --- listeners: one SocketSpec per address; each worker binds it with SO_REUSEPORT ----

    def _init_shared_socket(self) -> None:
        self.setup.listeners = []
        for listener in self.listeners:
            spec = SocketSpec(listener.host, listener.port, self.backlog)
            spec.build()  # fail here, in the master, if the address is taken
            self.setup.listeners.append((listener, spec))
        self._ssp = self._shd = self._sfd = self._sso = None

    def _drop_shared_socket(self) -> None:
        pass

    def _spawn_worker(self, idx: Any, target: Any, callback_loader: Any, *_: Any) -> Any:
        return _ForkedWorker(parent=self, idx=idx, target=worker_main, args=(idx + 1, self.setup))

    def _respawn_workers(self, workers: Any, *args: Any, **kwargs: Any) -> None:
        old = [self.wrks[idx].inner.pid for idx in workers]
        super()._respawn_workers(workers, *args, **kwargs)
        for pid in old:
            if self.on_worker_exit is not None and pid is not None:
                self.on_worker_exit(pid)

    # --- shutdown: readiness 503, serve on for shutdown_delay, then stop --------------------

    def signal_handler_interrupt(self, signum: int = signal.SIGTERM, *args: Any) -> None:
        first = not self.draining.is_set()
        self.draining.set()
        if signum == signal.SIGTERM and first and self.shutdown_delay > 0:
            log.info(
                "SIGTERM: /healthz/ready now answers 503; stopping in %.1fs", self.shutdown_delay
            )
            self._stop_timer = threading.Timer(self.shutdown_delay, self._stop_now)
            self._stop_timer.daemon = True
            self._stop_timer.start()
            return
        self._stop_now()

    def _stop_now(self) -> None:
        log.info("stopping: no new connections; finishing the accepted ones")
        super().signal_handler_interrupt()

    # --- certificate watch ------------------------------------------------------------------

    def _cert_stamp(self) -> tuple[int, int] | None:
        if self.cert_files is None:
            return None
        try:
            return tuple(os.stat(path).st_mtime_ns for path in self.cert_files)  # type: ignore[return-value]
        except OSError:
            return None

    def _watch_certificate(self) -> None:
        stamp = self._cert_stamp()
        while not self.draining.wait(CERT_POLL_SECONDS):
            current = self._cert_stamp()
            if current is None or current == stamp:
                continue
            stamp = current
            try:
                if self.cert_check is not None:
                    self.cert_check()
            except Exception as exc:  # mid-rotation: keep serving the old pair
                log.warning("TLS certificate reload failed, keeping the previous one: %s", exc)
                continue
            log.info("TLS certificate changed; respawning workers to load it")
            self.signal_handler_reload()

    def startup(self, spawn_target: Any, target_loader: Any) -> None:
        super().startup(spawn_target, target_loader)
        if self.cert_files is not None:
            threading.Thread(target=self._watch_certificate, daemon=True).start()

    def serve_forever(self) -> None:
        self.serve(spawn_target=worker_main, target_loader=lambda: worker_main, wrap_loader=False)


def raise_open_files_limit(wanted: int = 65536) -> int:
    """Raise this process's soft limit on open files towards the hard one (Go servers do the
    same), so the default 1,024 of many systems does not cap connections; workers inherit it.
    Returns the soft limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(hard, wanted)
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError) as exc:
            log.warning("cannot raise the open-files limit from %d: %s", soft, exc)
    return soft


def build_granian(
    config: Config,
    config_path: str,
    *,
    workers: int | None = None,
    app_factory: Callable[[Config], Any] | None = None,
    access_log: bool = False,
) -> DexGranian:
    """Everything ``serve`` does before handing control to Granian (testable on its own)."""
    settled = plan(config, workers=workers)
    raise_open_files_limit()
    web = config.web
    listeners: list[Listener] = []
    if web.https:
        minimum = "tls1.3" if web.tls_min_version == "1.3" else "tls1.2"
        cert = (os.path.abspath(web.tls_cert), os.path.abspath(web.tls_key), minimum)
        listeners.append(Listener(listen_host(web.https), port_of(web.https), cert))
    if web.http:
        listeners.append(Listener(listen_host(web.http), port_of(web.http)))
    factory = app_factory or default_factory
    ready_path = (urlsplit(config.issuer).path.rstrip("/") or "") + "/healthz/ready"
    server = DexGranian(
        listeners,
        workers=settled.workers,
        factory=lambda: factory(config),
        ready_path=ready_path,
        gc_interval=config.server.gc_interval.total_seconds(),
        shutdown_delay=config.server.shutdown_delay.total_seconds(),
        stop_timeout=config.server.timeout,
        log_level=LogLevels((config.logger.level or "info").lower()),
        access_log=access_log,
        cert_files=(web.tls_cert, web.tls_key) if web.https else None,
        cert_check=(lambda: make_ssl_context(web)) if web.https else None,
    )
    telemetry = config.telemetry.http
    state: dict[str, Any] = {}
    if telemetry:
        from dex_py.ops import metrics

        state["metrics_dir"] = metrics.prepare_multiprocess()
        server.on_worker_exit = metrics.mark_process_dead

    @server.on_startup
    def started() -> None:
        if telemetry:
            from dex_py.ops import telemetry as probes

            metrics_server = state["metrics_server"] = probes.start_telemetry_server(
                telemetry, probes.storage_readiness(config.storage), server.draining.is_set
            )
            server.setup.close_in_worker.append(metrics_server.socket)
            log.info("metrics and probes on http://%s (/metrics, /healthz/*)", telemetry)
        log.info(listening_message(config, settled.workers), extra={"config": config_path})
        start_grpc(config, state)

    server.on_shutdown(lambda: stopped(state))

    return server
