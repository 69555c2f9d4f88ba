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

Secrets are never passed here (no passwords, codes or tokens); the log handler's redaction
(``dex_py.ops.logs``) would mask them anyway. Operators filter on the logger name:
``logger=dex_py.audit``.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import has_request_context, request

from dex_py.ops.metrics import count_event
from dex_py.services import services
from dex_py.web.client_address import client_address

log = logging.getLogger("dex_py.audit")

SUCCESS = "success"
FAILURE = "failure"
MAX_LABEL_VALUES = 200
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
    **details: Any,
) -> None:
    """Log one audit line (see the module docstring)."""
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
    count_event(
        "dexpy_audit_events_total",
        event=event,
        outcome=outcome,
        grant_type=str(details.get("grant_type") or ""),
        client=_bounded("client", client),
        connector=_bounded("connector", connector),
    )
