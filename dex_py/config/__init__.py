"""Configuration: Dex's ``config.yaml`` schema as typed dataclasses, loaded and validated.

``load(path)`` parses the YAML, expands ``$VAR``/``${VAR}`` in the parsed string values of
``storage.config`` and ``connectors[].config`` (never in raw YAML text), honours ``idEnv``,
``secretEnv`` and ``hashFromEnv``, and returns a ``Config``. ``validate`` reports *all* problems at
once, each with its key path (``staticClients[1].redirectURIs: required``); unknown keys are
warnings. Our own additions live under new top-level keys and never change a Dex key's meaning.

The package: ``model`` (the dataclasses and ``ConfigError``), ``loader`` (``load``,
``load_string``, ``from_dict``) over ``reader``, ``sections``, ``envexpand`` and ``durations``;
``validation`` (the rules); ``teams`` and ``session`` (the sections of our own additions).
Import from ``dex_py.config``; modules inside the package import each other directly.
"""

from dex_py.config.loader import from_dict, load, load_string
from dex_py.config.model import (
    DEVICE_CODE_GRANT,
    GRANT_TYPES,
    LOCAL_CONNECTOR_ID,
    LOG_FORMATS,
    LOG_LEVELS,
    RESPONSE_TYPE_PARTS,
    SIGNING_ALGORITHMS,
    STORAGE_TYPES,
    TLS_VERSIONS,
    TOKEN_EXCHANGE_GRANT,
    Config,
    ConfigError,
    ConnectorConfig,
    ExpiryConfig,
    FrontendConfig,
    LoggerConfig,
    OAuth2Config,
    RefreshTokenExpiry,
    ServerConfig,
    SigningConfig,
    StaticClient,
    StaticPassword,
    StorageConfig,
    TelemetryConfig,
    WebConfig,
)
from dex_py.config.validation import (
    Validation,
    is_response_type,
    looks_like_bcrypt,
    validate,
)

__all__ = [
    "DEVICE_CODE_GRANT",
    "GRANT_TYPES",
    "LOCAL_CONNECTOR_ID",
    "LOG_FORMATS",
    "LOG_LEVELS",
    "RESPONSE_TYPE_PARTS",
    "SIGNING_ALGORITHMS",
    "STORAGE_TYPES",
    "TLS_VERSIONS",
    "TOKEN_EXCHANGE_GRANT",
    "Config",
    "ConfigError",
    "ConnectorConfig",
    "ExpiryConfig",
    "FrontendConfig",
    "LoggerConfig",
    "OAuth2Config",
    "RefreshTokenExpiry",
    "ServerConfig",
    "SigningConfig",
    "StaticClient",
    "StaticPassword",
    "StorageConfig",
    "TelemetryConfig",
    "Validation",
    "WebConfig",
    "from_dict",
    "is_response_type",
    "load",
    "load_string",
    "looks_like_bcrypt",
    "validate",
]
