"""Back-channel logout delivery (OpenID Connect Back-Channel Logout 1.0).

When an SSO session ends, every client that received tokens in it and registered a
``backchannelLogoutURI`` gets a logout token (§2.4): a JWT signed with our keys, header
``typ: logout+jwt`` (§2.4, RFC 8725 §3.11), claims ``iss aud iat exp jti sub sid events`` and
never ``nonce``. It is POSTed as ``logout_token=<jwt>`` (``application/x-www-form-urlencoded``,
§2.5) with a short timeout, following no redirects; any 2xx answer counts as delivered (§2.8).

Each delivery is a ``LogoutEvent`` in storage: the retry queue and the audit record (client,
URI, sid, sub, status, attempts, last error). The token itself is never stored nor logged; a
retry signs a new one (new ``jti``, same ``sub``/``sid``).

The first attempt runs right away in a daemon thread, so a slow client never delays the user's
logout page. A failed attempt is retried by ``deliver_due`` (called from the housekeeping loop,
``dex_py.ops.background``) after 30 s, 2 min, 10 min and 1 h; after ``MAX_ATTEMPTS`` the event is
``failed``. Before sending, a worker *claims* the event in one ``update_logout_event`` (row
lock): it bumps ``attempts`` and moves ``next_attempt`` to the retry time, so another worker or
replica does not see it as due and no client gets the same delivery twice at once.
"""

from __future__ import annotations

import logging
import secrets
import threading
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import requests

from dex_py.jose import tokens
from dex_py.services import Services
from dex_py.storage.base import LogoutEvent, NotFoundError, Session

log = logging.getLogger(__name__)

EVENT = "http://schemas.openid.net/event/backchannel-logout"
TOKEN_TYPE = "logout+jwt"
TOKEN_LIFETIME = timedelta(minutes=2)
TIMEOUT = 5.0  # seconds, connect and read
# Wait after failed attempt n (1-based) before attempt n + 1.
BACKOFF = (
    timedelta(seconds=30),
    timedelta(minutes=2),
    timedelta(minutes=10),
    timedelta(hours=1),
)
MAX_ATTEMPTS = len(BACKOFF) + 1
MAX_ERROR_LENGTH = 300

_inflight: set[threading.Thread] = set()
_inflight_lock = threading.Lock()


def logout_token(svc: Services, event: LogoutEvent, now: datetime) -> str:
    """A freshly signed logout token for ``event`` (§2.4); a new ``jti`` every call."""
    claims: dict[str, Any] = {
        "iss": svc.issuer,
        "aud": event.client_id,
        "iat": int(now.timestamp()),
        "exp": int((now + TOKEN_LIFETIME).timestamp()),
        "jti": tokens.new_token_id(),
        "sub": event.sub,
        "sid": event.sid,
        "events": {EVENT: {}},
    }
    return tokens.sign(svc.keys, claims, typ=TOKEN_TYPE)


def start_logout(svc: Services, session: Session) -> list[LogoutEvent]:
    """Queue a delivery for every client of the ended ``session`` that registered a
    back-channel logout URI, and start the first attempts in the background."""
    now = svc.clock.now()
    sub = tokens.encode_sub(session.claims.user_id, session.connector_id)
    events: list[LogoutEvent] = []
    for client_id in dict.fromkeys(session.clients):
        client = svc.clients.get(client_id)
        if client is None or not client.backchannel_logout_uri:
            continue
        event = LogoutEvent(
            id=secrets.token_urlsafe(16),
            client_id=client_id,
            uri=client.backchannel_logout_uri,
            sid=session.id,
            sub=sub,
            created_at=now,
            next_attempt=now,
        )
        svc.storage.create_logout_event(event)
        events.append(event)
    if events:
        ids = [e.id for e in events]
        thread = threading.Thread(
            target=_deliver_in_background, args=(svc, ids), name="dex-py-logout", daemon=True
        )
        with _inflight_lock:
            _inflight.add(thread)
        thread.start()
    return events


