"""The config model: Dex's ``config.yaml`` schema as typed dataclasses, and ``ConfigError``.

Reading YAML into these lives in ``dex_py.config.loader`` (with ``reader`` and ``sections``), the
semantic rules in ``dex_py.config.validation``; ``dex_py.config`` re-exports all of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

# The schema's vocabulary.
STORAGE_TYPES = ("sqlite3", "postgres", "mysql", "etcd", "memory")
TLS_VERSIONS = ("1.2", "1.3")
LOG_LEVELS = ("debug", "info", "warn", "warning", "error")
LOG_FORMATS = ("text", "json")
SIGNING_ALGORITHMS = ("RS256", "ES256")
SERVER_ENGINES = ("granian", "gunicorn")
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

__all__ = [
    "DEVICE_CODE_GRANT",
    "GRANT_TYPES",
    "LOCAL_CONNECTOR_ID",
    "LOG_FORMATS",
    "LOG_LEVELS",
    "RESPONSE_TYPE_PARTS",
    "SERVER_ENGINES",
    "SIGNING_ALGORITHMS",
    "STORAGE_TYPES",
    "TLS_VERSIONS",
    "TOKEN_EXCHANGE_GRANT",
    "ClientRemoteIP",
    "Config",
    "ConfigError",
    "ConnectorConfig",
    "ExpiryConfig",
    "FrontendConfig",
    "GrpcConfig",
    "LoggerConfig",
    "OAuth2Config",
    "RefreshTokenExpiry",
    "ServerConfig",
    "SigningConfig",
    "StaticClient",
    "StaticPassword",
    "StorageConfig",
    "TelemetryConfig",
    "WebConfig",
]


@dataclass
class ClientRemoteIP:
    """``web.clientRemoteIP`` (as in Dex): where the client's address is read from behind a
    reverse proxy. ``header`` empty: the TCP peer's address."""

    header: str = ""  # e.g. X-Forwarded-For or X-Real-IP
    trusted_proxies: list[str] = field(default_factory=list)  # trustedProxies: CIDRs or addresses


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
    client_remote_ip: ClientRemoteIP = field(default_factory=ClientRemoteIP)  # clientRemoteIP


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
    id_tokens: timedelta = timedelta(hours=24)  # idTokens
    # accessTokens: a dex-py addition (Dex uses idTokens for both); None = same as idTokens
    access_tokens: timedelta | None = None
    auth_requests: timedelta = timedelta(hours=24)  # authRequests
    device_requests: timedelta = timedelta(minutes=5)  # deviceRequests
    auth_codes: timedelta = timedelta(minutes=5)  # authCodes: a dex-py addition (Dex fixes it)
    refresh_tokens: RefreshTokenExpiry = field(default_factory=RefreshTokenExpiry)

    @property
    def access_token_lifetime(self) -> timedelta:
        """How long an access token lives: ``accessTokens``, else ``idTokens``."""
        return self.access_tokens if self.access_tokens is not None else self.id_tokens

    @property
    def token_lifetime(self) -> timedelta:
        """The longest-lived signed token (how long a retired signing key must be published)."""
        return max(self.id_tokens, self.access_token_lifetime)


@dataclass
class LoggerConfig:
    level: str = "info"  # debug | info | warn | error
    format: str = "text"  # text | json
    exclude_fields: list[str] = field(default_factory=list)  # excludeFields: dropped from lines
    access_log: bool = False  # accessLog (a dex-py addition): one line per request


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
    backchannel_logout_uri: str = ""  # backchannelLogoutURI (OIDC Back-Channel Logout 1.0)
    # client_secret_basic | client_secret_post | private_key_jwt | none; "" = a secret, any way
    token_endpoint_auth_method: str = ""  # tokenEndpointAuthMethod
    jwks: dict[str, Any] = field(default_factory=dict)  # jwks: inline JWK Set (private_key_jwt)
    jwks_uri: str = ""  # jwksURI: where the client publishes its JWK Set (private_key_jwt)
    # skipApproval: no approval page for this client (oauth2.skipApprovalScreen does not cover
    # public clients, RFC 8252 §8.6; this does)
    skip_approval: bool = False
    # requireMFA: every login to this client needs a second factor (the mfa section)
    require_mfa: bool = False


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
    """dex-py addition (top-level ``server``): how ``dex-py serve`` runs (dex_py.serving.server)."""

    workers: int = 0  # 0 = cores + 1, capped at 8
    timeout: int = 30  # seconds: gunicorn's worker timeout; granian's bound on a graceful stop
    gc_interval: timedelta = timedelta(minutes=5)  # gcInterval
    engine: str = "granian"  # granian | gunicorn
    shutdown_delay: timedelta = timedelta(seconds=5)  # shutdownDelay: readiness 503 before stop


@dataclass
class GrpcConfig:
    """``grpc``: Dex's gRPC API (dex_py.grpc_api), served by ``dex-py serve`` when ``addr`` is
    set. Mutual TLS (all three files) is required unless ``addr`` is loopback."""

    addr: str = ""
    tls_cert: str = ""  # tlsCert
    tls_key: str = ""  # tlsKey
    tls_client_ca: str = ""  # tlsClientCA: the CA that signs the API clients' certificates
    reflection: bool = False  # the gRPC server reflection service


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
    grpc: GrpcConfig = field(default_factory=GrpcConfig)
    # Reserved top-level sections (teams, proxy, kube, admin, session) as raw mappings; the
    # modules that own them parse and validate them. Absent sections are absent here.
    extensions: dict[str, dict] = field(default_factory=dict)
    # Non-fatal findings of load(): unknown keys, insecure settings.
    warnings: list[str] = field(default_factory=list)
    # The warnings about keys or values dex-py drops (each says "ignored" or "not used"):
    # check-config fails on them.
    ignored: list[str] = field(default_factory=list)


class ConfigError(Exception):
    """The config is invalid. ``errors`` holds every ``(key path, message)`` found."""

    def __init__(self, errors: list[tuple[str, str]]) -> None:
        self.errors = errors
        super().__init__("\n".join(f"{k}: {m}" for k, m in errors))
