"""Who made a change, and the audit record every change leaves (event ``admin``)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from dex_py.management.errors import ManagementError
from dex_py.ops.audit import FAILURE, SUCCESS, audit
from dex_py.services import Services


@dataclass(frozen=True)
class Actor:
    """``kind`` is ``console`` (an admin in the browser: ``id`` is their ``sub``), ``api`` (a
    client's bearer token: ``id`` is the client id) or ``grpc``/``cli``."""

    kind: str
    id: str
    email: str = ""

    @property
    def name(self) -> str:
        """How the audit log names the actor: ``console:ops@example.com``, ``api:automation``."""
        return f"{self.kind}:{self.email or self.id}"


def record(
    svc: Services,
    actor: Actor,
    action: str,
    object_type: str,
    object_id: str,
    *,
    ok: bool = True,
    **details: Any,
) -> None:
    """Audit one admin action (``client.create``, ``user.delete``, ...) on one object
    (``client:example-app``). ``details`` must never hold a secret. The record is kept in
    storage unless the ``audit`` section says ``store: false`` (the log line is written anyway)."""
    audit(
        "admin",
        SUCCESS if ok else FAILURE,
        actor=actor.name,
        action=action,
        object=f"{object_type}:{object_id}",
        storage=svc.storage if svc.audit_policy.store else None,  # audit.store: false keeps none
        **details,
    )


@contextmanager
def audited(
    svc: Services, actor: Actor, action: str, object_type: str, object_id: str, **details: Any
) -> Iterator[dict[str, Any]]:
    """Run one admin change and audit it: a success with ``details`` plus what the block put in
    the yielded dict, or, when it raises a ``ManagementError``, a failure naming the reason
    (the error's class, never its input). Other exceptions propagate unaudited (a crash)."""
    extra: dict[str, Any] = {}
    try:
        yield extra
    except ManagementError as exc:
        record(
            svc,
            actor,
            action,
            object_type,
            object_id,
            ok=False,
            reason=type(exc).__name__,
            **details,
        )
        raise
    record(svc, actor, action, object_type, object_id, **details, **extra)
