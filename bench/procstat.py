"""What the benchmark reads from /proc while a run goes: CPU time of the workers, of the
database's backends and of the whole machine (``CpuMeter``, ``wait_for_quiet``), and the
workers' memory (``RssSampler``, ``proc_status_kib``). Linux only."""

from __future__ import annotations

import contextlib
import os
import resource
import threading
import time
from pathlib import Path
from typing import Protocol


class Workers(Protocol):
    """The server under test, as far as the samplers need it."""

    def worker_pids(self) -> list[int]: ...


def proc_status_kib(pid: int, key: str) -> int:
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def cpu_by_pid(pids: list[int]) -> dict[int, float]:
    """User + system CPU seconds of each of ``pids`` still alive (from /proc/<pid>/stat)."""
    seconds = {}
    for pid in pids:
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            ticks = int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
            seconds[pid] = ticks / os.sysconf("SC_CLK_TCK")
    return seconds


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of ``pids``, together."""
    return sum(cpu_by_pid(pids).values())


def cpu_spent(start: dict[int, float], end: dict[int, float]) -> float:
    """CPU seconds spent between two ``cpu_by_pid`` readings by the processes alive at the end
    (a process that ended in between is left out, rather than subtracted)."""
    return sum(t - start.get(pid, 0.0) for pid, t in end.items())


def db_backend_pids(database: str) -> list[int]:
    """PostgreSQL backend processes serving ``database`` (their CPU is the DB's cost)."""
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError):
                cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
                if cmdline.startswith(b"postgres: ") and f" {database} ".encode() in cmdline:
                    pids.append(int(entry))
    return pids


def busy_seconds() -> float:
    """CPU time the whole machine spent not idle (/proc/stat, all CPUs)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(fields[:8]) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


def wait_for_quiet(max_wait: float, busy_limit: float = 0.25) -> None:
    """Wait (at most ``max_wait`` s) for a second in which the machine is at most
    ``busy_limit`` busy: other jobs on a shared machine skew every number."""
    deadline = time.monotonic() + max_wait
    while time.monotonic() < deadline:
        before = busy_seconds()
        time.sleep(1.0)
        if (busy_seconds() - before) / (os.cpu_count() or 1) <= busy_limit:
            return


class CpuMeter:
    """CPU seconds spent during a run by the workers, the database backends, wrk, and everything
    else on the machine."""

    def __init__(self, server: Workers, database: str) -> None:
        self.server = server
        self.database = database
        self.start = self._read()

    def _read(self) -> tuple[dict[int, float], dict[int, float], float, float, float]:
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        return (
            cpu_by_pid(self.server.worker_pids()),
            cpu_by_pid(db_backend_pids(self.database)),
            children.ru_utime + children.ru_stime,  # wrk (and py-spy), once waited for
            busy_seconds(),
            time.monotonic(),
        )

    def finish(self) -> tuple[float, float, float]:
        """(worker CPU s, DB CPU s, share of the machine used by anything else)."""
        end = self._read()
        workers = cpu_spent(self.start[0], end[0])
        db = cpu_spent(self.start[1], end[1])
        wrk, busy, wall = (b - a for a, b in zip(self.start[2:], end[2:], strict=True))
        others = max(0.0, busy - workers - db - wrk) / ((os.cpu_count() or 1) * wall)
        return workers, db, others


class RssSampler(threading.Thread):
    """Samples VmRSS of every worker every 0.2 s; ``peak`` is the max per pid (KiB)."""

    def __init__(self, server: Workers) -> None:
        super().__init__(daemon=True)
        self.server = server
        self.peak: dict[int, int] = {}
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            for pid in self.server.worker_pids():
                self.peak[pid] = max(self.peak.get(pid, 0), proc_status_kib(pid, "VmRSS"))
            self._stop_event.wait(0.2)

    def finish(self) -> dict[int, int]:
        self._stop_event.set()
        self.join()
        return self.peak
