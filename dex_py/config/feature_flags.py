"""Dex's feature flags: ``DEX_<NAME>`` environment variables, read as Go's ``strconv.ParseBool``
reads them (``1 t T TRUE true True`` / ``0 f F FALSE false False``; anything else, or unset,
means the flag's default).

The flags dex-py honours, with Dex's defaults:

- ``DEX_EXPAND_ENV`` (true): expand ``$VAR`` in ``storage.config`` and ``connectors[].config``.
- ``DEX_CONFIG_DISALLOW_UNKNOWN_FIELDS`` (false): an unknown key in the config is an error, not
  a warning.
- ``DEX_CLIENT_CREDENTIAL_GRANT_ENABLED_BY_DEFAULT`` (false): without ``oauth2.grantTypes``,
  ``client_credentials`` is enabled with the default grants.
- ``DEX_API_CONNECTORS_CRUD`` (false): the gRPC API's connector calls answer (else they are
  refused, ``FAILED_PRECONDITION``).

The others Dex has mean nothing here: ``DEX_ENT_ENABLED`` (a Go storage engine),
``DEX_API_SESSIONS_IDENTITIES_CRUD`` (gRPC calls dex-py does not serve),
``DEX_SESSIONS_ENABLED`` (dex-py's login sessions follow the ``session`` section),
``DEX_CONTINUE_ON_CONNECTOR_FAILURE`` (dex-py always starts and marks such a connector
unavailable, as Dex's default does).
"""

from __future__ import annotations

import os

_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})
_FALSE = frozenset({"0", "f", "F", "FALSE", "false", "False"})


def flag(name: str, default: bool) -> bool:
    """The value of Dex's feature flag ``name`` (``expand_env`` reads ``DEX_EXPAND_ENV``)."""
    value = os.environ.get("DEX_" + name.upper(), "")
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    return default


def expand_env() -> bool:
    return flag("expand_env", True)


def disallow_unknown_fields() -> bool:
    return flag("config_disallow_unknown_fields", False)


def client_credentials_by_default() -> bool:
    return flag("client_credential_grant_enabled_by_default", False)


def api_connectors_crud() -> bool:
    return flag("api_connectors_crud", False)
