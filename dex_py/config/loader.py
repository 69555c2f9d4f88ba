"""Reading Dex's ``config.yaml`` into the dataclasses of ``dex_py.config.model``.

The YAML is parsed with a safe loader that rejects duplicate keys. Dex's camelCase keys are
mapped to the typed sections (``dex_py.config.sections``, on the typed-value reader of
``dex_py.config.reader``); wrong types, bad durations and missing ``*Env`` variables are
collected with their key paths, then ``dex_py.config.validation.validate`` adds the semantic
errors and ``dex_py.config.schema`` any break of the published JSON Schema not reported yet, and
everything is raised at once as one ``ConfigError``. Unknown keys are warnings.

Environment variables (``$VAR``, ``${VAR}``) are expanded with Go's ``os.ExpandEnv`` rules, only in
the parsed string values of ``storage.config`` and ``connectors[].config`` (never in raw YAML
text, never elsewhere); like Dex, ``DEX_EXPAND_ENV=false`` turns that off.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from dex_py.config import feature_flags
from dex_py.config.model import Config, ConfigError
from dex_py.config.reader import NOT_USED, UNKNOWN_KEY
from dex_py.config.schema import schema_problems
from dex_py.config.sections import SectionReader
from dex_py.config.validation import validate

# Inside connectors[].config the connector registry decides (validate_connector_config, plugins
# included); the schema states the same rules of the built-ins for editors (connectors.base).
_CONNECTOR_CONFIG = re.compile(r"connectors\[\d+\]\.config(?![^.\[])")


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


def load(path: str | os.PathLike[str], overrides: Mapping[str, str] | None = None) -> Config:
    """Read, parse and validate the YAML config at ``path``; ``overrides`` (dotted key path ->
    value, e.g. ``{"web.http": "0.0.0.0:5556"}`` from ``serve --web-http-addr``, as Dex's flags
    do) replace values of the file before validation.

    Raises ``ConfigError`` listing every problem (YAML syntax errors with line and column, a
    missing file, wrong types, invalid values); non-fatal findings are in ``Config.warnings``.
    """
    source = os.fspath(path)
    try:
        text = Path(source).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([(source, "config file not found")]) from None
    except IsADirectoryError:
        raise ConfigError([(source, "is a directory, not a config file")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([(source, f"cannot read config file: {exc}")]) from None
    return load_string(text, source, overrides)


def load_string(
    text: str, source: str = "<string>", overrides: Mapping[str, str] | None = None
) -> Config:
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
    for dotted, value in (overrides or {}).items():
        _override(data, dotted, value)
    return from_dict(data, source)


def _override(data: dict[str, Any], dotted: str, value: str) -> None:
    """Set ``data[a][b] = value`` for ``a.b``; a section that is not a mapping is left for the
    validation to report."""
    *sections, key = dotted.split(".")
    node: Any = data
    for name in sections:
        if node.get(name) is None:
            node[name] = {}
        node = node[name]
        if not isinstance(node, dict):
            return
    node[key] = value


def from_dict(data: Mapping[str, Any], source: str = "<dict>") -> Config:
    """Build and validate a ``Config`` from an already-parsed mapping in Dex's schema (camelCase
    keys), applying env expansion and ``*Env`` keys exactly as ``load`` does."""
    if not isinstance(data, Mapping):
        raise ConfigError([(source, "top level must be a mapping of keys")])
    reader = SectionReader()
    config = reader.config(data)
    checked = validate(config, positions=reader.positions)
    errors = reader.errors + [
        (path, message) for path, message in checked.errors if not reader.reported(path)
    ]
    errors += [
        (path, message)
        for path, message in schema_problems(data)
        if not reader.reported(path)
        and not _has_error(path, errors)
        and not _CONNECTOR_CONFIG.match(path)
    ]
    if feature_flags.disallow_unknown_fields():
        errors += [(path, msg) for path, msg in reader.ignored if msg.startswith(UNKNOWN_KEY)]
        errors += [
            (warning.split(": ", 1)[0], "unknown key")
            for warning in checked.warnings
            if ": unknown key" in warning
        ]
    if errors:
        raise ConfigError(errors)
    config.warnings = reader.warnings + checked.warnings
    config.ignored = [w for w in config.warnings if "ignored" in w or NOT_USED in w]
    return config


def _has_error(path: str, errors: list[tuple[str, str]]) -> bool:
    """Whether ``path``, a key above it or a key below it already has an error."""
    return any(
        p == path or path.startswith((f"{p}.", f"{p}[")) or p.startswith((f"{path}.", f"{path}["))
        for p, _ in errors
    )
