"""Mapping between the frozen dataclasses of ``storage.base`` and flat table rows.

A ``RowCodec`` is built once per dataclass from its type hints. Scalar fields (``str``, ``int``,
``bool``, ``bytes``, ``datetime``, optionally ``None``) map to a column of the same name; anything
nested (tuples, ``dict``, nested dataclasses such as ``Claims`` and ``PKCE``) becomes compact JSON
text. Inside JSON, datetimes are ISO 8601 strings and bytes are base64. Decoding ignores unknown
JSON keys and falls back to field defaults for missing ones, so a newer optional field does not
break old rows; a NULL in a nullable JSON column added later (written by the previous release
during a rolling upgrade) reads back as the field's default.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import types
import typing
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

D = TypeVar("D")
Conv = Callable[[Any], Any]

_SCALARS = (str, int, bool, bytes, float, datetime)


def _identity(value: Any) -> Any:
    return value


def _split_optional(hint: Any) -> tuple[Any, bool]:
    """``X | None`` -> (X, True); anything else -> (hint, False)."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(args) == 1:
            return args[0], True
    return hint, False


def _optional(conv: Conv) -> Conv:
    return lambda v: None if v is None else conv(v)


def _datetime_from_json(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _json_pair(hint: Any) -> tuple[Conv, Conv]:
    """(python -> JSON-able, JSON-able -> python) converters for a type hint."""
    inner, optional = _split_optional(hint)
    enc: Conv
    dec: Conv
    if inner is datetime:
        enc, dec = (lambda v: v.astimezone(UTC).isoformat()), _datetime_from_json
    elif inner is bytes:
        enc = lambda v: base64.b64encode(v).decode("ascii")  # noqa: E731
        dec = base64.b64decode
    elif dataclasses.is_dataclass(inner) and isinstance(inner, type):
        enc, dec = _dataclass_json(inner)
    elif typing.get_origin(inner) is tuple:
        item_enc, item_dec = _json_pair(typing.get_args(inner)[0])
        enc = lambda v: [item_enc(x) for x in v]  # noqa: E731
        dec = lambda v: tuple(item_dec(x) for x in v)  # noqa: E731
    elif inner in (dict, list) or typing.get_origin(inner) in (dict, list):
        enc = dec = _identity  # JSON-able as it is (connector config)
    else:
        enc = dec = _identity
    if optional:
        return _optional(enc), _optional(dec)
    return enc, dec


def _dataclass_json(cls: type) -> tuple[Conv, Conv]:
    hints = typing.get_type_hints(cls)
    fields = [(f.name, *_json_pair(hints[f.name])) for f in dataclasses.fields(cls)]

    def enc(obj: Any) -> dict[str, Any]:
        return {name: e(getattr(obj, name)) for name, e, _ in fields}

    def dec(data: Mapping[str, Any]) -> Any:
        return cls(**{name: d(data[name]) for name, _, d in fields if name in data})

    return enc, dec


def _is_scalar(hint: Any) -> bool:
    inner, _ = _split_optional(hint)
    return inner in _SCALARS


def _default_of(f: dataclasses.Field[Any]) -> Any:
    """A field's default value (immutable ones only are shared), or ``None`` without one."""
    if f.default is not dataclasses.MISSING:
        return f.default
    return None


class RowCodec(Generic[D]):
    """Encode a dataclass instance to a column dict and decode a row back."""

    def __init__(self, cls: type[D]) -> None:
        self.cls = cls
        hints = typing.get_type_hints(cls)
        self._fields: list[tuple[str, Conv, Conv]] = []
        for f in dataclasses.fields(cls):  # type: ignore[arg-type]
            hint = hints[f.name]
            if _is_scalar(hint):
                self._fields.append((f.name, _identity, _identity))
            else:
                enc, dec = _json_pair(hint)
                loads = self._loads(dec, _default_of(f) if not _split_optional(hint)[1] else None)
                self._fields.append((f.name, self._dumps(enc), loads))

    @staticmethod
    def _dumps(enc: Conv) -> Conv:
        return lambda v: None if v is None else json.dumps(enc(v), separators=(",", ":"))

    @staticmethod
    def _loads(dec: Conv, default: Any = None) -> Conv:
        return lambda v: default if v is None else dec(json.loads(v))

    @property
    def field_names(self) -> list[str]:
        return [name for name, _, _ in self._fields]

    def encode(self, obj: D) -> dict[str, Any]:
        return {name: enc(getattr(obj, name)) for name, enc, _ in self._fields}

    def decode(self, row: Mapping[Any, Any]) -> D:
        return self.cls(**{name: dec(row[name]) for name, _, dec in self._fields})


def json_converters(cls: type[D]) -> tuple[Callable[[D], dict[str, Any]], Callable[[Any], D]]:
    """(instance -> JSON-able dict, JSON-able dict -> instance) for a storage dataclass, with the
    conventions above (ISO 8601 datetimes, base64 bytes, lists for tuples): how key-value
    backends (``storage.etcd``) store a whole record as one JSON document."""
    return _dataclass_json(cls)
