"""The ``admin`` section (a dex-py addition): who may use the admin console and the JSON admin API.

::

    admin:
      teams: [platform-admins]     # users in any of these teams are admins (their teams, as
                                   # the teams section maps their upstream groups)
      emails: [ops@example.com]    # ... and these users, by verified email (case-insensitive)
      clients: [automation]        # clients that may ask the client_credentials grant for the
                                   # scope ``dex-py:admin`` (the JSON admin API's bearer tokens)

Nobody is an admin by default: without the section the console answers every login with 403 and
the ``dex-py:admin`` scope is refused to every client. The lists are checked on every request,
not only at login.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dex_py.config.model import ConfigError

SECTION = "admin"
SECTION_KEYS = ("teams", "emails", "clients")
ADMIN_SCOPE = "dex-py:admin"
# the admin console's own (built-in, public) client: the console logs in through the issuer
CONSOLE_CLIENT_ID = "dex-py-admin"


@dataclass(frozen=True)
class AdminPolicy:
    teams: frozenset[str] = frozenset()
    emails: frozenset[str] = frozenset()  # lower-cased
    clients: frozenset[str] = frozenset()

    def is_admin(self, *, email: str, email_verified: bool, teams: tuple[str, ...]) -> bool:
        """Whether a user with these claims may use the console."""
        if self.teams.intersection(teams):
            return True
        return bool(email) and email_verified and email.lower() in self.emails

    def api_client(self, client_id: str) -> bool:
        """Whether this client may be granted ``dex-py:admin``."""
        return client_id in self.clients

    @classmethod
    def from_config(cls, section: Any) -> AdminPolicy:
        """Parse the section; every problem is reported with its key path."""
        if section is None:
            return cls()
        if not isinstance(section, dict):
            raise ConfigError([(SECTION, "must be a mapping")])
        errors: list[tuple[str, str]] = []
        values: dict[str, frozenset[str]] = {}
        for key, value in section.items():
            path = f"{SECTION}.{key}"
            if key not in SECTION_KEYS:
                expected = ", ".join(SECTION_KEYS)
                errors.append((path, f"unknown key (expected one of: {expected})"))
                continue
            if value is None:
                value = []
            if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
                errors.append((path, "must be a list of non-empty strings"))
                continue
            values[key] = frozenset(v.lower() if key == "emails" else v for v in value)
        if errors:
            raise ConfigError(errors)
        return cls(**values)
