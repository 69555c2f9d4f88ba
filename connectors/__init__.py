"""The connector registry: Dex connector type names to connector classes (DESIGN §2).

Built-in types are listed in ``BUILTIN`` as ``"module:Class"`` strings and imported only when a
config uses them. Third-party connectors register an entry point in the group
``dex_py.connectors`` (``name = "package.module:Class"``); built-ins win over an entry point of
the same name. There is deliberately no directory scanning.

``open_connector`` builds a ready connector from a ``connectors[].config`` mapping;
``validate_connector_config`` only parses it (no network), for ``dex-py check-config``;
``config_schemas`` gives the JSON Schema of each built-in type's ``config:`` mapping.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Mapping
from importlib.metadata import entry_points
from typing import Any

from connectors.base import (
    Connector,
    ConnectorConfigError,
    config_schema,
    get_logger,
    parse_config,
)

__all__ = [
    "BUILTIN",
    "ENTRY_POINT_GROUP",
    "ConnectorLoadError",
    "UnknownConnectorType",
    "config_schemas",
    "known_types",
    "open_connector",
    "resolve",
    "validate_connector_config",
]

ENTRY_POINT_GROUP = "dex_py.connectors"

BUILTIN: dict[str, str] = {
    "local": "connectors.local:LocalConnector",
    "mockCallback": "connectors.mock:MockCallbackConnector",
    "mockPassword": "connectors.mock:MockPasswordConnector",
    "ldap": "connectors.ldap:LDAPConnector",
    "github": "connectors.github:GitHubConnector",
    "gitlab": "connectors.gitlab:GitLabConnector",
    "oauth": "connectors.oauth:OAuth2Connector",
    "authproxy": "connectors.authproxy:AuthProxyConnector",
    "oidc": "connectors.oidc:OIDCConnector",
    # Planned built-ins (Dex type name -> module), added here as they are written:
    #   "ldap": "connectors.ldap:LDAPConnector",
    #   "oidc": "connectors.oidc:OIDCConnector",
    #   "github": "connectors.github:GitHubConnector",
    #   "gitlab": "connectors.gitlab:GitLabConnector",
    #   "oauth": "connectors.oauth2:OAuth2Connector",
    #   "authproxy": "connectors.authproxy:AuthProxyConnector",
}

_log = logging.getLogger(__name__)


class UnknownConnectorType(ConnectorConfigError):
    """No built-in connector or installed plugin has this type name."""

    def __init__(self, type_name: str, known: list[str]) -> None:
        self.type_name = type_name
        self.known = list(known)
        listed = ", ".join(self.known) or "none"
        super().__init__([("type", f"unknown connector type {type_name!r} (known: {listed})")])


class ConnectorLoadError(ConnectorConfigError):
    """The type is registered but its class cannot be imported or is not a ``Connector``."""

    def __init__(self, type_name: str, target: str, reason: str) -> None:
        self.type_name = type_name
        self.target = target
        super().__init__([("type", f"connector type {type_name!r} ({target}) {reason}")])


def _plugins() -> dict[str, Any]:
    """Installed entry points of group ``dex_py.connectors``, by name."""
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def known_types() -> list[str]:
    """Every type name a config may use: built-ins plus installed plugins, sorted."""
    return sorted(set(BUILTIN) | set(_plugins()))


def _load_builtin(type_name: str, target: str) -> Any:
    module_name, _, attr = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConnectorLoadError(type_name, target, f"cannot be imported: {exc}") from exc
    try:
        return getattr(module, attr)
    except AttributeError as exc:
        raise ConnectorLoadError(type_name, target, "does not exist") from exc


def resolve(type_name: str) -> type[Connector]:
    """The connector class for ``type_name``; raises ``UnknownConnectorType`` (listing the
    known types) or ``ConnectorLoadError``."""
    plugins = _plugins()
    if type_name in BUILTIN:
        if type_name in plugins:
            _log.warning(
                "entry point %r in group %s is shadowed by the built-in connector",
                type_name,
                ENTRY_POINT_GROUP,
            )
        target = BUILTIN[type_name]
        obj = _load_builtin(type_name, target)
    elif type_name in plugins:
        ep = plugins[type_name]
        target = ep.value
        try:
            obj = ep.load()
        except Exception as exc:  # a broken plugin must become a config error, not a crash
            raise ConnectorLoadError(type_name, target, f"cannot be loaded: {exc}") from exc
    else:
        raise UnknownConnectorType(type_name, known=sorted(set(BUILTIN) | set(plugins)))
    if not (isinstance(obj, type) and issubclass(obj, Connector)):
        raise ConnectorLoadError(type_name, target, "is not a Connector subclass")
    return obj


def open_connector(
    type_name: str,
    config: Mapping[str, Any] | None,
    *,
    connector_id: str,
    logger: logging.Logger | None = None,
    **services: Any,
) -> Connector:
    """Resolve ``type_name`` and build the connector from its ``config:`` mapping.

    Raises ``ConnectorConfigError`` (key paths start with ``config``) for a bad config, and
    ``UnknownConnectorType``/``ConnectorLoadError`` (path ``type``) for a bad type.
    ``services`` are handed to the connector's ``open`` (e.g. ``password_lookup`` for ``local``).
    """
    cls = resolve(type_name)
    data = dict(config) if isinstance(config, Mapping) else config
    return cls.open(
        data,
        connector_id=connector_id,
        logger=logger or get_logger(connector_id),
        **services,
    )


def validate_connector_config(type_name: str, config: Any) -> list[tuple[str, str]]:
    """Every problem with a connector's type and ``config:`` mapping, as ``(key path, message)``
    pairs (empty when valid). Parses only; opens no connection."""
    try:
        cls = resolve(type_name)
    except ConnectorConfigError as exc:
        return list(exc.errors)
    config_cls = getattr(cls, "Config", None)
    if config_cls is None:
        return []
    try:
        parse_config(config_cls, config)
    except ConnectorConfigError as exc:
        return list(exc.errors)
    return []


def config_schemas() -> dict[str, dict[str, Any]]:
    """The JSON Schema of the ``config:`` mapping of each built-in connector type (the rules of
    ``validate_connector_config``), by type name. Installed plugins are left out: the published
    schema must not depend on what happens to be installed."""
    schemas: dict[str, dict[str, Any]] = {}
    for type_name in sorted(BUILTIN):
        config_cls = getattr(_load_builtin(type_name, BUILTIN[type_name]), "Config", None)
        schemas[type_name] = config_schema(config_cls) if config_cls is not None else {}
    return schemas
