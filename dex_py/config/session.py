"""The ``session`` section (a dex-py addition): single sign-on sessions' lifetimes.

::

    session:
      enabled: true            # false: every authorization request asks the user to log in
      idleTimeout: 8h
      absoluteLifetime: 24h

The sessions themselves live in ``dex_py.oauth.sessions``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from dex_py.config.durations import parse_duration
from dex_py.config.model import ConfigError

# The section's keys (the JSON Schema of dex_py.config.schema lists them for editors).
DURATION_KEYS = {"idleTimeout": "idle_timeout", "absoluteLifetime": "absolute_lifetime"}
SESSION_KEYS = ("enabled", *DURATION_KEYS)


@dataclass(frozen=True)
class SessionPolicy:
    enabled: bool = True
    idle_timeout: timedelta = timedelta(hours=8)
    absolute_lifetime: timedelta = timedelta(hours=24)

    def expiry(self, created: datetime, last_active: datetime) -> datetime:
        """When a session created then and last used then ends: the idle timeout after its
        last use, or its absolute lifetime, whichever comes first."""
        return min(created + self.absolute_lifetime, last_active + self.idle_timeout)

    @classmethod
    def from_config(cls, section: Any) -> SessionPolicy:
        """Parse the ``session`` section; every problem is reported with its key path."""
        if section is None:
            return cls()
        if not isinstance(section, dict):
            raise ConfigError([("session", "must be a mapping")])
        errors: list[tuple[str, str]] = []
        values: dict[str, Any] = {}
        for key, value in section.items():
            path = f"session.{key}"
            if key == "enabled":
                if not isinstance(value, bool):
                    errors.append((path, "must be true or false"))
                values["enabled"] = bool(value)
            elif key in DURATION_KEYS:
                try:
                    duration = parse_duration(str(value))
                except ValueError as exc:
                    errors.append((path, str(exc)))
                    continue
                if duration <= timedelta(0):
                    errors.append((path, "must be a positive duration"))
                values[DURATION_KEYS[key]] = duration
            else:
                errors.append((path, "unknown key"))
        if errors:
            raise ConfigError(errors)
        return cls(**values)
