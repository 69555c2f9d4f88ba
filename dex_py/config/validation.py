"""Validation of a loaded ``Config``: the semantic rules, reporting every problem at once.

``validate(config)`` checks every rule and returns a ``Validation`` holding all fatal errors as
``(key path, message)`` pairs (``staticClients[1].redirectURIs[0]: ...``) and all warnings; it
never stops at the first problem and never raises. Each rule is a short ``_check_*`` function.
Connector configs, ``storage.config``, client JWK Sets and our own sections are checked by their
owners (``connectors``, ``dex_py.storage.settings``, ``dex_py.jose.client_assertions``,
``dex_py.config.teams``, ``session``, ``kubernetes``), none of which imports this package back.

The names here are re-exported by ``dex_py.config``.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from urllib.parse import urlsplit

import connectors
from dex_py.config.admin import CONSOLE_CLIENT_ID, AdminPolicy
from dex_py.config.admin import SECTION as ADMIN
from dex_py.config.audit_log import SECTION as AUDIT
from dex_py.config.audit_log import AuditPolicy
from dex_py.config.brute_force import SECTION as BRUTE_FORCE
from dex_py.config.brute_force import BruteForcePolicy
from dex_py.config.grpc_rules import check_grpc
from dex_py.config.kubernetes import validate_kubernetes_section
from dex_py.config.mfa import SECTION as MFA
from dex_py.config.mfa import MFAPolicy
from dex_py.config.model import (
    GRANT_TYPES,
    LOCAL_CONNECTOR_ID,
    LOG_FORMATS,
    LOG_LEVELS,
    RESPONSE_TYPE_PARTS,
    SERVER_ENGINES,
    SIGNING_ALGORITHMS,
    STORAGE_TYPES,
    TLS_VERSIONS,
    Config,
    ConfigError,
    ExpiryConfig,
    StaticClient,
    WebConfig,
)
from dex_py.config.session import SessionPolicy
from dex_py.config.teams import validate_teams_section
from dex_py.jose.client_assertions import parse_jwks
from dex_py.storage.settings import validate_storage_config

_At = Callable[[str, int], str]  # (section, list index) -> "section[original index]"
_BCRYPT = re.compile(rb"\$2[abxy]?\$(0[4-9]|[12][0-9]|3[01])\$[./A-Za-z0-9]{53}")
_URI_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*")
_HEADER_NAME = re.compile(r"[A-Za-z0-9!#$%&'*+.^_`|~-]+")  # RFC 9110 §5.1 token


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
    elif config.storage.type == "kubernetes":
        result.error(
            "storage.type",
            "kubernetes (CRD) storage is not offered: choose one of "
            f"{', '.join(STORAGE_TYPES)} (README, Storage: moving data with migrate-storage)",
        )
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
    if config.server.engine not in SERVER_ENGINES:
        result.error("server.engine", f"must be one of {', '.join(SERVER_ENGINES)}")
    if config.server.shutdown_delay < timedelta(0):
        result.error("server.shutdownDelay", "must be 0s or a positive duration")

    check_grpc(config.grpc, result, is_loopback_host)
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
    if parts.scheme == "http" and not is_loopback_host(parts.hostname):
        result.warn("issuer", "plain http on a non-loopback host: use https in production")


def is_loopback_host(host: str) -> bool:
    """``localhost``, a ``*.localhost`` name or a loopback IP address."""
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
    remote = web.client_remote_ip
    for i, entry in enumerate(remote.trusted_proxies):
        try:
            ipaddress.ip_network(entry.strip(), strict=False)
        except ValueError:
            result.error(f"web.clientRemoteIP.trustedProxies[{i}]", "not an address or CIDR")
    if remote.trusted_proxies and not remote.header:
        result.error("web.clientRemoteIP.header", "required when trustedProxies is set")
    if remote.header and not _HEADER_NAME.fullmatch(remote.header):
        result.error("web.clientRemoteIP.header", "must be an HTTP header name")


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
    if expiry.access_tokens is not None and expiry.access_tokens <= timedelta(0):
        result.error("expiry.accessTokens", "must be a positive duration")
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
    _check_extension_sections(config, result)


def _check_extension_sections(config: Config, result: Validation) -> None:
    """Our own top-level sections (``teams``, ``session``, ``kubernetes``, ``bruteForce``, ``mfa``,
    ``audit``, ``admin``),
    validated by the modules that own them, so a bad rule stops ``serve`` and ``check-config``
    with the others."""

    for key, message in [*validate_teams_section(config), *validate_kubernetes_section(config)]:
        result.error(key, message)
    for parse, section in (
        (SessionPolicy.from_config, "session"),
        (BruteForcePolicy.from_config, BRUTE_FORCE),
        (MFAPolicy.from_config, MFA),
        (AuditPolicy.from_config, AUDIT),
        (AdminPolicy.from_config, ADMIN),
    ):
        try:
            parse(config.extensions.get(section))
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


def _check_http_uri(path: str, uri: str, result: Validation) -> None:
    """An absolute http(s) URL without fragment (OIDC Back-Channel Logout 1.0 §2.2)."""
    if urlsplit(uri).scheme not in ("http", "https"):
        result.error(path, f"{uri!r} is not an absolute http(s) URL")
    else:
        _check_uri(path, uri, result)


CLIENT_AUTH_METHODS = ("client_secret_basic", "client_secret_post", "private_key_jwt", "none")
_PRIVATE_JWK_MEMBERS = ("d", "p", "q", "dp", "dq", "qi", "k")


def _check_client_auth(path: str, client: StaticClient, result: Validation) -> None:
    """``tokenEndpointAuthMethod``, ``jwks`` and ``jwksURI`` (OIDC Dynamic Client Registration
    §2): public clients use ``none``; ``private_key_jwt`` needs exactly one of ``jwks`` (public
    keys only) and ``jwksURI`` (https, or http on a loopback host)."""

    method = client.token_endpoint_auth_method
    key = f"{path}.tokenEndpointAuthMethod"
    if method and method not in CLIENT_AUTH_METHODS:
        result.error(key, f"unknown method {method!r} ({', '.join(CLIENT_AUTH_METHODS)})")
    elif client.public and method not in ("", "none"):
        result.error(key, "public clients do not authenticate: use none")
    elif not client.public and method == "none":
        result.error(key, "none is only for public clients")
    if method == "private_key_jwt":
        if client.jwks and client.jwks_uri:
            result.error(f"{path}.jwks", "set jwks or jwksURI, not both")
        elif not client.jwks and not client.jwks_uri:
            result.error(f"{path}.jwks", "private_key_jwt needs jwks or jwksURI")
        if client.secret:
            result.warn(f"{path}.secret", "ignored: the client authenticates with private_key_jwt")
    elif client.jwks or client.jwks_uri:
        result.warn(f"{path}.jwks", "ignored unless tokenEndpointAuthMethod is private_key_jwt")
    if client.jwks:
        members = client.jwks.get("keys")
        if isinstance(members, list) and any(
            isinstance(m, dict) and set(_PRIVATE_JWK_MEMBERS) & set(m) for m in members
        ):
            result.error(f"{path}.jwks", "must hold public keys only (remove private members)")
        else:
            try:
                usable = parse_jwks(json.dumps(client.jwks, separators=(",", ":")))
            except (ValueError, TypeError) as exc:
                result.error(f"{path}.jwks", f"not a JWK Set: {exc}")
            else:
                if not usable:
                    result.error(f"{path}.jwks", "has no RS256 or ES256 signature key")
    if client.jwks_uri:
        _check_http_uri(f"{path}.jwksURI", client.jwks_uri, result)
        parts = urlsplit(client.jwks_uri)
        if parts.scheme == "http" and not is_loopback_host(parts.hostname or ""):
            result.error(f"{path}.jwksURI", "must be https (http only on a loopback host)")


def _check_clients(config: Config, connector_ids: set[str], result: Validation, at: _At) -> None:
    ids = {client.id for client in config.static_clients if client.id}
    seen: set[str] = set()
    for i, client in enumerate(config.static_clients):
        path = at("staticClients", i)
        if not client.id:
            result.error(f"{path}.id", "required (id or idEnv)")
        elif client.id in seen:
            result.error(f"{path}.id", f"duplicate client id {client.id!r}")
        elif client.id == CONSOLE_CLIENT_ID:
            result.error(f"{path}.id", f"{client.id!r} is reserved for the admin console's login")
        seen.add(client.id)
        key_auth = client.token_endpoint_auth_method == "private_key_jwt"
        if not client.public and not client.secret and not key_auth:
            result.error(f"{path}.secret", "required for a non-public client (secret or secretEnv)")
        _check_client_auth(path, client, result)
        for j, uri in enumerate(client.redirect_uris):
            _check_uri(f"{path}.redirectURIs[{j}]", uri, result)
        for j, uri in enumerate(client.post_logout_redirect_uris):
            _check_uri(f"{path}.postLogoutRedirectURIs[{j}]", uri, result)
        if client.backchannel_logout_uri:
            _check_http_uri(f"{path}.backchannelLogoutURI", client.backchannel_logout_uri, result)
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
        if client.public and config.oauth2.skip_approval_screen and not client.skip_approval:
            result.warn(
                f"{path}.public",
                "oauth2.skipApprovalScreen does not apply to public clients: they see the "
                "approval page unless the client sets skipApproval: true",
            )


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
