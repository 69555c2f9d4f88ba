"""Slow and idle HTTP clients for the serving tests and bench/serving.py.

``SlowClients(host, port, slow=N, idle=M, slow_body=B)`` opens ``N`` connections that send a
request head one byte per connection every ``interval`` seconds and never finish it (the
"slowloris" pattern), ``M`` connections that send nothing, and ``B`` that send a complete head
announcing a form body and then the body one byte per ``interval``. ``open_count()`` says how
many the server has not closed yet. Use it as a context manager; everything is closed on exit.
"""

from __future__ import annotations

import contextlib
import select
import socket
import threading
from types import TracebackType

HEAD = b"GET /dex/healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "
BODY_HEAD = (
    b"POST /dex/token HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100000\r\n\r\n"
)


class SlowClients:
    def __init__(
        self,
        host: str,
        port: int,
        *,
        slow: int,
        idle: int = 0,
        slow_body: int = 0,
        interval: float = 1.0,
    ) -> None:
        self.address = (host, port)
        self.counts = (slow, idle, slow_body)
        self.interval = interval
        self.slow: list[socket.socket] = []
        self.idle: list[socket.socket] = []
        self.slow_body: list[socket.socket] = []
        self.sent = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._dribble, daemon=True)

    def __enter__(self) -> SlowClients:
        slow, idle, slow_body = self.counts
        for group, count in ((self.slow, slow), (self.idle, idle), (self.slow_body, slow_body)):
            for _ in range(count):
                group.append(socket.create_connection(self.address, timeout=10))
        for sock in self.slow_body:
            sock.sendall(BODY_HEAD)
        self._thread.start()
        return self

    def _dribble(self) -> None:
        position = 0
        while not self._stop.is_set():
            byte = HEAD[position : position + 1] or b"a"  # the head, then an endless header
            for sock in self.slow:
                with contextlib.suppress(OSError):
                    sock.send(byte)
            for sock in self.slow_body:
                with contextlib.suppress(OSError):
                    sock.send(b"a")
            self.sent += 1
            position += 1
            self._stop.wait(self.interval)

    def open_count(self) -> int:
        """Connections the server still holds: not closed, reset or answered (any of which
        makes the socket readable)."""
        poller = select.poll()
        sockets = self.slow + self.idle + self.slow_body
        for sock in sockets:
            poller.register(sock, select.POLLIN | select.POLLERR | select.POLLHUP)
        return len(sockets) - len(poller.poll(0))

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        for sock in self.slow + self.idle + self.slow_body:
            sock.close()