def _deliver_in_background(svc: Services, event_ids: list[str]) -> None:
    try:
        for event_id in event_ids:
            try:
                deliver(svc, event_id)
            except Exception:
                log.exception("back-channel logout delivery crashed", extra={"event": event_id})
    finally:
        with _inflight_lock:
            _inflight.discard(threading.current_thread())


def drain(timeout: float) -> bool:
    """Wait for the first attempts started by ``start_logout`` (tests, shutdown); returns
    whether all finished within ``timeout`` seconds each."""
    with _inflight_lock:
        threads = list(_inflight)
    for thread in threads:
        thread.join(timeout)
    return not any(t.is_alive() for t in threads)


def deliver_due(svc: Services) -> int:
    """Attempt every pending delivery whose ``next_attempt`` has come; returns how many were
    delivered. Safe to run in several workers and replicas at once (see the module docstring)."""
    now = svc.clock.now()
    delivered = 0
    for event in svc.storage.list_logout_events(status="pending", due_before=now):
        try:
            result = deliver(svc, event.id)
        except Exception:
            log.exception("back-channel logout delivery crashed", extra={"event": event.id})
            continue
        if result is not None and result.status == "delivered":
            delivered += 1
    return delivered


def _claim(svc: Services, event_id: str, now: datetime) -> LogoutEvent | None:
    """Take the event for one attempt, or ``None`` if it is not due (someone else has it)."""
    claimed = False

    def take(e: LogoutEvent) -> LogoutEvent:
        nonlocal claimed
        claimed = e.status == "pending" and e.next_attempt is not None and e.next_attempt <= now
        if not claimed:
            return e
        attempts = e.attempts + 1
        retry = now + BACKOFF[min(attempts, len(BACKOFF)) - 1]
        return replace(e, attempts=attempts, next_attempt=retry)

    try:
        event = svc.storage.update_logout_event(event_id, take)
    except NotFoundError:
        return None
    return event if claimed else None


def _post(uri: str, token: str) -> str:
    """Send the token; ``""`` on success, else a short description of the failure."""
    try:
        resp = requests.post(
            uri,
            data={"logout_token": token},
            timeout=TIMEOUT,
            allow_redirects=False,
            headers={"Cache-Control": "no-store"},
        )
    except requests.RequestException as exc:
        return f"{type(exc).__name__}: {exc}"[:MAX_ERROR_LENGTH]
    with resp:
        if 200 <= resp.status_code < 300:
            return ""
        return f"HTTP {resp.status_code}"


def deliver(svc: Services, event_id: str) -> LogoutEvent | None:
    """One attempt at delivering the event, if it is due; returns the updated event, or
    ``None`` when it was not due or is gone."""
    now = svc.clock.now()
    event = _claim(svc, event_id, now)
    if event is None:
        return None
    error = _post(event.uri, logout_token(svc, event, now))
    finished = svc.clock.now()

    def record(e: LogoutEvent) -> LogoutEvent:
        if not error:
            return replace(e, status="delivered", next_attempt=None, last_error="")
        if e.attempts >= MAX_ATTEMPTS:
            return replace(e, status="failed", next_attempt=None, last_error=error)
        return replace(e, last_error=error)

    result = svc.storage.update_logout_event(event.id, record)
    fields = {
        "client_id": event.client_id,
        "uri": event.uri,
        "sid": event.sid,
        "attempt": event.attempts,
        "event": event.id,
    }
    if not error:
        log.info("back-channel logout delivered to %s", event.client_id, extra=fields)
    elif result.status == "failed":
        log.warning(
            "back-channel logout to %s failed for good after %d attempts: %s",
            event.client_id,
            event.attempts,
            error,
            extra=fields,
        )
    else:
        log.warning(
            "back-channel logout to %s failed (attempt %d, retry in %ds): %s",
            event.client_id,
            event.attempts,
            int(((result.next_attempt or finished) - finished).total_seconds()),
            error,
            extra=fields,
        )
    return result
