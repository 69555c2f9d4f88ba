"""A worker process of ``dex-py serve`` on Granian (``dex_py.serving.granian_server`` forks it).

Granian does HTTP in Rust (hyper). A connection costs a socket and a small buffer until its
request head is complete (``HEADER_READ_TIMEOUT_MS``, at most ``MAX_HEAD_BUFFER`` bytes); each
worker holds up to ``BACKPRESSURE`` connections. Workers run Granian's RSGI interface with
``dex_py.serving.wsgi_bridge``, which reads the body on the event loop and only then runs the
Flask app on one of ``PY_THREADS`` threads (Granian's own WSGI interface would let a slow body
hold one), or on the loop thread itself for the requests ``dex_py.serving.loop_routes`` names.

``worker_main`` builds the app, starts the housekeeping thread (``dex_py.ops.background``) and
serves every ``Listener`` with one Rust worker each (the master built their sockets, bound in
each worker with SO_REUSEPORT). It ignores SIGTERM/SIGINT (the master decides when it stops);
on ``STOP_SIGNAL`` it stops accepting, answers every connection it holds and returns.
``RSGIWorker``'s arguments are those of Granian 2.8, the pinned range.
"""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from granian._futures import _future_watcher_wrapper, _new_cbscheduler
from granian._granian import RSGIWorker, WorkerSignal
from granian._loops import loops
from granian.http import HTTP1Settings

from dex_py.ops.metrics import OBSERVE_EXTENSION
from dex_py.serving.loop_routes import LoopRoutes
from dex_py.serving.response_cache import ResponseCache
from dex_py.serving.server import start_housekeeping
from dex_py.serving.wsgi_bridge import WSGIBridge

HEADER_READ_TIMEOUT_MS = 10_000  # a request head must arrive within 10 s
BACKPRESSURE = 4096  # connections a worker holds at once (idle and slow ones included)
PY_THREADS = 8  # Python threads per worker running the app (requests wait on the event loop)
MAX_HEAD_BUFFER = 64 * 1024  # bytes of request head a connection may buffer
STOP_SIGNAL = signal.SIGUSR1
# Granian 2.8's type stub lags its runtime signature (which has an IPC handle after the socket).
_RUST_WORKER: Any = RSGIWorker
_NO_TLS: tuple[Any, ...] = (False, None, None, None, "tls1.2", None, [], False)


@dataclass(frozen=True)
class Listener:
    """One address to serve; ``tls`` = ``(cert, key, "tls1.2"|"tls1.3")`` for ``web.https``."""

    host: str
    port: int
    tls: tuple[str, str, str] | None = None

    def ssl_args(self) -> tuple[Any, ...]:
        if self.tls is None:
            return _NO_TLS
        cert, key, minimum = self.tls
        return (True, cert, key, None, minimum, None, [], False)


@dataclass
class WorkerSetup:
    """What a forked worker needs (never pickled: workers are forked)."""

    factory: Callable[[], Any]  # builds the WSGI app
    listeners: list[tuple[Listener, Any]]  # with their granian SocketSpec
    draining: Any  # multiprocessing.Event, set by the master on SIGTERM
    ready_path: str  # <issuer path>/healthz/ready
    loop_routes: LoopRoutes  # requests run on the event loop thread instead of the pool
    gc_interval: float
    access_log: bool
    close_in_worker: list[Any]  # master-only sockets the fork inherited


def worker_main(worker_id: int, setup: WorkerSetup) -> None:
    """A worker process: build the app, start housekeeping, serve every listener until the
    master sends ``STOP_SIGNAL``, then finish every connection it holds and return."""
    for sock in setup.close_in_worker:
        sock.close()
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # the master decides when we stop
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    stop_early = threading.Event()  # a stop that arrives while the app is being built
    signal.signal(STOP_SIGNAL, lambda *_: stop_early.set())

    app = setup.factory()
    start_housekeeping(app, setup.gc_interval)
    bridge = WSGIBridge(
        app,
        threads=PY_THREADS,
        ready_path=setup.ready_path,
        draining=setup.draining,
        access_log=setup.access_log,
        runs_on_loop=setup.loop_routes.runs_on_loop,
        cache=ResponseCache(observe=getattr(app, "extensions", {}).get(OBSERVE_EXTENSION)),
    )
    loop = loops.get("auto")
    bridge.__rsgi_init__(loop)
    callback = _future_watcher_wrapper(bridge.__rsgi__)
    http1 = HTTP1Settings(
        header_read_timeout=HEADER_READ_TIMEOUT_MS,
        keep_alive=True,
        max_buffer_size=MAX_HEAD_BUFFER,
    )
    stops: list[Any] = []
    pending = len(setup.listeners)
    finished = asyncio.Event()

    def listener_done() -> None:
        nonlocal pending
        pending -= 1
        if pending == 0:
            finished.set()

    for listener, spec in setup.listeners:
        stop = WorkerSignal()
        # Called (from a Rust thread) once this listener has finished its connections.
        stop.add_cb(lambda: loop.call_soon_threadsafe(listener_done))
        rust = _RUST_WORKER(
            worker_id,
            (spec, None),
            None,  # no IPC: Granian's own metrics are off
            1,  # Rust I/O threads
            512,  # Rust blocking threads (Granian's default)
            1,  # Python threads of Granian's own: the bridge has its pool
            30,
            BACKPRESSURE,
            "1",  # HTTP/1.1
            http1,
            None,
            False,  # no websockets
            None,  # no static files: Flask serves /static
            *listener.ssl_args(),
            (None, None),
        )
        rust.serve_str(_new_cbscheduler(loop, callback, impl_asyncio=True), loop, stop)
        stops.append(stop)

    def stop_all() -> None:
        for stop in stops:
            stop.set()

    loop.add_signal_handler(STOP_SIGNAL, stop_all)
    if stop_early.is_set():
        stop_all()
    loop.run_until_complete(finished.wait())
    bridge.close()
