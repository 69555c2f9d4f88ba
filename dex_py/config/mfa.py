"""The ``mfa`` section (a dex-py addition): who must use a second factor, and which factors.

::

    mfa:
      required: false              # true: every login needs a second factor
      allowedMethods: [totp, webauthn, recovery]
      teams: [admins]              # members of these teams need one
      connectors: [ldap]           # users of these connectors need one
      issuer: dex-py               # the issuer name authenticator apps show for a TOTP entry

and, per client, ``staticClients[].requireMFA: true``. A user who enrolled a factor is always
asked for it, required or not. ``acr_values`` in an authorization request can demand it too
(``dex_py.mfa.policy``). ``recovery`` (single-use recovery codes) can only stand in for another
factor: it is never a method on its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dex_py.config.model import ConfigError

SECTION = "mfa"
METHODS = ("totp", "webauthn", "recovery")
SECTION_KEYS = ("required", "allowedMethods", "teams", "connectors", "issuer")
MAX_ISSUER_LENGTH = 64


@dataclass(frozen=True)
class MFAPolicy:
    required: bool = False
    allowed_methods: tuple[str, ...] = METHODS
    teams: tuple[str, ...] = ()
    connectors: tuple[str, ...] = ()
    issuer: str = "dex-py"

    def allows(self, method: str) -> bool:
        return method in self.allowed_methods

    @classmethod
    def from_config(cls, section: Any) -> MFAPolicy:
        """Parse the section; every problem is reported with its key path."""
        if section is None:
            return cls()
        if not isinstance(section, dict):
            raise ConfigError([(SECTION, "must be a mapping")])
        errors: list[tuple[str, str]] = []
        values: dict[str, Any] = {}
        for key, value in section.items():
            path = f"{SECTION}.{key}"
            if key == "required":
                if not isinstance(value, bool):
                    errors.append((path, "must be true or false"))
                values["required"] = value is True
            elif key == "allowedMethods":
                methods = _strings(value, path, errors)
                for i, method in enumerate(methods):
                    if method not in METHODS:
                        errors.append(
                            (
                                f"{path}[{i}]",
                                f"unknown method {method!r} "
                                f"(expected one of: {', '.join(METHODS)})",
                            )
                        )
                if methods and set(methods) <= {"recovery"}:
                    errors.append((path, "recovery codes need another method (totp or webauthn)"))
                values["allowed_methods"] = tuple(dict.fromkeys(methods))
            elif key in ("teams", "connectors"):
                values[key] = tuple(_strings(value, path, errors))
            elif key == "issuer":
                if not isinstance(value, str) or not value.strip():
                    errors.append((path, "must be a non-empty string"))
                elif len(value) > MAX_ISSUER_LENGTH or ":" in value:
                    errors.append((path, f"at most {MAX_ISSUER_LENGTH} characters, no ':'"))
                else:
                    values["issuer"] = value.strip()
            else:
                errors.append((path, f"unknown key (expected one of: {', '.join(SECTION_KEYS)})"))
        if errors:
            raise ConfigError(errors)
        return cls(**values)


def _strings(value: Any, path: str, errors: list[tuple[str, str]]) -> list[str]:
    if not isinstance(value, list):
        errors.append((path, "must be a list of strings"))
        return []
    out = []
    for i, item in enumerate(value):
        if not isinstance(item, str) or not item:
            errors.append((f"{path}[{i}]", "must be a non-empty string"))
        else:
            out.append(item)
    return out
