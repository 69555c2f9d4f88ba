"""``dex-py proxy PROXY_CONFIG``: load the config, open the listening sockets, start ``workers``
processes and look after them.

Each worker is a forked process running the aiohttp application on its own socket bound with
``SO_REUSEPORT``, so the kernel spreads connections over the workers (0 workers = one per CPU).
The master process only supervises: a worker that dies is started again, SIGTERM or SIGINT is
passed on to the workers, which finish the requests in flight and exit; then the master exits 0.
It also serves the Prometheus ``/metrics`` of all workers together (``proxy.metrics``).

A config error is one line naming the key, exit status 2; a port that cannot be bound, exit 1.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import shutil
import signal
import socket
import sys
import tempfile
import time
from collections.abc import Sequence

from dex_py.proxy.config import ProxyConfig, ProxyConfigError, load_config
from dex_py.proxy.logs import configure

log = logging.getLogger("dex_py.proxy")
SHUTDOWN_TIMEOUT = 20.0
RESTART_DELAY = 1.0


def _listen_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(1024)
    sock.setblocking(False)
    return sock


def _probe(host: str, port: int) -> None:
    """Bind once without SO_REUSEPORT: another process already listening there (even another
    dex-py proxy, which would otherwise silently share the port) makes this fail."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind((host, port))


async def _serve(config: ProxyConfig, sock: socket.socket, master: int) -> None:
    from aiohttp import web

    from dex_py.proxy.app import create_app

    runner = web.AppRunner(
        create_app(config), access_log=None, handle_signals=False, shutdown_timeout=SHUTDOWN_TIMEOUT
    )
    await runner.setup()
    await web.SockSite(runner, sock).start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    watcher = loop.create_task(_stop_when_orphaned(master, stop))
    log.info("worker %d listening on %s:%d", os.getpid(), config.listen_host, config.listen_port)
    await stop.wait()
    watcher.cancel()
    await runner.cleanup()


async def _stop_when_orphaned(master: int, stop: asyncio.Event) -> None:
    """A worker whose master died (killed, crashed) stops instead of serving on alone."""
    while os.getppid() == master:
        await asyncio.sleep(1.0)
    log.error("master process gone: worker %d stops", os.getpid())
    stop.set()


def _worker(config: ProxyConfig, sock: socket.socket, master: int) -> int:
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, signal.SIG_DFL)
    try:
        asyncio.run(_serve(config, sock, master))
    except Exception as exc:
        log.error("worker failed: %s", type(exc).__name__)
        return 1
    return 0


def _fork(config: ProxyConfig, sock: socket.socket) -> int:
    master = os.getpid()
    pid = os.fork()
    if pid == 0:  # the worker
        code = 1
        try:
            code = _worker(config, sock, master)
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    return pid


def _supervise(config: ProxyConfig, sockets: list[socket.socket]) -> int:
    stopping = False

    def on_signal(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    workers = {_fork(config, sock): sock for sock in sockets}
    if config.metrics_listen:
        from dex_py.proxy.config import parse_listen
        from dex_py.proxy.metrics import serve_metrics

        serve_metrics(*parse_listen(config.metrics_listen, "metrics.listen"))
    while not stopping:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            break
        if pid == 0:
            time.sleep(0.2)
            continue
        sock = workers.pop(pid, None)
        if sock is not None and not stopping:
            log.error("worker %d exited (status %d); starting another", pid, status)
            time.sleep(RESTART_DELAY)
            workers[_fork(config, sock)] = sock
    for pid in workers:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + SHUTDOWN_TIMEOUT + 5
    while workers and time.monotonic() < deadline:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            break
        if pid:
            workers.pop(pid, None)
        else:
            time.sleep(0.05)
    for pid in workers:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    log.info("stopped")
    return 0


def _check_parts(config: ProxyConfig) -> str:
    """What keeps the store or the upstream relay from opening ("" when nothing); opening
    connects to nothing."""
    from dex_py.proxy.proxy_state import open_session_store
    from dex_py.proxy.store_base import StoreConfigError

    try:
        store = open_session_store(config)
    except StoreConfigError as exc:
        return str(exc)
    except ImportError:
        return f"session.store: {config.store.kind} is not available in this build"
    except Exception as exc:  # a driver's own complaint about the URL
        return f"session.{config.store.kind}.url: cannot be used ({type(exc).__name__})"
    if store is not None:
        asyncio.run(store.close())
    if config.upstreams:
        try:
            from dex_py.proxy.proxy_state import open_upstreams

            open_upstreams(config)
        except ImportError:
            return "upstreams: upstream mode is not available in this build"
    return ""


def run(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="dex-py proxy",
        description="The auth proxy: forward auth and upstream proxy with dex-py logins.",
    )
    parser.add_argument("config", help="the proxy's YAML config (see proxy.example.yaml)")
    parser.add_argument(
        "--check-config", action="store_true", help="only check the config and exit"
    )
    args = parser.parse_args(list(argv))
    try:
        config = load_config(args.config)
    except ProxyConfigError as exc:
        print(f"dex-py proxy: config error: {exc}", file=sys.stderr)
        return 2
    # Before anything imports prometheus_client (proxy.metrics): it picks multiprocess values
    # at import time, and the forked workers inherit that choice.
    metrics_dir = ""
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        metrics_dir = tempfile.mkdtemp(prefix="dexpy-proxy-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    try:
        return _start(args.config, args.check_config, config)
    finally:
        if metrics_dir:
            shutil.rmtree(metrics_dir, ignore_errors=True)


def _start(path: str, check_only: bool, config: ProxyConfig) -> int:
    problem = _check_parts(config)
    if problem:
        print(f"dex-py proxy: config error: {problem}", file=sys.stderr)
        return 2
    if check_only:
        print(f"{path}: OK")
        return 0
    configure(config.log_format, config.log_level)
    count = config.workers or os.cpu_count() or 1
    try:
        _probe(config.listen_host, config.listen_port)
        sockets = [_listen_socket(config.listen_host, config.listen_port) for _ in range(count)]
    except OSError as exc:
        print(
            f"dex-py proxy: listen: cannot listen on {config.listen_host}:{config.listen_port}: "
            f"{exc.strerror}",
            file=sys.stderr,
        )
        return 1
    try:
        return _supervise(config, sockets)
    finally:
        for sock in sockets:
            sock.close()
