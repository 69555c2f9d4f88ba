"""dex_py.ops.background: one housekeeping pass, and a loop that survives failures."""

from __future__ import annotations

import logging
import random
import threading
from dataclasses import dataclass, field
from datetime import datetime

import pytest

from dex_py.clock import FrozenClock
from dex_py.ops.background import jittered, run_once, start_background
from dex_py.storage.base import GCResult

WAIT = 30.0  # generous upper bound for a thread to get going; never the thing under test


@dataclass
class FakeKeys:
    rotate: bool = False
    error: Exception | None = None
    calls: int = 0

    def rotate_if_due(self) -> bool:
        self.calls += 1
        if self.error:
            raise self.error
        return self.rotate


@dataclass
class FakeStorage:
    result: GCResult = field(default_factory=GCResult)
    error: Exception | None = None
    seen: list[datetime] = field(default_factory=list)
    ran: threading.Event = field(default_factory=threading.Event)
    target_calls: int = 1

    def garbage_collect(self, now: datetime) -> GCResult:
        self.seen.append(now)
        if len(self.seen) >= self.target_calls:
            self.ran.set()
        if self.error:
            raise self.error
        return self.result


@dataclass
class FakeServices:
    keys: FakeKeys = field(default_factory=FakeKeys)
    storage: FakeStorage = field(default_factory=FakeStorage)
    clock: FrozenClock = field(default_factory=FrozenClock)


def test_run_once_rotates_and_collects_with_clock_now(caplog: pytest.LogCaptureFixture) -> None:
    services = FakeServices(
        keys=FakeKeys(rotate=True),
        storage=FakeStorage(result=GCResult(auth_requests=2, refresh_tokens=1)),
    )
    caplog.set_level(logging.INFO, "dex_py.background")
    rotated, result = run_once(services)
    assert rotated is True
    assert result.total == 3
    assert services.storage.seen == [services.clock.now()]
    messages = [r.getMessage() for r in caplog.records]
    assert "signing key rotated" in messages
    assert "garbage collection removed 3 expired object(s)" in messages


def test_run_once_quiet_when_nothing_happened(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, "dex_py.background")
    assert run_once(FakeServices()) == (False, GCResult())
    assert caplog.records == []


def test_run_once_propagates_errors() -> None:
    with pytest.raises(RuntimeError):
        run_once(FakeServices(keys=FakeKeys(error=RuntimeError("db down"))))


def test_loop_survives_failures_and_stops(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, "dex_py.background")
    services = FakeServices(
        keys=FakeKeys(error=RuntimeError("keys broken")),
        storage=FakeStorage(error=RuntimeError("gc broken"), target_calls=3),
    )
    stop = threading.Event()
    thread = start_background(services, interval=0.01, stop_event=stop)
    assert thread.daemon
    assert services.storage.ran.wait(WAIT), "loop died after a failure"
    stop.set()
    thread.join(WAIT)
    assert not thread.is_alive()
    assert services.keys.calls >= 3  # rotation failing did not skip later passes
    errors = {r.getMessage() for r in caplog.records if r.levelno == logging.ERROR}
    assert errors == {"signing key rotation failed", "garbage collection failed"}


def test_loop_runs_first_pass_soon_then_waits_interval() -> None:
    services = FakeServices()
    stop = threading.Event()
    thread = start_background(services, interval=3600, stop_event=stop)
    assert services.storage.ran.wait(WAIT)
    stop.set()
    thread.join(WAIT)
    assert len(services.storage.seen) == 1


def test_interval_must_be_positive() -> None:
    with pytest.raises(ValueError):
        start_background(FakeServices(), interval=0)


def test_jitter_stays_within_twenty_percent() -> None:
    rng = random.Random(7)
    values = [jittered(100, rng) for _ in range(1000)]
    assert min(values) >= 80 and max(values) <= 120
    assert max(values) - min(values) > 20  # it does vary
