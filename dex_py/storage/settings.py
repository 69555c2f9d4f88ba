"""Dex's ``storage`` config section, checked and turned into an SQLAlchemy URL and options.

Accepted keys, as in Dex (``storage.config``):

- ``sqlite3``: ``file`` (``":memory:"`` allowed: one shared connection, for tests and demos).
- ``postgres``: ``host`` (may carry ``:port``, or be a Unix socket directory), ``port``,
  ``database``, ``user``, ``password``, ``ssl {mode, caFile, certFile, keyFile}`` (``mode``
  defaults to ``verify-full``, as in Dex), ``connectionTimeout`` (seconds), ``maxOpenConns``,
  ``maxIdleConns``, ``connMaxLifetime`` (seconds).
- ``etcd``: ``endpoints``, ``namespace``, ``username``, ``password``, ``ssl {serverName,
  caFile, certFile, keyFile}`` (checked by ``storage.etcd_settings``).
- ``mysql``: the same keys (``ssl.mode`` is ``true``, ``false``, ``skip-verify`` or unset; setting
  a CA, cert or key file means verified TLS with those files) plus ``params``: session variables
  set on each connection (``SET SESSION key = value``; values verbatim, as Dex passes them).

dex-py additions: ``url`` (an SQLAlchemy or ``postgres://``/``mysql://`` URL, replacing the other
connection keys), ``dsn`` for PostgreSQL (a libpq connection string), ``params`` for PostgreSQL
(libpq parameters such as ``options: -csearch_path=dex``), ``statementTimeout`` and
``poolTimeout`` (seconds; see ``storage.timeouts``, which also sets ``connectionTimeout``'s
default); for SQLite ``busyTimeout`` (seconds) and ``synchronous`` (``full``, the default, or
``normal``: ``normal`` is faster but may lose the last commits on power loss or an OS crash).
"""

from __future__ import annotations

import re
import ssl
from collections.abc import Mapping
from typing import Any, NamedTuple

from sqlalchemy.engine import URL, make_url

from dex_py.config.model import ConfigError, StorageConfig
from dex_py.storage import etcd_settings
from dex_py.storage import timeouts as tmo

SQL_TYPES = ("sqlite3", "postgres", "mysql")
STORAGE_TYPES = (*SQL_TYPES, "etcd", "memory")

_KNOWN_KEYS = {
    "sqlite3": {"file", "busyTimeout", "synchronous"},
    "postgres": {
        "host",
        "port",
        "database",
        "user",
        "password",
        "ssl",
        "connectionTimeout",
        "maxOpenConns",
        "maxIdleConns",
        "connMaxLifetime",
        "statementTimeout",
        "poolTimeout",
        "params",
        "url",
        "dsn",
    },
    "memory": set(),
}
_KNOWN_KEYS["mysql"] = (_KNOWN_KEYS["postgres"] - {"dsn"}) | {"params"}
_SSL_KEYS = {"mode", "caFile", "certFile", "keyFile"}
_PG_SSL_MODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_MYSQL_SSL_MODES = ("", "true", "false", "skip-verify", "custom")
SQLITE_SYNCHRONOUS = ("full", "normal")


class StorageConfigError(ConfigError):
    """The ``storage`` section is invalid; ``errors`` name each key path."""


class _Checker:
    """Collects every problem of one storage section before raising."""

    def __init__(self, conf: Mapping[str, Any]) -> None:
        self.conf = conf
        self.errors: list[tuple[str, str]] = []

    def fail(self, key: str, message: str) -> None:
        self.errors.append((f"storage.config.{key}", message))

    def string(self, key: str, *, required: bool = False, within: Any = None) -> str:
        src = self.conf if within is None else within
        value = src.get(key.rsplit(".", 1)[-1])
        if value is None or value == "":
            if required:
                self.fail(key, "required")
            return ""
        if not isinstance(value, str):
            self.fail(key, f"must be a string, got {type(value).__name__}")
            return ""
        return value

    def integer(self, key: str) -> int | None:
        value = self.conf.get(key)
        if value is None or value == "":
            return None
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            self.fail(key, f"must be a non-negative integer, got {value!r}")
            return None
        return value

    def mapping(self, key: str) -> dict[str, Any]:
        value = self.conf.get(key)
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            self.fail(key, "must be a mapping")
            return {}
        return dict(value)


