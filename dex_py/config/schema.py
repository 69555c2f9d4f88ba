"""The JSON Schema of ``config.yaml`` (``docs/config.schema.json``), generated from the loader.

The schema is not written by hand: ``SchemaRecorder`` is the section reader of
``dex_py.config.sections`` run on an empty probe instead of a file, and every typed read it makes
(``string``, ``boolean``, ``duration``, ``items``, ...) records the key and the accepted type. So a
key added to a section is in the schema the next time it is generated, with the type the loader
checks. Connector configs come from their dataclasses (``connectors.config_schemas``, the rules of
``parse_config``), the names of ``storage.config`` from ``dex_py.storage.settings``, those of our
``teams``, ``session`` and ``kubernetes`` sections from their modules.

``schema_problems`` checks parsed YAML against the schema; the loader adds what it finds to its
own errors (``dex-py check-config`` and ``serve``), except inside ``connectors[].config``, where
the connector registry decides (plugins included). The schema accepts exactly the types the
loader accepts (tests/config/test_schema.py), so in practice it adds nothing the loader has not
already reported; unknown keys (``additionalProperties``, an editor hint) stay warnings, as in
Dex.

Regenerate the published file with ``python -m dex_py.config.schema > docs/config.schema.json``.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import timedelta
from typing import Any, TypeVar

import jsonschema

import connectors
from dex_py.config import admin, audit_log, kubernetes, mfa, session, teams
from dex_py.config.model import (
    GRANT_TYPES,
    LOG_FORMATS,
    LOG_LEVELS,
    SERVER_ENGINES,
    SIGNING_ALGORITHMS,
    STORAGE_TYPES,
    TLS_VERSIONS,
)
from dex_py.config.reader import NOT_USED
from dex_py.config.sections import SectionReader
from dex_py.storage.settings import config_key_names

T = TypeVar("T")

REGENERATE = "python -m dex_py.config.schema > docs/config.schema.json"

# Values offered by editors (``examples`` never reject a value: the loader lowercases some).
_EXAMPLES: dict[str, tuple[str, ...]] = {
    "storage.type": STORAGE_TYPES,
    "web.tlsMinVersion": TLS_VERSIONS,
    "logger.level": LOG_LEVELS,
    "logger.format": LOG_FORMATS,
    "signing.algorithm": SIGNING_ALGORITHMS,
    "server.engine": SERVER_ENGINES,
}
_ENV_EXPANDED = "$VAR and ${VAR} in string values are expanded from the environment"
_DURATION = "a Go duration such as 300ms, 10m, 6h or 1h30m"


def _nullable(*types: str) -> dict[str, Any]:
    """The loader treats ``key:`` with no value (null) as absent, so null is always accepted."""
    return {"type": [*types, "null"]}


class _Probe(Mapping[Any, Any]):
    """An empty mapping that claims to hold every key, so each optional branch of the section
    reader is taken and recorded."""

    def __getitem__(self, key: Any) -> None:
        return None

    def __contains__(self, key: object) -> bool:
        return True

    def __iter__(self) -> Iterator[Any]:
        return iter(())

    def __len__(self) -> int:
        return 0


class SchemaRecorder(SectionReader):
    """The section reader with its typed reads replaced by recording the key and its type."""

    def __init__(self) -> None:
        super().__init__()
        self.root: dict[str, Any] = _nullable("object") | {"properties": {}}

    # -- where a path lives in the schema -------------------------------------------------------

    def _object(self, path: str) -> dict[str, Any]:
        node = self.root
        for part in path.split(".") if path else ():
            name, item = (part[:-2], True) if part.endswith("[]") else (part, False)
            child = node["properties"][name]
            node = child["items"] if item else child
        return node

    def _record(self, path: str, key: str, schema: dict[str, Any]) -> None:
        properties = self._object(path).setdefault("properties", {})
        old = properties.get(key, {})
        properties[key] = schema | ({"description": old["description"]} if old else {})

    # -- the reader's interface -----------------------------------------------------------------

    def keys(self, data: Any, path: str, known: Any, unused: Any = ()) -> None:
        node = self._object(path)
        node["additionalProperties"] = False  # an editor hint; the loader warns, see the docstring
        properties = node.setdefault("properties", {})
        for key in known:
            properties.setdefault(key, {})
        for key in unused:
            properties.setdefault(key, {"description": NOT_USED})

    def mapping(self, value: Any, path: str) -> dict[Any, Any]:
        parent, _, key = path.rpartition(".")
        self._record(parent, key, _nullable("object"))
        return _Probe()  # type: ignore[return-value]

    def string(self, data: Any, key: str, path: str, default: str = "") -> str:
        self._record(path, key, _nullable("string"))
        return default

    def version(self, data: Any, key: str, path: str, default: str) -> str:
        self._record(path, key, _nullable("string", "number"))
        return default

    def boolean(self, data: Any, key: str, path: str, default: bool = False) -> bool:
        self._record(path, key, _nullable("boolean"))
        return default

    def integer(self, data: Any, key: str, path: str, default: int) -> int:
        self._record(path, key, _nullable("integer"))
        return default

    def strings(
        self, data: Any, key: str, path: str, default: list[str] | None = None
    ) -> list[str]:
        self._record(path, key, _nullable("array") | {"items": {"type": "string"}})
        return list(default or [])

    def string_map(self, data: Any, key: str, path: str) -> dict[str, str]:
        self._record(path, key, _nullable("object") | {"additionalProperties": {"type": "string"}})
        return {}

    def optional_duration(
        self, data: Any, key: str, path: str, default: timedelta | None = None
    ) -> timedelta | None:
        self._record(path, key, _nullable("string") | {"description": _DURATION})
        return default

    def env(self, data: Any, key: str, path: str, target: str) -> str | None:
        schema = {"description": f"the name of an environment variable holding {target}"}
        self._record(path, key, _nullable("string") | schema)
        return None

    def items(self, data: Any, key: str, build: Callable[[dict[Any, Any], str], T]) -> list[T]:
        item: dict[str, Any] = {"type": "object", "properties": {}}
        self._record("", key, _nullable("array") | {"items": item})
        build(_Probe(), f"{key}[]")  # type: ignore[arg-type]
        return []

    def expanded(self, value: Any, path: str) -> Any:
        node = self._object(path)
        node["description"] = _ENV_EXPANDED
        return value


def _connectors_by_type(item: dict[str, Any]) -> None:
    """``connectors[].config`` follows the dataclass of the entry's ``type``."""
    item["properties"]["type"]["examples"] = list(connectors.config_schemas())
    item["allOf"] = [
        {
            "if": {"properties": {"type": {"const": name}}, "required": ["type"]},
            "then": {"properties": {"config": schema | {"type": ["object", "null"]}}},
        }
        for name, schema in connectors.config_schemas().items()
        if schema
    ]


