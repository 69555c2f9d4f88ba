"""A server process of the test's own (a database daemon, for example) and its state directory.

Database servers refuse to run as root, so when the tests run as root the server runs as its
package's system user (``postgres``, ``mysql``) with that user's group and no others; otherwise
it runs as the caller. Its state (data, socket, log) lives in a fresh directory under the system
temp dir, which that user owns; ``server_process`` starts the server from there, waits until
it answers, and on exit stops it by its pid (resuming it first, should a test have left it
paused), then deletes the directory.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.services import missing_service

STARTUP_SECONDS = 60.0
STOP_SECONDS = 30.0


@dataclass(frozen=True)
class RunAs:
    """Who a server runs as: ``None`` ids mean the caller itself."""

    uid: int | None = None
    gid: int | None = None

    def popen_args(self) -> dict[str, Any]:
        """``subprocess`` keyword arguments that switch to this user before ``exec``."""
        if self.uid is None:
            return {}
        return {"user": self.uid, "group": self.gid, "extra_groups": []}


def run_as(service: str, system_user: str) -> RunAs:
    """The caller when not root; as root, ``system_user`` (missing: ``missing_service``)."""
    if os.geteuid() != 0:
        return RunAs()
    try:
        entry = pwd.getpwnam(system_user)
    except KeyError:
        missing_service(service, f"running as root and there is no user {system_user!r}")
    return RunAs(entry.pw_uid, entry.pw_gid)


def log_tail(log: Path, size: int = 1500) -> str:
    return log.read_text(errors="replace")[-size:] if log.exists() else "(no log)"


def _spawn(argv: list[str], user: RunAs, state: Path, log: Path) -> subprocess.Popen[bytes]:
    """Start ``argv`` as ``user`` in ``state``, in a session of its own, output appended to
    ``log``."""
    with log.open("ab") as out:
        return subprocess.Popen(
            argv,
            cwd=state,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=out,
            start_new_session=True,
            **user.popen_args(),
        )


def run_setup(argv: list[str], user: RunAs, state: Path, log: Path) -> None:
    """Run a one-off setup command (``initdb`` ...) as the server's user; raise if it fails or
    takes longer than ``STARTUP_SECONDS``."""
    process = _spawn(argv, user, state, log)
    try:
        returncode = process.wait(STARTUP_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        raise RuntimeError(f"{argv[0]} still running after {STARTUP_SECONDS} s") from None
    if returncode != 0:
        raise RuntimeError(f"{argv[0]} exited {returncode}:\n{log_tail(log)}")


@contextlib.contextmanager
def state_directory(prefix: str, user: RunAs) -> Iterator[Path]:
    """A new directory that ``user`` owns (mode 0700), deleted on exit."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        if user.uid is not None:
            os.chown(path, user.uid, user.gid if user.gid is not None else -1)
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _stop(process: subprocess.Popen[bytes], stop_signal: signal.Signals) -> None:
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(process.pid, signal.SIGCONT)  # a stopped process would not act on the signal
        os.kill(process.pid, stop_signal)
    try:
        process.wait(STOP_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextlib.contextmanager
def server_process(
    argv: list[str],
    user: RunAs,
    state: Path,
    answers: Callable[[], bool],
    stop_signal: signal.Signals = signal.SIGTERM,
) -> Iterator[subprocess.Popen[bytes]]:
    """Start ``argv`` in ``state`` (output to ``state/server.log``), wait until ``answers()``;
    on exit send ``stop_signal`` to its pid and wait (SIGKILL after ``STOP_SECONDS``)."""
    log = state / "server.log"
    process = _spawn(argv, user, state, log)
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while not answers():
            if process.poll() is not None:
                raise RuntimeError(f"{argv[0]} exited {process.returncode}:\n{log_tail(log)}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{argv[0]} not answering after {STARTUP_SECONDS} s")
            time.sleep(0.1)
        yield process
    finally:
        _stop(process, stop_signal)