def _split_host(host: str, port: int | None) -> tuple[str, int | None]:
    """``db:5432`` -> ("db", 5432), ``[::1]:5432`` -> ("::1", 5432); an explicit ``port`` wins.

    A Unix socket directory (``/run/postgresql``) and a bare IPv6 address pass through."""
    name, tail = host, ""
    if host.startswith("["):
        end = host.find("]")
        name, tail = host[1:end], host[end + 1 :].removeprefix(":")
    elif not host.startswith("/") and host.count(":") == 1:
        name, tail = host.split(":")
    if tail.isdigit():
        return name, port if port is not None else int(tail)
    return (name if tail == "" else host), port


def _url_from_string(raw: str, kind: str) -> URL:
    url = make_url(raw)
    backend = url.get_backend_name()
    if kind == "postgres" and backend in ("postgres", "postgresql"):
        return url.set(drivername="postgresql+psycopg")
    if kind == "mysql" and backend in ("mysql", "mariadb"):
        url = url.set(drivername="mysql+pymysql")
        if "charset" not in url.query:
            url = url.update_query_dict({"charset": "utf8mb4"})
        return url
    raise ValueError(f"a {kind} URL must start with {kind}://, got {backend}://")


class _Parsed(NamedTuple):
    url: URL
    connect_args: dict[str, Any]
    engine_kw: dict[str, Any]
    warnings: list[str]
    timeouts: tmo.Timeouts
    synchronous: str  # SQLite only


def parse_settings(cfg: StorageConfig) -> _Parsed:
    """The engine settings of ``cfg``; raises StorageConfigError naming every bad key."""
    kind = cfg.type
    if kind not in SQL_TYPES:
        message = f"unknown storage type {kind!r}; one of {', '.join(STORAGE_TYPES)}"
        if kind == "memory":
            message = "memory storage has no database URL"
        raise StorageConfigError([("storage.type", message)])
    conf = cfg.config or {}
    if not isinstance(conf, Mapping):
        raise StorageConfigError([("storage.config", "must be a mapping")])
    check = _Checker(conf)
    warnings = [
        f"storage.config.{k}: unknown key, ignored" for k in conf if k not in _KNOWN_KEYS[kind]
    ]
    timeouts = _timeouts(check, kind)
    if kind == "sqlite3":
        file = check.string("file", required=True)
        synchronous = check.string("synchronous").lower() or "full"
        if synchronous not in SQLITE_SYNCHRONOUS:
            check.fail("synchronous", f"must be one of {', '.join(SQLITE_SYNCHRONOUS)}")
        if check.errors:
            raise StorageConfigError(check.errors)
        url = URL.create("sqlite+pysqlite", database=None if file == ":memory:" else file)
        return _Parsed(url, {}, {}, warnings, timeouts, synchronous)

    ssl_conf = check.mapping("ssl")
    warnings += [
        f"storage.config.ssl.{k}: unknown key, ignored" for k in ssl_conf if k not in _SSL_KEYS
    ]
    url, from_url = _server_url(check, kind)
    connect_args: dict[str, Any] = {}
    if kind == "postgres":
        options = _postgres_options(check, ssl_conf, from_url, timeouts)
        if "connect_timeout" in url.query and "connectionTimeout" not in conf:
            del options["connect_timeout"]  # the url's or dsn's own wins over our default
        url = url.update_query_dict(options)
    else:
        connect_args = _mysql_options(check, ssl_conf) | tmo.pymysql_args(timeouts)
    engine_kw = _pool_settings(
        check.integer("maxOpenConns"),
        check.integer("maxIdleConns"),
        check.integer("connMaxLifetime"),
        timeouts.pool,
    )
    if check.errors:
        raise StorageConfigError(check.errors)
    return _Parsed(url, connect_args, engine_kw, warnings, timeouts, "")