def _hash_from_env_only_without_hash(item: dict[str, Any]) -> None:
    """The loader reads ``hashFromEnv`` only when ``hash`` is empty (else it warns that it is
    ignored), so its type is checked only then (tests/config/test_schema.py holds them equal)."""
    hash_from_env = item["properties"]["hashFromEnv"]
    item["properties"]["hashFromEnv"] = {"description": hash_from_env["description"]}
    has_hash = {"properties": {"hash": {"type": "string", "minLength": 1}}, "required": ["hash"]}
    item["if"] = has_hash
    item["else"] = {"properties": {"hashFromEnv": {"type": hash_from_env["type"]}}}


def _names(keys: Iterable[str], **typed: dict[str, Any]) -> dict[str, Any]:
    """An object with these keys (unknown keys are errors in our own sections)."""
    properties = {key: typed.get(key, {}) for key in keys}
    return {"properties": properties, "additionalProperties": False}


def _own_sections(props: dict[str, Any]) -> None:
    """Our ``teams``, ``session`` and ``kubernetes`` sections: their parsers check the values;
    the schema names their keys for editors."""
    connector = {"additionalProperties": _names(teams.CONNECTOR_KEYS)}
    rules = {"items": _names(teams.RULE_KEYS)}
    props["teams"] |= _names(teams.SECTION_KEYS, connectors=connector, rules=rules)
    props["session"] |= _names(session.SESSION_KEYS)
    methods = {"type": "array", "items": {"enum": list(mfa.METHODS)}}
    flag = {"type": "boolean"}
    props["mfa"] |= _names(mfa.SECTION_KEYS, allowedMethods=methods, required=flag)
    props["audit"] |= _names(audit_log.SECTION_KEYS, store=flag)
    props["admin"] |= _names(admin.SECTION_KEYS)
    review = {kubernetes.TOKEN_REVIEW: _names(kubernetes.TOKEN_REVIEW_KEYS)}
    props["kubernetes"] |= _names(kubernetes.SECTION_KEYS, **review)


