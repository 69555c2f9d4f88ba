"""Housekeeping in the background: signing-key rotation and storage garbage collection.

Every gunicorn worker runs one daemon thread (started from the ``post_worker_init`` hook) that,
every ``interval`` seconds give or take 20% jitter, calls ``keys.rotate_if_due()`` and
``storage.garbage_collect(clock.now())``, removes audit records past ``audit.retention``, then
retries due back-channel logout deliveries (``dex_py.backchannel.deliver_due``). Several
workers and replicas doing this is safe: key rotation is a compare-and-swap in storage, so
exactly one of them rotates, collecting an already-collected row is a no-op, and a logout
delivery is claimed before it is sent. The thread logs what it did and every failure, and
never dies.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable
from typing import Any, Protocol

from dex_py.clock import Clock
from dex_py.storage import DATABASE_UNAVAILABLE, error_reason
from dex_py.storage.base import GCResult

log = logging.getLogger("dex_py.background")  # the name before the move

JITTER = 0.2


class _Keys(Protocol):
    def rotate_if_due(self) -> bool: ...


class _GCStorage(Protocol):
    def garbage_collect(self, now: Any) -> GCResult: ...


class Services(Protocol):
    """What the loop needs from ``app.extensions["dex_py"]`` (read-only attributes)."""

    @property
    def keys(self) -> _Keys: ...
    @property
    def storage(self) -> _GCStorage: ...
    @property
    def clock(self) -> Clock: ...


def _rotate(services: Services) -> bool:
    rotated = bool(services.keys.rotate_if_due())
    if rotated:
        log.info("signing key rotated")
    return rotated


def _collect(services: Services) -> GCResult:
    result = services.storage.garbage_collect(services.clock.now())
    if result.total:
        log.info(
            "garbage collection removed %d expired object(s)",
            result.total,
            extra={
                "auth_requests": result.auth_requests,
                "auth_codes": result.auth_codes,
                "refresh_tokens": result.refresh_tokens,
                "revoked_tokens": result.revoked_tokens,
                "sessions": result.sessions,
                "device_requests": result.device_requests,
                "attempt_counters": result.attempt_counters,
            },
        )
    else:
        log.debug("garbage collection: nothing to remove")
    return result


def _deliver_logouts(services: Services) -> int:
    """Retry due back-channel logout deliveries (``dex_py.backchannel``). Skipped for services
    whose storage has no logout queue."""
    if not hasattr(services.storage, "list_logout_events"):
        return 0
    from dex_py.backchannel import deliver_due

    return deliver_due(services)  # type: ignore[arg-type]


def _expire_audit(services: Services) -> int:
    """Remove audit records older than ``audit.retention``. Skipped for services without an
    audit policy or a storage without an audit log."""
    policy = getattr(services, "audit_policy", None)
    storage = services.storage
    if policy is None or not hasattr(storage, "delete_audit_records"):
        return 0
    removed = int(storage.delete_audit_records(services.clock.now() - policy.retention))
    if removed:
        log.info("audit log: %d record(s) past the retention removed", removed)
    return removed


def run_once(services: Services) -> tuple[bool, GCResult]:
    """Rotate the signing key if due, collect expired objects, then retry due back-channel
    logouts. Returns ``(rotated, gc_result)``; exceptions propagate (the loop catches them)."""
    rotated, collected = _rotate(services), _collect(services)
    _expire_audit(services)
    _deliver_logouts(services)
    return rotated, collected


def _safe_run_once(services: Services) -> None:
    """One iteration that never raises: each task is attempted and logged separately. A
    database that is down or not answering is one line per task (it is expected, and already
    visible in the health checks), anything else a full traceback."""
    tasks = (
        (_rotate, "signing key rotation"),
        (_collect, "garbage collection"),
        (_expire_audit, "audit log retention"),
        (_deliver_logouts, "back-channel logout delivery"),
    )
    for task, what in tasks:
        try:
            task(services)
        except DATABASE_UNAVAILABLE as exc:
            log.error("%s failed: database unavailable: %s", what, error_reason(exc))
        except Exception:
            log.exception("%s failed", what)


def jittered(interval: float, rng: random.Random | None = None) -> float:
    """``interval`` scaled by a random factor in [0.8, 1.2]."""
    return interval * (1 + (rng or random).uniform(-JITTER, JITTER))


def start_periodic(
    task: Callable[[], object],
    *,
    interval: float,
    name: str,
    stop_event: threading.Event | None = None,
    run_first: bool = True,
) -> threading.Thread:
    """Start a daemon thread that calls ``task`` every ``interval`` seconds, give or take 20%
    jitter (so workers started together spread out). ``task`` must not raise. Set
    ``stop_event`` to end it (it stops within one wait). With ``run_first`` the first call
    comes after a short jitter instead of a whole interval."""
    if interval <= 0:
        raise ValueError("background interval must be positive")
    stop = stop_event if stop_event is not None else threading.Event()
    rng = random.Random()

    def loop() -> None:
        delay = rng.uniform(0, min(1.0, interval * JITTER)) if run_first else jittered(interval)
        while not stop.wait(delay):
            task()
            delay = jittered(interval, rng)
        log.debug("%s stopped", name)

    thread = threading.Thread(target=loop, name=name, daemon=True)
    thread.stop_event = stop  # type: ignore[attr-defined]
    thread.start()
    return thread


def start_background(
    services: Services,
    *,
    interval: float,
    stop_event: threading.Event | None = None,
    run_first: bool = True,
) -> threading.Thread:
    """Start the housekeeping daemon thread (``start_periodic``); with ``run_first`` a fresh
    deployment gets its first signing key without waiting a full interval."""
    return start_periodic(
        lambda: _safe_run_once(services),
        interval=interval,
        name="dex-py-housekeeping",
        stop_event=stop_event,
        run_first=run_first,
    )
