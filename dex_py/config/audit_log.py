"""The ``audit`` section (a dex-py addition): the audit log kept in storage.

::

    audit:
      store: true          # keep security events and admin changes in storage (default true)
      retention: 2160h     # how long they are kept (default 90 days); then garbage-collected

What is kept: logins that succeed or fail (connector errors included), revocations, refresh
token reuse, authorization code replay, logouts and admin changes; not every token issued
(those stay log lines only, so the token path writes nothing more). ``dex-py audit export``
prints them as JSON lines. The log lines on ``dex_py.audit`` are written either way.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from dex_py.config.durations import parse_duration
from dex_py.config.model import ConfigError

SECTION = "audit"
SECTION_KEYS = ("store", "retention")


@dataclass(frozen=True)
class AuditPolicy:
    store: bool = True
    retention: timedelta = timedelta(days=90)

    @classmethod
    def from_config(cls, section: Any) -> AuditPolicy:
        """Parse the section; every problem is reported with its key path."""
        if section is None:
            return cls()
        if not isinstance(section, dict):
            raise ConfigError([(SECTION, "must be a mapping")])
        errors: list[tuple[str, str]] = []
        values: dict[str, Any] = {}
        for key, value in section.items():
            path = f"{SECTION}.{key}"
            if key == "store":
                if not isinstance(value, bool):
                    errors.append((path, "must be true or false"))
                values["store"] = value is True
            elif key == "retention":
                try:
                    retention = parse_duration(str(value))
                except ValueError as exc:
                    errors.append((path, str(exc)))
                    continue
                if retention <= timedelta(0):
                    errors.append((path, "must be a positive duration"))
                values["retention"] = retention
            else:
                expected = ", ".join(SECTION_KEYS)
                errors.append((path, f"unknown key (expected one of: {expected})"))
        if errors:
            raise ConfigError(errors)
        return cls(**values)