def _timeouts(check: _Checker, kind: str) -> tmo.Timeouts:
    """The timeout keys of ``kind``; unset ones take ``timeouts.DEFAULTS`` (0 turns one off)."""
    d = tmo.DEFAULTS

    def seconds(key: str, default: int) -> int:
        value = check.integer(key)
        return default if value is None else value

    if kind == "sqlite3":
        return tmo.Timeouts(busy=seconds("busyTimeout", d.busy))
    return tmo.Timeouts(
        connect=seconds("connectionTimeout", d.connect),
        statement=seconds("statementTimeout", d.statement),
        pool=seconds("poolTimeout", d.pool),
    )


def _server_url(check: _Checker, kind: str) -> tuple[URL, bool]:
    """The URL from ``url``/``dsn`` or from host, port, database, user, password; and whether
    it came from ``url``/``dsn``."""
    url_text = check.string("url")
    dsn_text = check.string("dsn") if kind == "postgres" else ""
    port = check.integer("port")
    if url_text or dsn_text:
        try:
            url = _url_from_string(url_text, kind) if url_text else _pg_dsn_url(dsn_text)
        except Exception as exc:  # name the problem, never echo the value (it has the password)
            check.fail("url" if url_text else "dsn", f"invalid: {type(exc).__name__}")
            url = URL.create("invalid")
        return url, True
    host = check.string("host", required=True)
    database = check.string("database", required=True)
    host, port = _split_host(host, port)
    query: dict[str, str] = {}
    if host.startswith("/"):  # Unix socket
        query["host" if kind == "postgres" else "unix_socket"] = host
        host = ""
    if kind == "mysql":
        query["charset"] = "utf8mb4"
    url = URL.create(
        "postgresql+psycopg" if kind == "postgres" else "mysql+pymysql",
        username=check.string("user") or None,
        password=check.string("password") or None,
        host=host or None,
        port=port,
        database=database,
        query=query,
    )
    return url, False


def _postgres_options(
    check: _Checker, ssl_conf: dict[str, Any], from_url: bool, timeouts: tmo.Timeouts
) -> dict:
    """libpq parameters, all carried in the URL so ``engine_url_for()`` is complete."""
    mode = check.string("ssl.mode", within=ssl_conf)
    if mode and mode not in _PG_SSL_MODES:
        check.fail("ssl.mode", f"must be one of {', '.join(_PG_SSL_MODES)}")
    options: dict[str, str] = {}
    if mode or not from_url:
        options["sslmode"] = mode or "verify-full"  # Dex's default
    for key, arg in (("caFile", "sslrootcert"), ("certFile", "sslcert"), ("keyFile", "sslkey")):
        if path := check.string(f"ssl.{key}", within=ssl_conf):
            options[arg] = path
    if timeouts.connect:
        options["connect_timeout"] = str(timeouts.connect)
    options.update({str(k): str(v) for k, v in check.mapping("params").items()})
    return options


