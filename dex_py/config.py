"""Configuration: Dex's ``config.yaml`` schema as typed dataclasses, loaded and validated.

``load(path)`` parses the YAML, expands ``$VAR``/``${VAR}`` in the parsed string values of
``storage.config`` and ``connectors[].config`` (never in raw YAML text), honours ``idEnv``,
``secretEnv`` and ``hashFromEnv``, and returns a ``Config``. ``validate`` reports *all* problems at
once, each with its key path (``staticClients[1].redirectURIs: required``); unknown keys are
warnings. Our own additions live under new top-level keys and never change a Dex key's meaning.

The dataclasses come first, then ``load``/``load_string``/``from_dict`` (thin wrappers over the
YAML reader in ``dex_py.config_load``), then the validation rules (``validate``).
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit


@dataclass
class WebConfig:
    http: str = ""
    https: str = ""
    tls_cert: str = ""  # tlsCert
    tls_key: str = ""  # tlsKey
    tls_min_version: str = "1.2"  # tlsMinVersion: "1.2" | "1.3"
    headers: dict[str, str] = field(default_factory=dict)  # extra response headers
    allowed_origins: list[str] = field(default_factory=list)  # allowedOrigins (CORS)
    allowed_headers: list[str] = field(default_factory=list)  # allowedHeaders (CORS)


@dataclass
class TelemetryConfig:
    http: str = ""  # address of the Prometheus metrics listener; "" = off


@dataclass
class RefreshTokenExpiry:
    valid_if_not_used_for: timedelta | None = None  # validIfNotUsedFor
    absolute_lifetime: timedelta | None = None  # absoluteLifetime
    reuse_interval: timedelta = timedelta(seconds=3)  # reuseInterval
    disable_rotation: bool = False  # disableRotation


@dataclass
class ExpiryConfig:
    signing_keys: timedelta = timedelta(hours=6)  # signingKeys
    id_tokens: timedelta = timedelta(hours=24)  # idTokens (also access tokens)
    auth_requests: timedelta = timedelta(hours=24)  # authRequests
    device_requests: timedelta = timedelta(minutes=5)  # deviceRequests
    auth_codes: timedelta = timedelta(minutes=5)  # authCodes: a dex-py addition (Dex fixes it)
    refresh_tokens: RefreshTokenExpiry = field(default_factory=RefreshTokenExpiry)


@dataclass
class LoggerConfig:
    level: str = "info"  # debug | info | warn | error
    format: str = "text"  # text | json


@dataclass
class OAuth2Config:
    grant_types: list[str] = field(
        default_factory=lambda: ["authorization_code", "refresh_token", "password"]
    )  # grantTypes
    response_types: list[str] = field(default_factory=lambda: ["code"])  # responseTypes
    skip_approval_screen: bool = False  # skipApprovalScreen
    always_show_login_screen: bool = False  # alwaysShowLoginScreen
    password_connector: str = ""  # passwordConnector


@dataclass
class StaticClient:
    id: str  # id, or from the variable named by idEnv
    secret: str = ""  # secret, or from the variable named by secretEnv
    name: str = ""
    redirect_uris: list[str] = field(default_factory=list)  # redirectURIs
    trusted_peers: list[str] = field(default_factory=list)  # trustedPeers
    public: bool = False
    logo_url: str = ""  # logoURL
    # dex-py additions (Dex ignores unknown client keys, so these do not break a Dex file):
    allowed_connectors: list[str] = field(default_factory=list)  # allowedConnectors
    allowed_groups: list[str] = field(default_factory=list)  # allowedGroups
    grant_types: list[str] = field(default_factory=list)  # grantTypes
    post_logout_redirect_uris: list[str] = field(default_factory=list)  # postLogoutRedirectURIs


@dataclass
class StaticPassword:
    email: str
    hash: bytes  # bcrypt hash: `hash` (plain or base64, as Dex accepts) or from hashFromEnv
    username: str
    user_id: str  # userID
    groups: list[str] = field(default_factory=list)


@dataclass
class ConnectorConfig:
    type: str
    id: str
    name: str
    config: dict = field(default_factory=dict)  # env-expanded


@dataclass
class StorageConfig:
    type: str = "memory"  # sqlite3 | postgres | mysql | memory
    config: dict = field(default_factory=dict)  # env-expanded; Dex's keys per type


@dataclass
class FrontendConfig:
    dir: str = ""  # overrides templates/ and static/ (expects templates/, static/, themes/)
    theme: str = "light"  # light | dark
    issuer: str = "dex-py"  # the name shown on pages
    logo_url: str = ""  # logoURL
    extra: dict[str, str] = field(default_factory=dict)


@dataclass
class SigningConfig:
    """dex-py addition (top-level ``signing``): the algorithm of the keys we generate."""

    algorithm: str = "RS256"  # RS256 | ES256


@dataclass
class ServerConfig:
    """dex-py addition (top-level ``server``): how ``dex-py serve`` runs gunicorn."""

    workers: int = 0  # 0 = 2 * cores + 1, capped at 8
    timeout: int = 30  # seconds
    gc_interval: timedelta = timedelta(minutes=5)  # gcInterval


@dataclass
class Config:
    issuer: str
    storage: StorageConfig = field(default_factory=StorageConfig)
    web: WebConfig = field(default_factory=WebConfig)
    telemetry: TelemetryConfig = field(default_factory=TelemetryConfig)
    expiry: ExpiryConfig = field(default_factory=ExpiryConfig)
    logger: LoggerConfig = field(default_factory=LoggerConfig)
    oauth2: OAuth2Config = field(default_factory=OAuth2Config)
    static_clients: list[StaticClient] = field(default_factory=list)  # staticClients
    connectors: list[ConnectorConfig] = field(default_factory=list)
    enable_password_db: bool = False  # enablePasswordDB
    static_passwords: list[StaticPassword] = field(default_factory=list)  # staticPasswords
    frontend: FrontendConfig = field(default_factory=FrontendConfig)
    signing: SigningConfig = field(default_factory=SigningConfig)
    server: ServerConfig = field(default_factory=ServerConfig)
    # Reserved top-level sections (teams, proxy, kube, admin, session) as raw mappings; the
    # modules that own them parse and validate them. Absent sections are absent here.
    extensions: dict[str, dict] = field(default_factory=dict)
    # Non-fatal findings of load(): unknown keys, insecure settings.
    warnings: list[str] = field(default_factory=list)


class ConfigError(Exception):
    """The config is invalid. ``errors`` holds every ``(key path, message)`` found."""

    def __init__(self, errors: list[tuple[str, str]]) -> None:
        self.errors = errors
        super().__init__("\n".join(f"{k}: {m}" for k, m in errors))


# --------------------------------------------------------------------------------------------
# Loading (the YAML reader lives in dex_py.config_load; these wrappers keep one import path).


def load(path: str | os.PathLike[str]) -> Config:
    """Read, parse and validate the YAML config at ``path``.

    Raises ``ConfigError`` listing every problem (YAML syntax errors with line and column, a
    missing file, wrong types, invalid values); non-fatal findings are in ``Config.warnings``.
    """
    from dex_py.config_load import load as _load

    return _load(path)


def load_string(text: str, source: str = "<string>") -> Config:
    """Like ``load`` but for YAML text; ``source`` names it in error messages."""
    from dex_py.config_load import load_string as _load_string

    return _load_string(text, source)


def from_dict(data: Mapping[str, Any], source: str = "<dict>") -> Config:
    """Build and validate a ``Config`` from an already-parsed mapping in Dex's schema (camelCase
    keys), applying env expansion and ``*Env`` keys exactly as ``load`` does."""
    from dex_py.config_load import from_dict as _from_dict

    return _from_dict(data, source)


# --------------------------------------------------------------------------------------------
# Validation: rules over the typed config. Every rule adds (key path, message); nothing stops
# at the first problem.

STORAGE_TYPES = ("sqlite3", "postgres", "mysql", "memory")
TLS_VERSIONS = ("1.2", "1.3")
LOG_LEVELS = ("debug", "info", "warn", "warning", "error")
LOG_FORMATS = ("text", "json")
SIGNING_ALGORITHMS = ("RS256", "ES256")
DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
TOKEN_EXCHANGE_GRANT = "urn:ietf:params:oauth:grant-type:token-exchange"
GRANT_TYPES = (
    "authorization_code",
    "refresh_token",
    "implicit",
    "password",
    DEVICE_CODE_GRANT,
    TOKEN_EXCHANGE_GRANT,
    "client_credentials",
)
RESPONSE_TYPE_PARTS = ("code", "token", "id_token")
LOCAL_CONNECTOR_ID = "local"  # the password-DB connector's id when enablePasswordDB is true

_At = Callable[[str, int], str]  # (section, list index) -> "section[original index]"
_BCRYPT = re.compile(rb"\$2[abxy]?\$(0[4-9]|[12][0-9]|3[01])\$[./A-Za-z0-9]{53}")
_URI_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*")


def looks_like_bcrypt(value: bytes) -> bool:
    """Whether ``value`` has the shape of a bcrypt hash (``$2a$10$`` + 53 characters)."""
    return _BCRYPT.fullmatch(value) is not None


def is_response_type(value: str) -> bool:
    """``code``, ``token``, ``id_token`` or a space-separated combination without repeats."""
    parts = value.split(" ")
    return bool(value) and len(set(parts)) == len(parts) and set(parts) <= set(RESPONSE_TYPE_PARTS)


@dataclass
class Validation:
    """What ``validate`` found: fatal ``errors`` as (key path, message), and ``warnings``."""

    errors: list[tuple[str, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def error(self, path: str, message: str) -> None:
        self.errors.append((path, message))

    def warn(self, path: str, message: str) -> None:
        self.warnings.append(f"{path}: {message}")


def validate(config: Config, *, positions: Mapping[str, Sequence[int]] | None = None) -> Validation:
    """Check every rule on ``config`` and return all errors and warnings (never raises).

    ``positions`` maps ``staticClients``/``connectors``/``staticPasswords`` to the index each
    entry had in the file, for when the loader dropped malformed entries; default: list order.
    """
    result = Validation()
    pos = positions or {}

    def at(section: str, i: int) -> str:
        indices = pos.get(section)
        return f"{section}[{indices[i] if indices is not None else i}]"

    _check_issuer(config.issuer, result)
    if not config.storage.type:
        result.error("storage.type", f"required: one of {', '.join(STORAGE_TYPES)}")
    elif config.storage.type not in STORAGE_TYPES:
        result.error("storage.type", f"must be one of {', '.join(STORAGE_TYPES)}")
    elif config.storage.type == "memory":
        result.warn("storage.type", "memory storage: data is lost on restart")
    _check_web(config.web, result)
    if config.telemetry.http:
        _check_address("telemetry.http", config.telemetry.http, result)
    _check_expiry(config.expiry, result)
    if config.logger.level not in LOG_LEVELS:
        result.error("logger.level", f"must be one of {', '.join(LOG_LEVELS)}")
    if config.logger.format not in LOG_FORMATS:
        result.error("logger.format", f"must be one of {', '.join(LOG_FORMATS)}")
    if config.signing.algorithm not in SIGNING_ALGORITHMS:
        result.error("signing.algorithm", f"must be one of {', '.join(SIGNING_ALGORITHMS)}")
    if config.server.workers < 0:
        result.error("server.workers", "must be 0 (automatic) or more")
    if config.server.timeout <= 0:
        result.error("server.timeout", "must be a positive number of seconds")
    if config.server.gc_interval <= timedelta(0):
        result.error("server.gcInterval", "must be a positive duration")

    connector_ids = _check_connectors(config, result, at)
    _check_plugin_configs(config, result, at)
    _check_oauth2(config, connector_ids, result)
    _check_clients(config, connector_ids, result, at)
    _check_passwords(config, result, at)
    return result


def _check_issuer(issuer: str, result: Validation) -> None:
    if not issuer:
        result.error("issuer", "required")
        return
    parts = urlsplit(issuer)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        result.error("issuer", "must be an absolute http:// or https:// URL")
        return
    if any(c.isspace() for c in issuer):
        result.error("issuer", "must not contain spaces")
    elif parts.query or parts.fragment or "?" in issuer or "#" in issuer:
        result.error("issuer", "must not have a query or fragment")
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        result.warn("issuer", "plain http on a non-loopback host: use https in production")


def _is_loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_address(path: str, address: str, result: Validation) -> None:
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit() or int(port) > 65535 or " " in host:
        result.error(path, "must be host:port (for example 127.0.0.1:5556 or :5556)")


def _check_web(web: WebConfig, result: Validation) -> None:
    if not web.http and not web.https:
        result.error("web", "set at least one of web.http and web.https")
    if web.http:
        _check_address("web.http", web.http, result)
    if web.https:
        _check_address("web.https", web.https, result)
        if not web.tls_cert:
            result.error("web.tlsCert", "required when web.https is set")
        if not web.tls_key:
            result.error("web.tlsKey", "required when web.https is set")
    if web.tls_min_version not in TLS_VERSIONS:
        result.error("web.tlsMinVersion", f"must be one of {', '.join(TLS_VERSIONS)}")


def _check_expiry(expiry: ExpiryConfig, result: Validation) -> None:
    for key, value in (
        ("signingKeys", expiry.signing_keys),
        ("idTokens", expiry.id_tokens),
        ("authRequests", expiry.auth_requests),
        ("deviceRequests", expiry.device_requests),
        ("authCodes", expiry.auth_codes),
    ):
        if value <= timedelta(0):
            result.error(f"expiry.{key}", "must be a positive duration")
    refresh = expiry.refresh_tokens
    for key, optional in (
        ("validIfNotUsedFor", refresh.valid_if_not_used_for),
        ("absoluteLifetime", refresh.absolute_lifetime),
    ):
        if optional is not None and optional < timedelta(0):
            result.error(f"expiry.refreshTokens.{key}", "must not be negative")
    if refresh.reuse_interval < timedelta(0):
        result.error("expiry.refreshTokens.reuseInterval", "must not be negative")


def _check_connectors(config: Config, result: Validation, at: _At) -> set[str]:
    seen: set[str] = set()
    for i, conn in enumerate(config.connectors):
        path = at("connectors", i)
        for key, value in (("type", conn.type), ("id", conn.id), ("name", conn.name)):
            if not value:
                result.error(f"{path}.{key}", "required")
        if not conn.id:
            continue
        if conn.id in seen:
            result.error(f"{path}.id", f"duplicate connector id {conn.id!r}")
        elif conn.id == LOCAL_CONNECTOR_ID and config.enable_password_db:
            result.error(f"{path}.id", "'local' is reserved for the password DB (enablePasswordDB)")
        seen.add(conn.id)
    if config.enable_password_db:
        seen.add(LOCAL_CONNECTOR_ID)
    return seen


def _check_plugin_configs(config: Config, result: Validation, at: _At) -> None:
    """Each connector's ``config`` against its typed dataclass, and ``storage.config`` against
    its backend, so ``check-config`` reports those problems together with all the others."""
    import connectors
    from dex_py.storage.engine import validate_storage_config

    for i, conn in enumerate(config.connectors):
        if conn.type:
            for key, message in connectors.validate_connector_config(conn.type, conn.config):
                result.error(f"{at('connectors', i)}.{key}", message)
    if config.storage.type in STORAGE_TYPES:
        try:
            for warning in validate_storage_config(config.storage):
                result.warnings.append(warning)
        except ConfigError as exc:
            for key, message in exc.errors:
                result.error(key, message)


def _check_grant_types(path: str, values: Sequence[str], result: Validation) -> None:
    for j, value in enumerate(values):
        if value not in GRANT_TYPES:
            result.error(f"{path}[{j}]", f"unknown grant type {value!r}")


def _check_oauth2(config: Config, connector_ids: set[str], result: Validation) -> None:
    oauth2 = config.oauth2
    _check_grant_types("oauth2.grantTypes", oauth2.grant_types, result)
    for j, value in enumerate(oauth2.response_types):
        if not is_response_type(value):
            result.error(
                f"oauth2.responseTypes[{j}]",
                f"unknown response type {value!r} (code, token, id_token or a combination)",
            )
    name = oauth2.password_connector
    if name and name not in connector_ids:
        hint = " (enablePasswordDB is false)" if name == LOCAL_CONNECTOR_ID else ""
        result.error("oauth2.passwordConnector", f"no connector with id {name!r}{hint}")


def _check_uri(path: str, uri: str, result: Validation) -> None:
    parts = urlsplit(uri)
    if not _URI_SCHEME.fullmatch(parts.scheme) or any(c.isspace() for c in uri):
        result.error(path, f"{uri!r} is not an absolute URI")
    elif parts.scheme in ("http", "https") and not parts.hostname:
        result.error(path, f"{uri!r} has no host")
    elif "#" in uri:
        result.error(path, f"{uri!r} must not have a fragment")


def _check_clients(config: Config, connector_ids: set[str], result: Validation, at: _At) -> None:
    ids = {client.id for client in config.static_clients if client.id}
    seen: set[str] = set()
    for i, client in enumerate(config.static_clients):
        path = at("staticClients", i)
        if not client.id:
            result.error(f"{path}.id", "required (id or idEnv)")
        elif client.id in seen:
            result.error(f"{path}.id", f"duplicate client id {client.id!r}")
        seen.add(client.id)
        if not client.public and not client.secret:
            result.error(f"{path}.secret", "required for a non-public client (secret or secretEnv)")
        for j, uri in enumerate(client.redirect_uris):
            _check_uri(f"{path}.redirectURIs[{j}]", uri, result)
        for j, uri in enumerate(client.post_logout_redirect_uris):
            _check_uri(f"{path}.postLogoutRedirectURIs[{j}]", uri, result)
        code_flow = not client.grant_types or {"authorization_code", "implicit"} & set(
            client.grant_types
        )
        if not client.public and not client.redirect_uris and code_flow:
            result.warn(f"{path}.redirectURIs", "empty: the client cannot use browser logins")
        for j, peer in enumerate(client.trusted_peers):
            if peer not in ids:
                result.warn(f"{path}.trustedPeers[{j}]", f"{peer!r} is not a static client")
        for j, conn in enumerate(client.allowed_connectors):
            if conn not in connector_ids:
                result.warn(f"{path}.allowedConnectors[{j}]", f"{conn!r} is not a connector here")
        _check_grant_types(f"{path}.grantTypes", client.grant_types, result)


def _check_passwords(config: Config, result: Validation, at: _At) -> None:
    emails: set[str] = set()
    user_ids: set[str] = set()
    for i, user in enumerate(config.static_passwords):
        path = at("staticPasswords", i)
        for key, value in (("email", user.email), ("username", user.username)):
            if not value:
                result.error(f"{path}.{key}", "required")
        if not user.user_id:
            result.error(f"{path}.userID", "required")
        elif user.user_id in user_ids:
            result.warn(f"{path}.userID", f"duplicate userID {user.user_id!r}")
        user_ids.add(user.user_id)
        if not user.hash:
            result.error(f"{path}.hash", "required (hash or hashFromEnv)")
        elif not looks_like_bcrypt(user.hash):
            result.error(f"{path}.hash", "not a bcrypt hash (plain '$2a$10$...' or base64 of one)")
        if user.email:
            if user.email.lower() in emails:
                result.error(f"{path}.email", f"duplicate email {user.email!r}")
            emails.add(user.email.lower())
    if config.static_passwords and not config.enable_password_db:
        result.warn("staticPasswords", "enablePasswordDB is false, so nobody can log in with them")
