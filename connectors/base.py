"""The connector contract: a tiny base class plus capability interfaces (DESIGN §6).

A connector turns an upstream directory into an ``Identity``. What it can do is declared by the
capability classes it inherits:

- ``PasswordConnector``: the server shows a username/password form and calls ``login``;
- ``CallbackConnector``: the server redirects the browser to ``login_url`` and, when the upstream
  sends the browser back to ``/callback``, calls ``handle_callback``;
- ``RefreshConnector``: the server calls ``refresh`` on every refresh grant, so identity and groups
  stay current (and a deleted upstream user loses access);
- ``TokenIdentityConnector``: the server can exchange an upstream token (RFC 8693).

``connector_data`` is opaque to the server: it is stored with the refresh token and handed back to
``refresh``. Connectors import only this module and their own libraries, never ``dex_py``.

Each connector has a typed config dataclass; ``parse_config`` builds it from the ``config:`` mapping
of the YAML file, collecting every error with its key path.
"""

from __future__ import annotations

import dataclasses
import logging
import types
import typing
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Self, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit


class ConnectorError(Exception):
    """The upstream failed or answered something unusable. The message is shown to the user,
    so it must not contain secrets."""


class UserGone(ConnectorError):
    """Raised by ``refresh``: the upstream says this user no longer exists (not an outage).
    The login ends for good: its refresh chain and every token issued under it are revoked."""


class ConnectorConfigError(Exception):
    """The connector's config is invalid. ``errors`` lists ``(key path, message)`` pairs."""

    def __init__(self, errors: list[tuple[str, str]]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"{k}: {m}" for k, m in errors))


@dataclass(frozen=True)
class Scopes:
    """What the client asked for that matters to a connector."""

    offline_access: bool = False
    groups: bool = False


@dataclass(frozen=True)
class Identity:
    """Who logged in, as the upstream sees them. Groups are upstream names, unmapped."""

    user_id: str
    username: str
    preferred_username: str = ""
    email: str = ""
    email_verified: bool = False
    groups: tuple[str, ...] = ()
    connector_data: bytes | None = None


@dataclass(frozen=True)
class CallbackRequest:
    """The parts of the browser's request to ``/callback`` a connector may read."""

    url: str
    args: Mapping[str, str]
    form: Mapping[str, str] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)


class Connector(ABC):  # noqa: B024 - a marker base; capabilities add the abstract methods
    """Base of every connector. ``close`` releases pools and sockets.

    A concrete connector defines ``Config`` (its typed config dataclass) and the classmethod
    ``open``, which the registry (``connectors.open_connector``) calls."""

    @classmethod
    def open(
        cls,
        config: Mapping[str, Any] | None,
        *,
        connector_id: str,
        logger: logging.Logger | None = None,
        **services: Any,
    ) -> Self:
        """Build the connector from its YAML ``config:`` mapping (via ``parse_config(cls.Config,
        config)``, raising ``ConnectorConfigError``). ``services`` are callables the server
        injects (e.g. ``password_lookup``); a connector ignores those it does not need."""
        raise NotImplementedError(f"{cls.__name__} does not implement open()")

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release resources held by the connector."""

    def check(self) -> None:  # noqa: B027 - optional hook
        """Raise ``ConnectorError`` if the upstream cannot be reached right now (used by
        ``/healthz/ready`` and the login page). Must be cheap and time-bounded; the default
        assumes a connector without a network upstream is always healthy."""


class ConfiguredConnector(Connector):
    """A connector whose ``open`` is ``cls(parse_config(cls.Config, config), connector_id=...,
    logger=...)``: subclasses define ``Config`` and an ``__init__`` taking those arguments."""

    if TYPE_CHECKING:
        Config: ClassVar[type[Any]]

        def __init__(
            self, config: Any, *, connector_id: str, logger: logging.Logger | None = None
        ) -> None: ...

    @classmethod
    def open(
        cls,
        config: Mapping[str, Any] | None,
        *,
        connector_id: str,
        logger: logging.Logger | None = None,
        **services: Any,
    ) -> Self:
        return cls(parse_config(cls.Config, config), connector_id=connector_id, logger=logger)


class PasswordConnector(Connector):
    @abstractmethod
    def prompt(self) -> str:
        """Label of the username field, e.g. ``"Email Address"`` or ``"Username"``."""

    @abstractmethod
    def login(self, scopes: Scopes, username: str, password: str) -> Identity | None:
        """Check the credentials. ``None`` means they are wrong; ``ConnectorError`` means the
        upstream could not be asked."""


class CallbackConnector(Connector):
    @abstractmethod
    def login_url(self, scopes: Scopes, callback_url: str, state: str) -> tuple[str, bytes | None]:
        """Where to send the browser, plus opaque per-login state (e.g. a PKCE verifier) that
        the server keeps and passes back to ``handle_callback``."""

    @abstractmethod
    def handle_callback(
        self, scopes: Scopes, request: CallbackRequest, login_state: bytes | None
    ) -> Identity:
        """Finish the login from the upstream's redirect; raise ``ConnectorError`` on failure."""


class RefreshConnector(Connector):
    @abstractmethod
    def refresh(self, scopes: Scopes, identity: Identity) -> Identity:
        """Re-read the user upstream; raise ``ConnectorError`` if they may no longer log in."""


class TokenIdentityConnector(Connector):
    @abstractmethod
    def token_identity(self, subject_token_type: str, subject_token: str) -> Identity:
        """Verify an upstream token and return who it names (RFC 8693 token exchange)."""


# --- typed config parsing --------------------------------------------------------------------

C = TypeVar("C")


