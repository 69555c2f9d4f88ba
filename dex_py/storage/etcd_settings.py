"""The ``storage.config`` keys of ``storage.type: etcd``, checked and turned into ``EtcdSettings``.

The keys are Dex's (``storage/etcd/config.go``):

- ``endpoints``: list of client URLs (``http://10.0.0.1:2379``; ``host:port`` means ``http``, or
  ``https`` when ``ssl`` is set). Tried in order; the next one is used when one cannot be reached.
- ``namespace``: prefix of every key dex-py writes (``dex/``), to share a cluster.
- ``username``, ``password``: etcd role-based authentication (both or neither).
- ``ssl``: ``serverName`` (the name the server certificate must carry, when it differs from the
  endpoint's host), ``caFile``, ``certFile``, ``keyFile`` (client certificate; both or neither).

Dex has no ``dialTimeout`` key (its dial timeout is a fixed 2 seconds); neither has dex-py, and
it uses the same 2 seconds to connect (see ``etcd_client``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from dex_py.config.model import ConfigError, StorageConfig

KNOWN_KEYS = {"endpoints", "namespace", "username", "password", "ssl"}
SSL_KEYS = {"serverName", "caFile", "certFile", "keyFile"}


@dataclass(frozen=True)
class EtcdSettings:
    """A checked etcd storage section."""

    endpoints: tuple[str, ...]  # base URLs without a trailing slash
    namespace: str = ""
    username: str = ""
    password: str = ""
    server_name: str = ""
    ca_file: str = ""
    cert_file: str = ""
    key_file: str = ""

    def __repr__(self) -> str:  # never show the password
        return f"EtcdSettings(endpoints={self.endpoints!r}, namespace={self.namespace!r})"


def _string(conf: Mapping[str, Any], key: str, path: str, errors: list[tuple[str, str]]) -> str:
    value = conf.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        errors.append((path, f"must be a string, got {type(value).__name__}"))
        return ""
    return value


def _endpoint(raw: str, tls: bool) -> str:
    """``raw`` as a base URL; raises ValueError naming what is wrong."""
    if "://" not in raw:
        raw = ("https://" if tls else "http://") + raw
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https"):
        raise ValueError(f"scheme must be http or https, got {parts.scheme}")
    if not parts.hostname:
        raise ValueError("has no host")
    try:
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        raise ValueError("has an invalid port") from None
    if parts.path not in ("", "/") or parts.query:
        raise ValueError("must be scheme://host:port only")
    return f"{parts.scheme}://{parts.netloc}"


def parse_etcd_settings(cfg: StorageConfig) -> tuple[EtcdSettings, list[str]]:
    """The settings of an etcd storage section and its warnings (unknown keys); raises
    ``ConfigError`` naming every bad key."""
    conf = cfg.config or {}
    if not isinstance(conf, Mapping):
        raise ConfigError([("storage.config", "must be a mapping")])
    errors: list[tuple[str, str]] = []
    warnings = [f"storage.config.{k}: unknown key, ignored" for k in conf if k not in KNOWN_KEYS]
    ssl = conf.get("ssl") or {}
    if not isinstance(ssl, Mapping):
        errors.append(("storage.config.ssl", "must be a mapping"))
        ssl = {}
    warnings += [f"storage.config.ssl.{k}: unknown key, ignored" for k in ssl if k not in SSL_KEYS]
    files = {
        key: _string(ssl, key, f"storage.config.ssl.{key}", errors) for key in sorted(SSL_KEYS)
    }
    for key in ("caFile", "certFile", "keyFile"):
        if files[key] and not os.path.isfile(files[key]):
            errors.append((f"storage.config.ssl.{key}", f"no such file: {files[key]}"))
    if bool(files["certFile"]) != bool(files["keyFile"]):
        errors.append(("storage.config.ssl", "certFile and keyFile go together"))
    tls = any(files.values())

    endpoints: list[str] = []
    raw = conf.get("endpoints")
    if isinstance(raw, str):
        raw = [raw]
    if not raw:
        errors.append(("storage.config.endpoints", "required: a list of etcd client URLs"))
    elif not isinstance(raw, list) or not all(isinstance(e, str) for e in raw):
        errors.append(("storage.config.endpoints", "must be a list of URLs"))
    else:
        for i, item in enumerate(raw):
            try:
                endpoints.append(_endpoint(item.strip(), tls))
            except ValueError as exc:
                errors.append((f"storage.config.endpoints[{i}]", f"{item!r}: {exc}"))

    username = _string(conf, "username", "storage.config.username", errors)
    password = _string(conf, "password", "storage.config.password", errors)
    if password and not username:
        errors.append(("storage.config.username", "required when a password is set"))
    namespace = _string(conf, "namespace", "storage.config.namespace", errors)
    if errors:
        raise ConfigError(errors)
    settings = EtcdSettings(
        endpoints=tuple(endpoints),
        namespace=namespace,
        username=username,
        password=password,
        server_name=files["serverName"],
        ca_file=files["caFile"],
        cert_file=files["certFile"],
        key_file=files["keyFile"],
    )
    return settings, warnings