def _storage_keys(config: dict[str, Any]) -> None:
    properties = config.setdefault("properties", {})
    for name, sub in config_key_names().items():
        properties[name] = {"properties": {k: {} for k in sub}} if sub else {}


@functools.cache
def config_schema() -> dict[str, Any]:
    """The JSON Schema of ``config.yaml`` (draft 2020-12)."""
    recorder = SchemaRecorder()
    recorder.config(_Probe())
    root = recorder.root
    props = root["properties"]
    _storage_keys(props["storage"]["properties"]["config"])
    _connectors_by_type(props["connectors"]["items"])
    _hash_from_env_only_without_hash(props["staticPasswords"]["items"])
    _own_sections(props)
    for path, values in _EXAMPLES.items():
        section, key = path.split(".")
        props[section]["properties"][key]["examples"] = list(values)
    for section in (props["oauth2"], props["staticClients"]["items"]):
        section["properties"]["grantTypes"]["items"]["examples"] = list(GRANT_TYPES)
    root["type"] = "object"
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "dex-py config.yaml",
        "description": f"Dex's config.yaml as dex-py reads it. Generated: {REGENERATE}",
        **root,
    }


def schema_json() -> str:
    """The schema as published in ``docs/config.schema.json``."""
    return json.dumps(config_schema(), indent=2, ensure_ascii=False) + "\n"


@functools.cache
def _validator() -> jsonschema.protocols.Validator:
    return jsonschema.Draft202012Validator(config_schema())


def _key_path(data: Any, parts: Any) -> str:
    path = ""
    for part in parts:
        if isinstance(data, list):
            path += f"[{part}]"
        else:
            path = f"{path}.{part}" if path else str(part)
        data = data[part]
    return path


_MUST_BE = {
    "string": "a string",
    "boolean": "true or false",
    "integer": "an integer",
    "number": "a number",
    "object": "a mapping",
    "array": "a list",
}


def _message(error: jsonschema.ValidationError) -> str:
    """The loader's wording for a schema error."""
    if error.validator in ("type", "anyOf"):
        options = (
            error.schema.get("anyOf", [error.schema]) if isinstance(error.schema, dict) else []
        )
        # A "$VAR" string (``pattern``) is expanded before the value is checked: not a type.
        types = [t for s in options if "pattern" not in s for t in _types(s) if t != "null"]
        if types:
            return "must be " + " or ".join(_MUST_BE.get(t, t) for t in types)
    return str(error.message)


def _types(schema: Any) -> list[str]:
    kind = schema.get("type", []) if isinstance(schema, dict) else []
    return [kind] if isinstance(kind, str) else list(kind)


def schema_problems(data: Mapping[Any, Any]) -> list[tuple[str, str]]:
    """Where parsed YAML ``data`` breaks the schema, as ``(key path, message)`` pairs in the
    loader's format. Unknown keys are left out: the loader reports them itself (warnings in
    Dex's sections, errors in connector configs and in our own sections)."""
    problems: list[tuple[str, str]] = []
    for error in _validator().iter_errors(data):
        if error.validator == "additionalProperties":
            continue
        path = _key_path(data, error.absolute_path)
        if error.validator == "required":
            for key in error.validator_value:
                if key not in error.instance:
                    problems.append((f"{path}.{key}" if path else key, "required"))
        else:
            problems.append((path, _message(error)))
    return problems


if __name__ == "__main__":
    print(schema_json(), end="")
