"""Noticing runtime changes made by other processes: ``ChangeWatch`` polls the storage's change
counter (``Storage.generation``) at most once per ``interval`` and rebuilds what a process keeps
in memory (the running connectors, the team rules) when it moved.

The poll runs on the request path, from the object that needs fresh state (so it survives a
fork, needs no thread, and costs nothing but a clock read on most requests): the first caller
after the interval reads the counter (one primary-key read), and only that caller; the others go
on with the current state meanwhile. A storage error keeps the current state and is retried
after the next interval, so a database hiccup never takes logins down. Where the storage
notifies changes (PostgreSQL ``LISTEN``/``NOTIFY``, ``storage.pg_notify``), a notification
ends the interval early: the next request reads the counter.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable

from dex_py.storage.base import Storage
from dex_py.storage.engine import error_reason

log = logging.getLogger(__name__)

POLL_INTERVAL = 1.0  # seconds between two reads of the counter, per process and watcher


class ChangeWatch:
    """Calls ``rebuild()`` when the change counter moved since the last successful rebuild."""

    def __init__(
        self,
        storage: Storage,
        rebuild: Callable[[], None],
        *,
        what: str,
        interval: float = POLL_INTERVAL,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._storage = storage
        self._rebuild = rebuild
        self._what = what  # for log lines: "connectors", "team rules"
        self._interval = interval
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._seen: int | None = None
        self._next = 0.0
        self._listening_pid = 0  # the process that asked for notifications (0: none yet)

    @property
    def seen(self) -> int | None:
        """The counter value of the state now in use (None before the first rebuild)."""
        return self._seen

    def _listen(self) -> None:
        """Ask for change notifications, once per process (a forked worker asks again)."""
        self._listening_pid = os.getpid()
        listen: Callable[[Callable[[], None]], None] | None = getattr(
            self._storage, "on_change", None
        )
        if listen is not None:
            listen(self.notified)

    def notified(self) -> None:
        """Something changed: the next ``poll`` reads the counter, interval or not."""
        self._next = 0.0

    def poll(self) -> None:
        """Rebuild if the interval passed and the counter moved; cheap otherwise."""
        if self._listening_pid != os.getpid():
            self._listen()
        if self._monotonic() < self._next or not self._lock.acquire(blocking=False):
            return
        try:
            self._next = self._monotonic() + self._interval
            self._refresh()
        finally:
            self._lock.release()

    def force(self) -> None:
        """Read the counter and rebuild if it moved, now (at start, and after a local change
        that must show at once in this process)."""
        with self._lock:
            self._next = self._monotonic() + self._interval
            self._refresh()

    def _refresh(self) -> None:
        try:
            generation = self._storage.generation()  # before the reads of rebuild()
            if generation != self._seen:
                self._rebuild()
                self._seen = generation
        except Exception as exc:
            log.warning(
                "could not reload the %s from storage (keeping the current ones): %s",
                self._what,
                error_reason(exc),
            )
