"""Audit events: one log line per security-relevant event, on the logger ``dex_py.audit``.

Each line says what happened (``event``: ``login``, ``token``, ``refresh_reuse``,
``code_replay``, ``revocation``, ``logout``), how it ended (``outcome``: ``success`` or
``failure``), and who was involved, as fields (``extra``, so the JSON log mode has them as
keys): ``user`` (the user id, or the name typed into a failed login form), ``email``,
``client``, ``connector``, ``ip`` (the client's address, honouring ``web.clientRemoteIP``
behind a reverse proxy) and event details such as ``grant_type`` or ``reason``. Fields left
empty are not written.

Every line is also counted in ``dexpy_audit_events_total`` (event, outcome, grant type, client,
connector). Client and connector names can come from a request that failed, so each label
takes at most ``MAX_LABEL_VALUES`` distinct values per process, then ``other``: a client
inventing ids cannot grow the metrics without bound.

The security events among them (``STORED_EVENTS``: logins, revocations, refresh token reuse,
code replay, logouts, admin changes; not every token issued) are also kept in storage as
``AuditRecord`` rows (the ``audit`` section: ``store``, ``retention``), for the admin console
and ``dex-py audit export``. A storage failure there is logged and does not fail the request.

Secrets are never passed here (no passwords, codes or tokens); the log handler's redaction
(``dex_py.ops.logs``) would mask them anyway. Operators filter on the logger name:
``logger=dex_py.audit``.
"""

from __future__ import annotations

import json
import logging
import secrets
from datetime import UTC, datetime
from typing import Any

from flask import Response, after_this_request, has_app_context, has_request_context, request

from dex_py.ops.metrics import count_event
from dex_py.services import services
from dex_py.storage import DATABASE_UNAVAILABLE
from dex_py.storage.base import AuditRecord, Storage, StorageError
from dex_py.web.client_address import client_address

log = logging.getLogger("dex_py.audit")

SUCCESS = "success"
FAILURE = "failure"
MAX_LABEL_VALUES = 200
STORED_EVENTS = frozenset(
    {"login", "revocation", "refresh_reuse", "code_replay", "logout", "admin"}
)
_RECORD_FIELDS = ("event", "outcome", "client", "connector", "ip")
_OBJECT_FIELDS = ("object", "email", "user", "kid")  # the first one set names the object
_label_values: dict[str, set[str]] = {"client": set(), "connector": set()}


def _bounded(label: str, value: str) -> str:
    seen = _label_values[label]
    if value in seen:
        return value
    if len(seen) >= MAX_LABEL_VALUES:
        return "other"
    seen.add(value)
    return value


def request_ip() -> str:
    """The address of the client of the current request ("" outside a request)."""
    if not has_request_context():
        return ""
    remote = services().config.web.client_remote_ip
    forwarded = request.headers.getlist(remote.header) if remote.header else []
    return client_address(remote, request.remote_addr or "", forwarded)


def audit(
    event: str,
    outcome: str = SUCCESS,
    *,
    user: str = "",
    email: str = "",
    client: str = "",
    connector: str = "",
    storage: Storage | None = None,
    **details: Any,
) -> None:
    """Log one audit line (see the module docstring), and keep a security event in storage
    (the request's, or ``storage`` when called outside a request, as the CLI does)."""
    fields: dict[str, Any] = {
        "event": event,
        "outcome": outcome,
        "user": user,
        "email": email,
        "client": client,
        "connector": connector,
        "ip": request_ip(),
        **details,
    }
    kept = {key: value for key, value in fields.items() if value not in ("", None)}
    level = logging.INFO if outcome == SUCCESS else logging.WARNING
    log.log(level, "audit: %s %s", event, outcome, extra=kept)
    if event in STORED_EVENTS:
        _store(kept, storage)
    count_event(
        "dexpy_audit_events_total",
        event=event,
        outcome=outcome,
        grant_type=str(details.get("grant_type") or ""),
        client=_bounded("client", client),
        connector=_bounded("connector", connector),
    )


def _store(fields: dict[str, Any], storage: Storage | None) -> None:
    now = datetime.now(UTC)
    if storage is None:
        if not has_app_context():
            return
        svc = services()
        if not svc.audit_policy.store:
            return
        storage, now = svc.storage, svc.clock.now()
    details = {
        k: v for k, v in fields.items() if k not in (*_RECORD_FIELDS, "user", "actor", "object")
    }
    record = AuditRecord(
        id=secrets.token_hex(16),
        time=now,
        actor=str(fields.get("actor") or fields.get("user") or ""),
        object=str(
            fields.get("object")
            or fields.get("email")
            or fields.get("user")
            or fields.get("kid")
            or ""
        ),
        details=json.dumps(details, sort_keys=True, default=str),
        **{k: str(fields.get(k, "")) for k in _RECORD_FIELDS},
    )
    if not hasattr(storage, "create_audit_record"):  # a stand-in storage of a test or tool
        return
    target = storage
    if has_request_context():
        # Written once the view is done: an event may be reported from inside a storage
        # transaction (refresh token reuse), and a second connection writing then would wait
        # on that transaction's lock.
        @after_this_request
        def write(response: Response) -> Response:
            _write(target, record)
            return response

        return
    _write(target, record)


def _write(storage: Storage, record: AuditRecord) -> None:
    try:
        storage.create_audit_record(record)
    except (StorageError, *DATABASE_UNAVAILABLE) as exc:
        log.error("audit record not stored: %s", type(exc).__name__)
