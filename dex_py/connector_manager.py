"""The connectors the server federates: opened once per process, looked up by id.

Config-defined connectors (plus the password DB, id ``local``, when ``enablePasswordDB`` is
set) are opened at start. A connector that fails to open is kept as *unavailable* with its error,
so one broken directory never takes the others down; ``/healthz/ready`` and the login page
report it. Which capability a connector has is asked here, in one dispatcher, not at every call
site (DESIGN §6).
"""

from __future__ import annotations

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

log = logging.getLogger(__name__)

LOCAL_ID = "local"


@dataclass
class ConnectorEntry:
    id: str
    type: str
    name: str
    connector: Connector | None
    error: str = ""
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
    """Holds the opened connectors in config order."""

    def __init__(self, config: Config, services: dict[str, Any]) -> None:
        self._health_lock = threading.Lock()
        self._entries: dict[str, ConnectorEntry] = {}
        specs = list(config.connectors)
        if config.enable_password_db:
            specs.insert(0, ConnectorConfig(type="local", id=LOCAL_ID, name="Email"))
        for spec in specs:
            self._entries[spec.id] = self._open(spec, services)

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
        return self._entries.get(connector_id)

    def all(self) -> list[ConnectorEntry]:
        return list(self._entries.values())

    HEALTH_TTL = 15.0

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
        for entry in self._entries.values():
            if entry.connector is not None:
                try:
                    entry.connector.close()
                except Exception:
                    log.warning("connector %s failed to close", entry.id, exc_info=True)
