"""Reading Dex's ``config.yaml`` into the dataclasses of ``dex_py.config``.

The YAML is parsed with a safe loader that rejects duplicate keys. Dex's camelCase keys are
mapped to the typed sections; wrong types, bad durations and missing ``*Env`` variables are
collected with their key paths, then ``dex_py.config.validate`` adds the semantic errors, and
everything is raised at once as one ``ConfigError``. Unknown keys are warnings.

Environment variables (``$VAR``, ``${VAR}``) are expanded with Go's ``os.ExpandEnv`` rules, only in
the parsed string values of ``storage.config`` and ``connectors[].config`` (never in raw YAML
text, never elsewhere); like Dex, ``DEX_EXPAND_ENV=false`` turns that off.
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Callable, Iterable, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import yaml

from dex_py.config import (
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
    looks_like_bcrypt,
    validate,
)
from dex_py.durations import DurationError, parse_duration
from dex_py.envexpand import expand_env

T = TypeVar("T")

RESERVED_SECTIONS = ("teams", "proxy", "kube", "admin", "session")
NOT_USED = "accepted but not used by dex-py"
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
    *RESERVED_SECTIONS,
)


class _UniqueKeyLoader(yaml.SafeLoader):
    """A SafeLoader that treats a repeated key in one mapping as an error."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                duplicate = key in seen
            except TypeError:  # unhashable key: let SafeLoader report it
                continue
            if duplicate:
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping",
                    node.start_mark,
                    f"found duplicate key {key!r}",
                    key_node.start_mark,
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def load(path: str | os.PathLike[str]) -> Config:
    """Read and validate the config file at ``path`` (see ``dex_py.config.load``)."""
    source = os.fspath(path)
    try:
        text = Path(source).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([(source, "config file not found")]) from None
    except IsADirectoryError:
        raise ConfigError([(source, "is a directory, not a config file")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([(source, f"cannot read config file: {exc}")]) from None
    return load_string(text, source)


def load_string(text: str, source: str = "<string>") -> Config:
    """Parse YAML ``text`` and validate it; ``source`` names it in file-level errors."""
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = exc.problem or exc.context or "syntax error"
        raise ConfigError([(source, f"invalid YAML{where}: {problem}")]) from None
    except yaml.YAMLError as exc:
        raise ConfigError([(source, f"invalid YAML: {exc}")]) from None
    if data is None:
        raise ConfigError([(source, "config file is empty")])
    if not isinstance(data, dict):
        kind = type(data).__name__
        raise ConfigError([(source, f"top level must be a mapping of keys, not a {kind}")])
    return from_dict(data, source)


def from_dict(data: Mapping[str, Any], source: str = "<dict>") -> Config:
    """Map a parsed Dex config to ``Config`` and validate it (see ``dex_py.config.from_dict``)."""
    if not isinstance(data, Mapping):
        raise ConfigError([(source, "top level must be a mapping of keys")])
    reader = _Reader()
    config = reader.config(data)
    checked = validate(config, positions=reader.positions)
    errors = reader.errors + [
        (path, message) for path, message in checked.errors if not reader.reported(path)
    ]
    if errors:
        raise ConfigError(errors)
    config.warnings = reader.warnings + checked.warnings
    return config


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


class _Reader:
    """Walks the parsed YAML, building dataclasses and collecting errors and warnings."""

    def __init__(self) -> None:
        self.errors: list[tuple[str, str]] = []
        self.warnings: list[str] = []
        # Paths whose problem is already reported, so validate() does not repeat it.
        self.suppressed: set[str] = set()
        self.positions: dict[str, list[int]] = {}
        self.expand = os.environ.get("DEX_EXPAND_ENV", "").lower() not in ("false", "f", "0")

    def error(self, path: str, message: str) -> None:
        self.errors.append((path, message))
        self.suppressed.add(path)

    def warn(self, path: str, message: str) -> None:
        self.warnings.append(f"{path}: {message}")

    def reported(self, path: str) -> bool:
        """Whether ``path`` or a key above it already has an error (so skip follow-ups)."""
        while True:
            if path in self.suppressed:
                return True
            cut = max(path.rfind("."), path.rfind("["))
            if cut <= 0:
                return False
            path = path[:cut]

    # -- generic typed readers ----------------------------------------------------------------

    def keys(
        self, data: Mapping[Any, Any], path: str, known: Iterable[str], unused: Iterable[str] = ()
    ) -> None:
        known, unused = set(known), set(unused)
        for key in data:
            if key in unused:
                self.warn(_join(path, str(key)), NOT_USED)
            elif key not in known:
                self.warn(_join(path, str(key)), "unknown key (ignored)")

    def mapping(self, value: Any, path: str) -> dict[Any, Any]:
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.error(path, "must be a mapping")
            return {}
        return value

    def section(
        self,
        data: Mapping[Any, Any],
        key: str,
        path: str,
        known: Iterable[str],
        unused: Iterable[str] = (),
    ) -> dict[Any, Any]:
        sub = self.mapping(data.get(key), _join(path, key))
        self.keys(sub, _join(path, key), known, unused)
        return sub

    def _typed(
        self,
        data: Mapping[Any, Any],
        key: str,
        path: str,
        default: T,
        check: Callable[[Any], bool],
        what: str,
    ) -> T:
        value = data.get(key)
        if value is None:
            return default
        if not check(value):
            self.error(_join(path, key), f"must be {what}")
            return default
        return value

    def string(self, data: Mapping[Any, Any], key: str, path: str, default: str = "") -> str:
        return self._typed(data, key, path, default, lambda v: isinstance(v, str), "a string")

    def boolean(self, data: Mapping[Any, Any], key: str, path: str, default: bool = False) -> bool:
        return self._typed(data, key, path, default, lambda v: isinstance(v, bool), "true or false")

    def integer(self, data: Mapping[Any, Any], key: str, path: str, default: int) -> int:
        def check(v: Any) -> bool:
            return isinstance(v, int) and not isinstance(v, bool)

        return self._typed(data, key, path, default, check, "an integer")

    def strings(
        self, data: Mapping[Any, Any], key: str, path: str, default: list[str] | None = None
    ) -> list[str]:
        value = data.get(key)
        if value is None:
            return list(default or [])
        if not isinstance(value, list):
            self.error(_join(path, key), "must be a list of strings")
            return list(default or [])
        good = [v for v in value if isinstance(v, str)]
        for j, v in enumerate(value):
            if not isinstance(v, str):
                self.error(f"{_join(path, key)}[{j}]", "must be a string")
        return good

    def string_map(self, data: Mapping[Any, Any], key: str, path: str) -> dict[str, str]:
        value = self.mapping(data.get(key), _join(path, key))
        out: dict[str, str] = {}
        for k, v in value.items():
            if isinstance(k, str) and isinstance(v, str):
                out[k] = v
            else:
                self.error(f"{_join(path, key)}.{k}", "must be a string")
        return out

    def duration(
        self, data: Mapping[Any, Any], key: str, path: str, default: timedelta
    ) -> timedelta:
        value = self.optional_duration(data, key, path, default)
        return default if value is None else value

    def optional_duration(
        self, data: Mapping[Any, Any], key: str, path: str, default: timedelta | None = None
    ) -> timedelta | None:
        value = data.get(key)
        if value is None or value == "":
            return default
        try:
            return parse_duration(value)
        except DurationError as exc:
            self.error(_join(path, key), f"{exc} (Go duration such as '24h', '10m', '1h30m')")
            return default

    def env(self, data: Mapping[Any, Any], key: str, path: str, target: str) -> str | None:
        """Value of the environment variable named by ``data[key]`` (``idEnv`` and friends)."""
        name = self.string(data, key, path)
        if not name:
            return None
        if data.get(target) not in (None, ""):
            self.warn(_join(path, key), f"both {target} and {key} are set")
        if name not in os.environ:
            self.error(_join(path, key), f"environment variable {name} is not set")
            self.suppressed.add(_join(path, target))
            return None
        return os.environ[name]

    def items(
        self, data: Mapping[Any, Any], key: str, build: Callable[[dict[Any, Any], str], T]
    ) -> list[T]:
        """Build each mapping of the list ``data[key]``, remembering original indices."""
        value = data.get(key)
        out: list[T] = []
        indices: list[int] = []
        self.positions[key] = indices
        if value is None:
            return out
        if not isinstance(value, list):
            self.error(key, "must be a list")
            return out
        for i, item in enumerate(value):
            if not isinstance(item, dict):
                self.error(f"{key}[{i}]", "must be a mapping")
                continue
            out.append(build(item, f"{key}[{i}]"))
            indices.append(i)
        return out

    # -- env expansion --------------------------------------------------------------------------

    def expanded(self, value: Any, path: str) -> Any:
        if not self.expand:
            return value
        if isinstance(value, str):
            return expand_env(value, lambda name: self._lookup(name, path))
        if isinstance(value, dict):
            return {k: self.expanded(v, _join(path, str(k))) for k, v in value.items()}
        if isinstance(value, list):
            return [self.expanded(v, f"{path}[{j}]") for j, v in enumerate(value)]
        return value

    def _lookup(self, name: str, path: str) -> str:
        if name not in os.environ:
            self.warn(path, f"environment variable {name} is not set; expanded to ''")
        return os.environ.get(name, "")

    # -- sections -------------------------------------------------------------------------------

    def config(self, data: Mapping[Any, Any]) -> Config:
        self.keys(data, "", _TOP_KEYS, unused=("grpc",))
        config = Config(issuer=self.string(data, "issuer", ""))
        config.storage = self.storage(data)
        config.web = self.web(data)
        telemetry = self.section(data, "telemetry", "", ("http",), ("enableProfiling",))
        config.telemetry = TelemetryConfig(http=self.string(telemetry, "http", "telemetry"))
        config.expiry = self.expiry(data)
        logger = self.section(data, "logger", "", ("level", "format"))
        config.logger = LoggerConfig(
            level=self.string(logger, "level", "logger", "info").lower(),
            format=self.string(logger, "format", "logger", "text").lower(),
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
        server = self.section(data, "server", "", ("workers", "timeout", "gcInterval"))
        defaults = ServerConfig()
        config.server = ServerConfig(
            workers=self.integer(server, "workers", "server", defaults.workers),
            timeout=self.integer(server, "timeout", "server", defaults.timeout),
            gc_interval=self.duration(server, "gcInterval", "server", defaults.gc_interval),
        )
        for name in RESERVED_SECTIONS:
            if name in data:
                config.extensions[name] = self.mapping(data[name], name)
        return config

    def storage(self, data: Mapping[Any, Any]) -> StorageConfig:
        storage = self.section(data, "storage", "", ("type", "config"))
        raw = self.mapping(storage.get("config"), "storage.config")
        return StorageConfig(
            type=self.string(storage, "type", "storage", ""),
            config=self.expanded(raw, "storage.config"),
        )

    def web(self, data: Mapping[Any, Any]) -> WebConfig:
        known = ["http", "https", "tlsCert", "tlsKey", "tlsMinVersion", "headers"]
        known += ["allowedOrigins", "allowedHeaders"]
        web = self.section(data, "web", "", known, ("tlsMaxVersion", "clientRemoteIP"))
        version = web.get("tlsMinVersion")
        if isinstance(version, float | int) and not isinstance(version, bool):
            version = str(version)  # `tlsMinVersion: 1.2` unquoted is a YAML float
        return WebConfig(
            http=self.string(web, "http", "web"),
            https=self.string(web, "https", "web"),
            tls_cert=self.string(web, "tlsCert", "web"),
            tls_key=self.string(web, "tlsKey", "web"),
            tls_min_version=self.string({"tlsMinVersion": version}, "tlsMinVersion", "web", "1.2"),
            headers=self.string_map(web, "headers", "web"),
            allowed_origins=self.strings(web, "allowedOrigins", "web"),
            allowed_headers=self.strings(web, "allowedHeaders", "web"),
        )

    def expiry(self, data: Mapping[Any, Any]) -> ExpiryConfig:
        known = ("signingKeys", "idTokens", "authRequests", "deviceRequests", "authCodes")
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
        self.keys(item, path, (*known, "postLogoutRedirectURIs"))
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