def key(yaml_key: str, **kwargs: Any) -> Any:
    """Declare a config field read from ``yaml_key`` (Dex's camelCase spelling)."""
    metadata = dict(kwargs.pop("metadata", {}) or {})
    metadata["key"] = yaml_key
    return field(metadata=metadata, **kwargs)


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", str(tp))


def _convert(value: Any, tp: Any, path: str, errors: list[tuple[str, str]]) -> Any:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        non_none = [a for a in args if a is not type(None)]
        if len(non_none) == 1:
            return _convert(value, non_none[0], path, errors)
        return value
    if tp is Any:
        return value
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, Mapping):
            errors.append((path, "must be a mapping"))
            return None
        return _build(tp, value, path, errors)
    if origin in (list, tuple) or tp in (list, tuple):
        if not isinstance(value, list):
            errors.append((path, "must be a list"))
            return [] if origin is list else ()
        item_tp = args[0] if args else Any
        items = [_convert(v, item_tp, f"{path}[{i}]", errors) for i, v in enumerate(value)]
        return tuple(items) if (origin is tuple or tp is tuple) else items
    if origin is dict or tp is dict:
        if not isinstance(value, Mapping):
            errors.append((path, "must be a mapping"))
            return {}
        return dict(value)
    if tp is bool:
        if not isinstance(value, bool):
            errors.append((path, "must be true or false"))
        return bool(value)
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            errors.append((path, "must be an integer"))
            return 0
        return value
    if tp is str:
        if not isinstance(value, str):
            if isinstance(value, int | float) and not isinstance(value, bool):
                return str(value)
            errors.append((path, "must be a string"))
            return ""
        return value
    if isinstance(tp, type) and not isinstance(value, tp):
        errors.append((path, f"must be {_type_name(tp)}"))
    return value


def _build(cls: Any, data: Mapping[str, Any], path: str, errors: list[tuple[str, str]]) -> Any:
    hints = typing.get_type_hints(cls)
    known: set[str] = set()
    kwargs: dict[str, Any] = {}
    prefix = f"{path}." if path else ""
    for f in dataclasses.fields(cls):
        yaml_key = f.metadata.get("key", f.name)
        known.add(yaml_key)
        if yaml_key in data:
            kwargs[f.name] = _convert(data[yaml_key], hints[f.name], prefix + yaml_key, errors)
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            errors.append((prefix + yaml_key, "required"))
    for k in data:
        if k not in known:
            errors.append((prefix + str(k), "unknown key"))
    try:
        return cls(**kwargs)
    except TypeError:
        return None


def parse_config(cls: type[C], data: Mapping[str, Any] | None, path: str = "config") -> C:
    """Build config dataclass ``cls`` from a YAML mapping, or raise ``ConnectorConfigError``
    listing every problem (missing required keys, wrong types, unknown keys) with its path.
    A dataclass may define ``validate(self) -> list[tuple[str, str]]`` for cross-field rules
    (paths relative to the config)."""
    errors: list[tuple[str, str]] = []
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise ConnectorConfigError([(path, "must be a mapping")])
    obj = _build(cls, data, path, errors)
    if not errors and obj is not None and hasattr(obj, "validate"):
        errors.extend((f"{path}.{k}" if k else path, m) for k, m in obj.validate())
    if errors:
        raise ConnectorConfigError(errors)
    return typing.cast(C, obj)


def with_query_param(url: str, name: str, value: str) -> str:
    """``url`` with query parameter ``name`` set to ``value`` (replacing any earlier one); other
    parameters are kept. Used to build a callback URL carrying ``state``."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != name]
    query.append((name, value))
    return urlunsplit(parts._replace(query=urlencode(query)))


def get_logger(name: str) -> logging.Logger:
    """The logger a connector should use."""
    return logging.getLogger(f"dex_py.connectors.{name}")


# --- the same rules as a JSON Schema (docs/config.schema.json) ----------------------------------

# ``$VAR``/``${VAR}`` in a connector's config is expanded from the environment before parsing, so
# a string holding one is accepted wherever a number or a boolean is expected.
ENV_REFERENCE = {"type": "string", "pattern": r"\$"}


def config_schema(cls: Any) -> dict[str, Any]:
    """The JSON Schema of config dataclass ``cls``, following the rules of ``parse_config``:
    the same keys (unknown keys are errors there, so ``additionalProperties`` is false), the same
    required keys and the same accepted types."""
    hints = typing.get_type_hints(cls)
    properties: dict[str, Any] = {}
    required: list[str] = []
    for f in dataclasses.fields(cls):
        yaml_key = f.metadata.get("key", f.name)
        properties[yaml_key] = _type_schema(hints[f.name])
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            required.append(yaml_key)
    schema: dict[str, Any] = {
        "type": "object",
        "properties": properties,
        "additionalProperties": False,
    }
    if required:
        schema["required"] = required
    return schema


def _type_schema(tp: Any) -> dict[str, Any]:
    """What ``_convert`` accepts for type ``tp``, as a JSON Schema."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        non_none = [a for a in args if a is not type(None)]
        if len(non_none) != 1:
            return {}
        inner = _type_schema(non_none[0])
        return {"anyOf": [{"type": "null"}, inner]} if type(None) in args else inner
    if dataclasses.is_dataclass(tp):
        return config_schema(tp)
    if origin in (list, tuple) or tp in (list, tuple):
        items = _type_schema(args[0]) if args and args[0] is not Ellipsis else {}
        return {"type": "array", "items": items} if items else {"type": "array"}
    if origin is dict or tp is dict:
        return {"type": "object"}
    if tp is bool:
        return {"anyOf": [{"type": "boolean"}, ENV_REFERENCE]}
    if tp is int:
        return {"anyOf": [{"type": "integer"}, ENV_REFERENCE]}
    if tp is str:
        return {"type": ["string", "number"]}  # a YAML number is taken as its text
    return {}
