"""Run a WSGI app on Granian's RSGI interface, so no slow client ever holds a Python thread.

Granian's own WSGI interface hands the app a request whose body is still on the wire: a client
that sends ``Content-Length: 10`` and then five bytes holds a Python thread until it gives up.
``WSGIBridge`` is an RSGI application instead. For each request it reads the whole body on the
worker's event loop (no thread), refusing bodies over ``max_body`` bytes (413, also when
``Content-Length`` announces more) and bodies not complete within ``body_timeout`` seconds (408);
a body that cannot be read (malformed chunked encoding, reset) is a 400. Only then does it build
the WSGI environ (PEP 3333) and run the app on one of ``threads`` Python threads, and send the
response it returned. A request ``runs_on_loop`` accepts (``dex_py.serving.loop_routes``) runs on
the event loop thread instead, which saves the hand-off to a thread and back; an answer the app
allowed the server to repeat is served from ``cache`` (``dex_py.serving.response_cache``). Every
refusal is one log line (``dex_py.http``) and a short plain-text answer with ``Connection: close``.

While ``draining`` is set (the server got SIGTERM), ``ready_path`` answers 503 without calling the
app, so a load balancer stops routing here before the listeners close.
"""

from __future__ import annotations

import asyncio
import io
import logging
import sys
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from dex_py.serving.response_cache import ResponseCache

log = logging.getLogger("dex_py.http")
access = logging.getLogger("dex_py.access")

MAX_BODY = 1024 * 1024  # bytes; OAuth/OIDC form posts are a few KiB
BODY_TIMEOUT = 30.0  # seconds for the whole body, once the head has arrived

_REFUSALS = {
    400: "400 Bad Request",
    408: "408 Request Timeout",
    413: "413 Content Too Large",
}
_BASE_ENVIRON = {
    "SCRIPT_NAME": "",
    "wsgi.errors": sys.stderr,
    "wsgi.input_terminated": True,
    "wsgi.multiprocess": True,
    "wsgi.multithread": True,
    "wsgi.run_once": False,
    "wsgi.version": (1, 0),
}
_DRAINING_BODY = b'{"ready":false,"status":"shutting down"}'


