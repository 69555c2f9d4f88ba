"""The connectors the server federates: opened once per process, looked up by id.

Config-defined connectors (plus the password DB, id ``local``, when ``enablePasswordDB`` is
set) are opened at start, and after them the connectors kept in storage (added at run time by
the admin console, the JSON API or Dex's gRPC API; a config connector wins on an id clash).
Whoever changes a stored connector bumps the storage's change counter; every process notices
within about a second (``storage.change_watch``, polled on ``get``/``all``) and re-opens the
connectors whose record changed, closes removed ones and opens new ones. A connector that fails
to open is kept as *unavailable* with its error, so one broken directory never takes the others
down; ``/healthz/ready`` and the login page report it. Which capability a connector has is
asked here, in one dispatcher, not at every call site (DESIGN §6).
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import connectors as registry
from connectors.base import (
    CallbackConnector,
    Connector,
    ConnectorConfigError,
    ConnectorError,
    PasswordConnector,
    RefreshConnector,
    TokenIdentityConnector,
)
from dex_py.config import Config, ConnectorConfig
from dex_py.storage.base import Connector as ConnectorRecord
from dex_py.storage.base import Storage
from dex_py.storage.change_watch import ChangeWatch

log = logging.getLogger(__name__)

LOCAL_ID = "local"


def connector_version(record: ConnectorRecord) -> str:
    """A short digest of a stored connector's type, name and config: changes whenever any of
    them does (what a running process compares, and an ETag)."""
    text = json.dumps([record.type, record.name, record.config], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass
class ConnectorEntry:
    id: str
    type: str
    name: str
    connector: Connector | None
    error: str = ""
    static: bool = True  # from the config file (False: kept in storage)
    version: str = ""  # ``connector_version`` of the stored record it was opened from
    # cached result of the connector's health check: (checked at, error or "")
    _health: tuple[float, str] = field(default=(0.0, ""), repr=False)

    @property
    def available(self) -> bool:
        return self.connector is not None

    @property
    def kind(self) -> str:
        """``password``, ``callback`` or ``""`` (unavailable)."""
        if isinstance(self.connector, PasswordConnector):
            return "password"
        if isinstance(self.connector, CallbackConnector):
            return "callback"
        return ""

    def password(self) -> PasswordConnector | None:
        c = self.connector
        return c if isinstance(c, PasswordConnector) else None

    def callback(self) -> CallbackConnector | None:
        c = self.connector
        return c if isinstance(c, CallbackConnector) else None

    def refresher(self) -> RefreshConnector | None:
        c = self.connector
        return c if isinstance(c, RefreshConnector) else None

    def token_identity(self) -> TokenIdentityConnector | None:
        c = self.connector
        return c if isinstance(c, TokenIdentityConnector) else None


class ConnectorManager:
    """Holds the opened connectors: the config's in config order, then the stored ones by id.
    With ``storage``, the stored ones follow its changes (see the module docstring)."""

    def __init__(
        self, config: Config, services: dict[str, Any], storage: Storage | None = None
    ) -> None:
        self._health_lock = threading.Lock()
        self._services = services
        self._static: dict[str, ConnectorEntry] = {}
        specs = list(config.connectors)
        if config.enable_password_db:
            specs.insert(0, ConnectorConfig(type="local", id=LOCAL_ID, name="Email"))
        for spec in specs:
            self._static[spec.id] = self._open(spec, services)
        self._stored: dict[str, ConnectorEntry] = {}
        self._entries: dict[str, ConnectorEntry] = dict(self._static)
        self._retired: list[ConnectorEntry] = []  # replaced last time: closed at the next change
        self._storage = storage
        self._watch: ChangeWatch | None = None
        if storage is not None:
            self._watch = ChangeWatch(storage, self._sync, what="connectors")
            self._watch.force()

    def refresh(self) -> None:
        """Pick up stored changes now (after this process made one), not within a second."""
        if self._watch is not None:
            self._watch.force()

    def _sync(self) -> None:
        """Open what is new or changed in storage, drop what is gone (under the watch's lock)."""
        assert self._storage is not None
        records = [r for r in self._storage.list_connectors() if r.id not in self._static]
        fresh: dict[str, ConnectorEntry] = {}
        for record in records:
            version = connector_version(record)
            old = self._stored.get(record.id)
            if old is not None and old.version == version:
                fresh[record.id] = old
                continue
            spec = ConnectorConfig(record.type, record.id, record.name, dict(record.config))
            entry = self._open(spec, self._services)
            entry.static, entry.version = False, version
            fresh[record.id] = entry
            log.info(
                "connector %s (%s) %s", record.id, record.type, "re-opened" if old else "opened"
            )
        gone = [e for id, e in self._stored.items() if fresh.get(id) is not e]
        for entry in gone:
            if entry.id not in fresh:
                log.info("connector %s removed", entry.id)
        self._stored = fresh
        self._entries = {**self._static, **fresh}  # one assignment: readers see old or new
        # Requests may still be using what was replaced: close it at the next change instead.
        retired, self._retired = self._retired, gone
        _close_all(retired)

    @staticmethod
    def _open(spec: ConnectorConfig, services: dict[str, Any]) -> ConnectorEntry:
        try:
            conn = registry.open_connector(
                spec.type,
                spec.config,
                connector_id=spec.id,
                logger=logging.getLogger(f"dex_py.connectors.{spec.id}"),
                **services,
            )
        except ConnectorConfigError as exc:
            log.error("connector %s (%s) has an invalid config: %s", spec.id, spec.type, exc)
            return ConnectorEntry(spec.id, spec.type, spec.name, None, f"invalid config: {exc}")
        except Exception as exc:
            log.error("connector %s (%s) could not be opened: %s", spec.id, spec.type, exc)
            return ConnectorEntry(
                spec.id, spec.type, spec.name, None, str(exc) or type(exc).__name__
            )
        return ConnectorEntry(spec.id, spec.type, spec.name, conn)

    def get(self, connector_id: str) -> ConnectorEntry | None:
        if self._watch is not None:
            self._watch.poll()
        return self._entries.get(connector_id)

    def all(self) -> list[ConnectorEntry]:
        if self._watch is not None:
            self._watch.poll()
        return list(self._entries.values())

    HEALTH_TTL = 15.0

    def problem(self, entry: ConnectorEntry) -> str:
        """Why the connector cannot be used now ("" when it can): the error it failed to open
        with, else its last health check's (``healthy``)."""
        if entry.connector is None:
            return entry.error or "unavailable"
        return "" if self.healthy(entry) else (entry._health[1] or "unavailable")

    TRIAL_TIMEOUT = 10.0

    def trial(
        self,
        type_name: str,
        config: dict[str, Any],
        *,
        connector_id: str = "trial",
        timeout: float | None = None,
    ) -> None:
        """Open a connector that is not saved yet, ask its upstream (``check``) and close it
        ("test connection"): raises ``ConnectorConfigError`` for a bad config,
        ``ConnectorError`` when it cannot be opened or the upstream does not answer, also when
        that takes longer than ``timeout`` seconds (default ``TRIAL_TIMEOUT``; the attempt is
        then left to finish, and close, in the background)."""
        timeout = self.TRIAL_TIMEOUT if timeout is None else timeout
        outcome: list[BaseException | None] = []

        def attempt() -> None:
            try:
                conn = registry.open_connector(
                    type_name,
                    config,
                    connector_id=connector_id,
                    logger=logging.getLogger(f"dex_py.connectors.{connector_id}"),
                    **self._services,
                )
                try:
                    conn.check()
                finally:
                    conn.close()
            except BaseException as exc:
                outcome.append(exc)
            else:
                outcome.append(None)

        worker = threading.Thread(target=attempt, name=f"trial-{connector_id}", daemon=True)
        worker.start()
        worker.join(timeout)
        if not outcome:
            raise ConnectorError(f"no answer within {timeout:g} s")
        error = outcome[0]
        if isinstance(error, ConnectorConfigError | ConnectorError):
            raise error
        if error is not None:
            log.warning("trying connector %s (%s) failed", connector_id, type_name, exc_info=error)
            raise ConnectorError(str(error) or type(error).__name__)

    def healthy(self, entry: ConnectorEntry) -> bool:
        """Whether the connector opened and its upstream answers. The upstream is asked at most
        every ``HEALTH_TTL`` seconds per process, so probes and login pages stay cheap."""
        if entry.connector is None:
            return False
        checked_at, error = entry._health
        now = time.monotonic()
        if now - checked_at >= self.HEALTH_TTL:
            with self._health_lock:
                error = ""
                try:
                    entry.connector.check()
                except ConnectorError as exc:
                    error = str(exc) or "unavailable"
                    log.warning("connector %s is unhealthy: %s", entry.id, error)
                except Exception:
                    error = "health check failed"
                    log.exception("connector %s health check raised", entry.id)
                entry._health = (now, error)
        return not error

    def close(self) -> None:
        _close_all([*self._entries.values(), *self._retired])
        self._retired = []


def _close_all(entries: list[ConnectorEntry]) -> None:
    for entry in entries:
        if entry.connector is None:
            continue
        try:
            entry.connector.close()
        except Exception:
            log.warning("connector %s failed to close", entry.id, exc_info=True)
