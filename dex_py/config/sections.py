"""Dex's camelCase config keys mapped, section by section, to the dataclasses of ``dex_py.config``.

``SectionReader`` extends the typed-value ``Reader`` of ``dex_py.config.reader`` with one method
per section (``storage``, ``web``, ``expiry``, ``oauth2``, ``staticClients``, ``connectors``,
``staticPasswords``, ``frontend``, and our ``signing``/``server``); ``config`` builds the whole
``Config``. Reserved top-level sections of ours (``teams``, ``proxy``, ``kube``, ``kubernetes``,
``admin``, ``session``) are kept as raw mappings for the modules that own them.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any

from dex_py.config import feature_flags
from dex_py.config.model import (
    ClientRemoteIP,
    Config,
    ConnectorConfig,
    ExpiryConfig,
    FrontendConfig,
    GrpcConfig,
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
from dex_py.config.reader import Reader
from dex_py.config.validation import looks_like_bcrypt

RESERVED_SECTIONS = (
    "teams",
    "proxy",
    "kube",
    "kubernetes",
    "admin",
    "session",
    "bruteForce",
    "mfa",
    "audit",
)
_TOP_KEYS = (
    "issuer",
    "storage",
    "web",
    "telemetry",
    "expiry",
    "logger",
    "oauth2",
    "staticClients",
    "connectors",
    "enablePasswordDB",
    "staticPasswords",
    "frontend",
    "signing",
    "server",
    "grpc",
    *RESERVED_SECTIONS,
)


class SectionReader(Reader):
    """Builds a ``Config`` from a parsed Dex config, collecting errors and warnings."""

    def config(self, data: Mapping[Any, Any]) -> Config:
        self.keys(data, "", _TOP_KEYS)
        config = Config(issuer=self.string(data, "issuer", ""))
        config.storage = self.storage(data)
        config.web = self.web(data)
        telemetry = self.section(data, "telemetry", "", ("http",), ("enableProfiling",))
        config.telemetry = TelemetryConfig(http=self.string(telemetry, "http", "telemetry"))
        config.expiry = self.expiry(data)
        logger = self.section(data, "logger", "", ("level", "format", "excludeFields", "accessLog"))
        config.logger = LoggerConfig(
            level=self.string(logger, "level", "logger", "info").lower(),
            format=self.string(logger, "format", "logger", "text").lower(),
            exclude_fields=self.strings(logger, "excludeFields", "logger"),
            access_log=self.boolean(logger, "accessLog", "logger"),
        )
        config.oauth2 = self.oauth2(data)
        config.static_clients = self.items(data, "staticClients", self.client)
        config.connectors = self.items(data, "connectors", self.connector)
        config.enable_password_db = self.boolean(data, "enablePasswordDB", "")
        config.static_passwords = self.items(data, "staticPasswords", self.password)
        config.frontend = self.frontend(data)
        signing = self.section(data, "signing", "", ("algorithm",))
        config.signing = SigningConfig(
            algorithm=self.string(signing, "algorithm", "signing", "RS256")
        )
        server = self.section(
            data, "server", "", ("workers", "timeout", "gcInterval", "engine", "shutdownDelay")
        )
        defaults = ServerConfig()
        config.server = ServerConfig(
            workers=self.integer(server, "workers", "server", defaults.workers),
            timeout=self.integer(server, "timeout", "server", defaults.timeout),
            gc_interval=self.duration(server, "gcInterval", "server", defaults.gc_interval),
            engine=self.string(server, "engine", "server", defaults.engine).lower(),
            shutdown_delay=self.duration(
                server, "shutdownDelay", "server", defaults.shutdown_delay
            ),
        )
        config.grpc = self.grpc(data)
        for name in RESERVED_SECTIONS:
            if name in data:
                config.extensions[name] = self.mapping(data[name], name)
        return config

    def grpc(self, data: Mapping[Any, Any]) -> GrpcConfig:
        known = ("addr", "tlsCert", "tlsKey", "tlsClientCA", "reflection")
        grpc = self.section(data, "grpc", "", known)
        return GrpcConfig(
            addr=self.string(grpc, "addr", "grpc"),
            tls_cert=self.string(grpc, "tlsCert", "grpc"),
            tls_key=self.string(grpc, "tlsKey", "grpc"),
            tls_client_ca=self.string(grpc, "tlsClientCA", "grpc"),
            reflection=self.boolean(grpc, "reflection", "grpc"),
        )

    def storage(self, data: Mapping[Any, Any]) -> StorageConfig:
        storage = self.section(data, "storage", "", ("type", "config"))
        raw = self.mapping(storage.get("config"), "storage.config")
        return StorageConfig(
            type=self.string(storage, "type", "storage", ""),
            config=self.expanded(raw, "storage.config"),
        )

    def web(self, data: Mapping[Any, Any]) -> WebConfig:
        known = ["http", "https", "tlsCert", "tlsKey", "tlsMinVersion", "headers"]
        known += ["allowedOrigins", "allowedHeaders", "clientRemoteIP"]
        web = self.section(data, "web", "", known, ("tlsMaxVersion",))
        remote = self.section(web, "clientRemoteIP", "web", ("header", "trustedProxies"))
        return WebConfig(
            http=self.string(web, "http", "web"),
            https=self.string(web, "https", "web"),
            tls_cert=self.string(web, "tlsCert", "web"),
            tls_key=self.string(web, "tlsKey", "web"),
            tls_min_version=self.version(web, "tlsMinVersion", "web", "1.2"),
            headers=self.string_map(web, "headers", "web"),
            allowed_origins=self.strings(web, "allowedOrigins", "web"),
            allowed_headers=self.strings(web, "allowedHeaders", "web"),
            client_remote_ip=ClientRemoteIP(
                header=self.string(remote, "header", "web.clientRemoteIP"),
                trusted_proxies=self.strings(remote, "trustedProxies", "web.clientRemoteIP"),
            ),
        )

    def expiry(self, data: Mapping[Any, Any]) -> ExpiryConfig:
        known = (
            "signingKeys",
            "idTokens",
            "accessTokens",
            "authRequests",
            "deviceRequests",
            "authCodes",
        )
        expiry = self.section(data, "expiry", "", (*known, "refreshTokens"))
        d = ExpiryConfig()
        path = "expiry.refreshTokens"
        refresh = self.section(
            expiry,
            "refreshTokens",
            "expiry",
            ("validIfNotUsedFor", "absoluteLifetime", "reuseInterval", "disableRotation"),
        )
        r = RefreshTokenExpiry()
        return ExpiryConfig(
            signing_keys=self.duration(expiry, "signingKeys", "expiry", d.signing_keys),
            id_tokens=self.duration(expiry, "idTokens", "expiry", d.id_tokens),
            access_tokens=self.optional_duration(expiry, "accessTokens", "expiry"),
            auth_requests=self.duration(expiry, "authRequests", "expiry", d.auth_requests),
            device_requests=self.duration(expiry, "deviceRequests", "expiry", d.device_requests),
            auth_codes=self.duration(expiry, "authCodes", "expiry", d.auth_codes),
            refresh_tokens=RefreshTokenExpiry(
                # Dex: empty or zero means "no limit".
                valid_if_not_used_for=self.optional_duration(refresh, "validIfNotUsedFor", path)
                or None,
                absolute_lifetime=self.optional_duration(refresh, "absoluteLifetime", path) or None,
                reuse_interval=self.duration(refresh, "reuseInterval", path, r.reuse_interval),
                disable_rotation=self.boolean(refresh, "disableRotation", path),
            ),
        )

    def oauth2(self, data: Mapping[Any, Any]) -> OAuth2Config:
        known = ("grantTypes", "responseTypes", "skipApprovalScreen", "alwaysShowLoginScreen")
        oauth2 = self.section(data, "oauth2", "", (*known, "passwordConnector"))
        d = OAuth2Config()
        if feature_flags.client_credentials_by_default():
            d.grant_types.append("client_credentials")
        return OAuth2Config(
            grant_types=self.strings(oauth2, "grantTypes", "oauth2", d.grant_types),
            response_types=self.strings(oauth2, "responseTypes", "oauth2", d.response_types),
            skip_approval_screen=self.boolean(oauth2, "skipApprovalScreen", "oauth2"),
            always_show_login_screen=self.boolean(oauth2, "alwaysShowLoginScreen", "oauth2"),
            password_connector=self.string(oauth2, "passwordConnector", "oauth2"),
        )

    def client(self, item: dict[Any, Any], path: str) -> StaticClient:
        known = ["id", "idEnv", "secret", "secretEnv", "name", "redirectURIs", "trustedPeers"]
        known += ["public", "logoURL", "allowedConnectors", "allowedGroups", "grantTypes"]
        known += ["tokenEndpointAuthMethod", "jwks", "jwksURI", "skipApproval", "requireMFA"]
        self.keys(item, path, (*known, "postLogoutRedirectURIs", "backchannelLogoutURI"))
        public = self.boolean(item, "public", path)
        if f"{path}.public" in self.suppressed:
            self.suppressed.add(f"{path}.secret")  # unknown whether a secret is needed
        client_id = self.env(item, "idEnv", path, "id")
        secret = self.env(item, "secretEnv", path, "secret")
        return StaticClient(
            id=client_id if client_id is not None else self.string(item, "id", path),
            secret=secret if secret is not None else self.string(item, "secret", path),
            name=self.string(item, "name", path),
            redirect_uris=self.strings(item, "redirectURIs", path),
            trusted_peers=self.strings(item, "trustedPeers", path),
            public=public,
            logo_url=self.string(item, "logoURL", path),
            allowed_connectors=self.strings(item, "allowedConnectors", path),
            allowed_groups=self.strings(item, "allowedGroups", path),
            grant_types=self.strings(item, "grantTypes", path),
            post_logout_redirect_uris=self.strings(item, "postLogoutRedirectURIs", path),
            backchannel_logout_uri=self.string(item, "backchannelLogoutURI", path),
            token_endpoint_auth_method=self.string(item, "tokenEndpointAuthMethod", path),
            jwks=self.mapping(item.get("jwks"), f"{path}.jwks"),
            jwks_uri=self.string(item, "jwksURI", path),
            skip_approval=self.boolean(item, "skipApproval", path),
            require_mfa=self.boolean(item, "requireMFA", path),
        )

    def connector(self, item: dict[Any, Any], path: str) -> ConnectorConfig:
        self.keys(item, path, ("type", "id", "name", "config"))
        raw = self.mapping(item.get("config"), f"{path}.config")
        return ConnectorConfig(
            type=self.string(item, "type", path),
            id=self.string(item, "id", path),
            name=self.string(item, "name", path),
            config=self.expanded(raw, f"{path}.config"),
        )

    def password(self, item: dict[Any, Any], path: str) -> StaticPassword:
        self.keys(item, path, ("email", "hash", "hashFromEnv", "username", "userID", "groups"))
        text = self.string(item, "hash", path)
        if not text and "hashFromEnv" in item:
            text = self.env(item, "hashFromEnv", path, "hash") or ""
        elif item.get("hashFromEnv"):
            self.warn(f"{path}.hashFromEnv", "ignored because hash is set")
        return StaticPassword(
            email=self.string(item, "email", path),
            hash=decode_bcrypt_hash(text),
            username=self.string(item, "username", path),
            user_id=self.string(item, "userID", path),
            groups=self.strings(item, "groups", path),
        )

    def frontend(self, data: Mapping[Any, Any]) -> FrontendConfig:
        known = ("dir", "theme", "issuer", "logoURL", "extra")
        frontend = self.section(data, "frontend", "", known)
        d = FrontendConfig()
        return FrontendConfig(
            dir=self.string(frontend, "dir", "frontend"),
            theme=self.string(frontend, "theme", "frontend", d.theme) or d.theme,
            issuer=self.string(frontend, "issuer", "frontend", d.issuer) or d.issuer,
            logo_url=self.string(frontend, "logoURL", "frontend"),
            extra=self.string_map(frontend, "extra", "frontend"),
        )


def decode_bcrypt_hash(text: str) -> bytes:
    """Dex accepts a bcrypt hash as is (``$2a$10$...``) or base64-encoded; return the raw hash.
    Text that is neither comes back as its bytes, for ``validate`` to reject."""
    raw = text.strip().encode()
    if not raw or looks_like_bcrypt(raw):
        return raw
    try:
        decoded = base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        return raw
    return decoded if looks_like_bcrypt(decoded) else raw