class _Refusal(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def _host_port(value: str, default_port: str) -> tuple[str, str]:
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit():
        return value, default_port
    return host.strip("[]"), port


def build_environ(scope: Any, body: bytes) -> dict[str, Any]:
    """The PEP 3333 environ for an RSGI ``scope`` whose body has been read in full."""
    server_name, server_port = _host_port(scope.server, "80")
    remote_addr, remote_port = _host_port(scope.client, "0")
    environ = _BASE_ENVIRON | {
        "REQUEST_METHOD": scope.method,
        # PEP 3333: PATH_INFO is the decoded path as latin-1 characters.
        "PATH_INFO": scope.path.encode("utf-8", "surrogateescape").decode("latin-1"),
        "QUERY_STRING": scope.query_string,
        "SERVER_NAME": server_name,
        "SERVER_PORT": server_port,
        "SERVER_PROTOCOL": f"HTTP/{scope.http_version}",
        "REMOTE_ADDR": remote_addr,
        "REMOTE_PORT": remote_port,
        "wsgi.url_scheme": scope.scheme,
        "wsgi.input": io.BytesIO(body),
        "CONTENT_LENGTH": str(len(body)),
    }
    for name, value in scope.headers.items():
        key = name.upper().replace("-", "_")
        if key in ("CONTENT_LENGTH", "TRANSFER_ENCODING"):
            continue  # the body is complete: CONTENT_LENGTH above is its length
        if key == "CONTENT_TYPE":
            environ["CONTENT_TYPE"] = value
            continue
        key = "HTTP_" + key
        if key in environ:
            environ[key] += ("; " if key == "HTTP_COOKIE" else ",") + value
        else:
            environ[key] = value
    return environ


class WSGIBridge:
    """An RSGI application (``__rsgi__``/``__rsgi_init__``) serving a WSGI ``app``."""

    def __init__(
        self,
        app: Callable[..., Iterable[bytes]],
        *,
        threads: int,
        ready_path: str = "",
        draining: Any = None,
        max_body: int = MAX_BODY,
        body_timeout: float = BODY_TIMEOUT,
        access_log: bool = False,
        runs_on_loop: Callable[[str, str, bytes], bool] | None = None,
        cache: ResponseCache | None = None,
    ) -> None:
        self.cache = cache
        self.app = app
        self.runs_on_loop = runs_on_loop
        self.ready_path = ready_path
        self.draining = draining
        self.max_body = max_body
        self.body_timeout = body_timeout
        self.access_log = access_log
        self.executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="dex-py-app")
        self.loop: asyncio.AbstractEventLoop | None = None

    def __rsgi_init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop

    def close(self) -> None:
        """Wait for the requests that are running, then stop the threads."""
        self.executor.shutdown(wait=True)

    async def _read_body(self, scope: Any, proto: Any) -> bytes:
        announced = scope.headers.get("content-length")
        chunked = "chunked" in scope.headers.get("transfer-encoding", "").lower()
        if announced is None and not chunked:
            return b""  # HTTP/1.1 §6.3: no body
        if announced is not None and not chunked:
            if not announced.isdigit():
                raise _Refusal(400, "invalid Content-Length")
            if int(announced) > self.max_body:
                raise _Refusal(413, f"body over {self.max_body} bytes")
        try:
            async with asyncio.timeout(self.body_timeout):
                if not chunked:  # hyper enforces the length; a short body raises
                    return bytes(await proto())
                return await self._read_chunked(proto)
        except TimeoutError:
            raise _Refusal(408, "body not complete in time") from None
        except _Refusal:
            raise
        except Exception as exc:  # Granian's protocol errors: malformed or cut-off body
            raise _Refusal(400, f"unreadable body ({type(exc).__name__})") from None

    async def _read_chunked(self, proto: Any) -> bytes:
        """A chunked body, at most ``max_body`` bytes. Granian 2.8 does not raise when the
        chunked framing is broken: its stream yields an empty chunk for the error and another
        one for the end, where a sound body ends with exactly one empty chunk."""
        chunks: list[bytes] = []
        size, ended = 0, False
        async for chunk in proto:
            if ended:
                raise _Refusal(400, "malformed chunked body")
            if not chunk:
                ended = True
                continue
            size += len(chunk)
            if size > self.max_body:
                raise _Refusal(413, f"body over {self.max_body} bytes")
            chunks.append(bytes(chunk))
        return b"".join(chunks)

    def _run_app(self, environ: dict[str, Any]) -> tuple[int, list[tuple[str, str]], bytes]:
        response: list[Any] = [500, []]

        def start_response(status: str, headers: list[Any], exc_info: Any = None) -> None:
            response[0], response[1] = int(status.split(" ", 1)[0]), headers

        if environ["PATH_INFO"] == self.ready_path and self.draining.is_set():
            start_response("503 Service Unavailable", _draining_headers())
            return 503, response[1], _DRAINING_BODY
        cache = self.cache
        key = cache.key_of(environ) if cache is not None else None
        if cache is not None and key is not None:
            cached = cache.lookup(key)
            if cached is not None:
                return cached
        result = self.app(environ, start_response)
        try:
            body = b"".join(result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        answer = response[0], response[1], body
        if cache is not None and key is not None:
            cache.store(environ, key, answer)
        return answer

    async def __rsgi__(self, scope: Any, proto: Any) -> None:
        if scope.proto != "http":
            return
        started = time.perf_counter()
        try:
            body = await self._read_body(scope, proto)
        except _Refusal as refusal:
            log.warning(
                "refused %s %s: %d %s",
                scope.method,
                scope.path,
                refusal.status,
                refusal.reason,
                extra={"client": scope.client},
            )
            text = _REFUSALS[refusal.status].encode() + b"\n"
            headers = [("content-type", "text/plain"), ("connection", "close")]
            proto.response_bytes(refusal.status, headers, text)
            return
        environ = build_environ(scope, body)
        loop = self.loop or asyncio.get_running_loop()
        try:
            if self.runs_on_loop is not None and self.runs_on_loop(scope.method, scope.path, body):
                status, headers, payload = self._run_app(environ)
            else:
                status, headers, payload = await loop.run_in_executor(
                    self.executor, self._run_app, environ
                )
        except Exception:  # the app's own error handlers normally answer first
            log.exception("unhandled error in %s %s", scope.method, scope.path)
            status, headers, payload = 500, [("content-type", "text/plain")], b"500\n"
        proto.response_bytes(status, headers, payload)
        if self.access_log:
            access.info(
                '%s "%s %s" %d %.1fms',
                environ["REMOTE_ADDR"],
                scope.method,
                scope.path,
                status,
                (time.perf_counter() - started) * 1000,
            )


def _draining_headers() -> list[tuple[str, str]]:
    return [
        ("Content-Type", "application/json"),
        ("Content-Length", str(len(_DRAINING_BODY))),
        ("Cache-Control", "no-store"),
    ]