def _mysql_options(check: _Checker, ssl_conf: dict[str, Any]) -> dict[str, Any]:
    """pymysql connect arguments: TLS context, timeout, session variables."""
    mode = check.string("ssl.mode", within=ssl_conf)
    files = {
        k: check.string(f"ssl.{k}", within=ssl_conf) for k in ("caFile", "certFile", "keyFile")
    }
    args: dict[str, Any] = {}
    if mode not in _MYSQL_SSL_MODES:
        check.fail("ssl.mode", f"must be one of {', '.join(m for m in _MYSQL_SSL_MODES if m)}")
    try:
        context = _mysql_ssl(mode, files)
    except (OSError, ssl.SSLError) as exc:
        check.fail("ssl", f"cannot load TLS files: {exc}")
        context = None
    if context is not None:
        args["ssl"] = context
    # As in Dex (go-sql-driver), params are session variables set on every connection.
    params = {str(k): str(v) for k, v in check.mapping("params").items()}
    for key in params:
        if not _IDENTIFIER.fullmatch(key):
            check.fail(f"params.{key}", "not a MySQL variable name")
    if params:
        args["init_command"] = "SET " + ", ".join(f"SESSION {k} = {v}" for k, v in params.items())
    return args


def _pg_dsn_url(dsn: str) -> URL:
    from psycopg.conninfo import conninfo_to_dict

    parts = {k: str(v) for k, v in conninfo_to_dict(dsn).items()}
    host = parts.pop("host", "")
    port = parts.pop("port", "")
    query = dict(parts)
    for key in ("user", "password", "dbname"):
        query.pop(key, None)
    if host.startswith("/"):
        query["host"] = host
        host = ""
    return URL.create(
        "postgresql+psycopg",
        username=parts.get("user"),
        password=parts.get("password"),
        host=host or None,
        port=int(port) if port.isdigit() else None,
        database=parts.get("dbname"),
        query=query,
    )


def _mysql_ssl(mode: str, files: dict[str, str]) -> ssl.SSLContext | None:
    if not any(files.values()) and mode in ("", "false"):
        return None
    context = ssl.create_default_context(cafile=files["caFile"] or None)
    if files["certFile"]:
        context.load_cert_chain(files["certFile"], files["keyFile"] or None)
    if mode == "skip-verify":
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def _pool_settings(
    max_open: int | None, max_idle: int | None, lifetime: int | None, pool_timeout: int
) -> dict:
    """Small pools: a gunicorn sync worker serves one request at a time (plus housekeeping)."""
    total = max_open if max_open else 4
    size = min(max_idle if max_idle is not None else 2, total) or 1
    return {
        "pool_size": size,
        "max_overflow": max(total - size, 0),
        # Liveness is checked only for connections that sat idle (see ``_ping_when_idle``).
        "pool_pre_ping": False,
        "pool_recycle": lifetime if lifetime else 1800,
        "pool_timeout": pool_timeout or None,  # None: wait forever
    }


def validate_storage_config(cfg: StorageConfig) -> list[str]:
    """Check ``cfg``; return warnings (unknown keys), raise ``StorageConfigError`` on errors."""
    if cfg.type == "memory":
        return [f"storage.config.{k}: unknown key, ignored" for k in cfg.config or {}]
    if cfg.type == "etcd":
        return parse_etcd(cfg)[1]
    return parse_settings(cfg).warnings


def parse_etcd(cfg: StorageConfig) -> tuple[etcd_settings.EtcdSettings, list[str]]:
    """The settings of an etcd section and its warnings; raises ``StorageConfigError``."""
    try:
        return etcd_settings.parse_etcd_settings(cfg)
    except ConfigError as exc:
        raise StorageConfigError(exc.errors) from None


def engine_url_for(cfg: StorageConfig) -> URL:
    """The SQLAlchemy URL of a SQL storage config (its ``repr`` hides the password)."""
    return parse_settings(cfg).url


def config_key_names() -> dict[str, Any]:
    """The keys ``storage.config`` knows, for the published JSON Schema (editor completion):
    every key of any SQL backend, ``ssl`` with its own keys. Values are checked here, by
    ``parse_settings``, and unknown keys are only warnings, so the schema constrains neither."""
    names = sorted(set().union(*_KNOWN_KEYS.values(), etcd_settings.KNOWN_KEYS))
    ssl_keys = sorted(_SSL_KEYS | etcd_settings.SSL_KEYS)
    return {name: ssl_keys if name == "ssl" else None for name in names}
