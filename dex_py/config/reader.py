"""Typed-value reading for ``dex_py.config.loader``: parsed YAML in, values and key-path errors out.

``Reader`` reads one key at a time (string, version, boolean, integer, list of strings, string
map, Go duration, ``*Env`` indirection, list of mappings) from the parsed YAML, falling back to a
default and recording ``(key path, message)`` when a value has the wrong type, and a warning for
each unknown key. It remembers which paths already have an error, so ``validate`` does not repeat
them, and the original index of each list entry it kept (``positions``), so later errors name the
entry as it was in the file.

Environment variables (``$VAR``, ``${VAR}``) are expanded by ``expanded`` with Go's
``os.ExpandEnv`` rules on parsed string values only (the section mappers call it for
``storage.config`` and ``connectors[].config``); like Dex, ``DEX_EXPAND_ENV=false`` turns it off.

A key dex-py does not read is a warning that says so (and names the closest known key when the
name looks like a typo); ``ignored`` keeps those paths apart from other warnings, so that
``check-config`` can fail on them and ``DEX_CONFIG_DISALLOW_UNKNOWN_FIELDS`` turn them into
errors.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Callable, Iterable, Mapping
from datetime import timedelta
from typing import Any, TypeVar

from dex_py.config import feature_flags
from dex_py.config.durations import DurationError, parse_duration
from dex_py.config.envexpand import expand_env

T = TypeVar("T")

NOT_USED = "accepted but not used by dex-py"
UNKNOWN_KEY = "unknown key (ignored)"


def unknown_key_message(key: str, known: Iterable[str]) -> str:
    """``unknown key (ignored)``, with ``did you mean 'x'?`` when a known key is close."""
    close = difflib.get_close_matches(key, list(known), n=1, cutoff=0.75)
    if not close:
        close = [k for k in known if k.lower() == key.lower()]
    return f"{UNKNOWN_KEY}; did you mean {close[0]!r}?" if close else UNKNOWN_KEY


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


class Reader:
    """Reads typed values from the parsed YAML, collecting errors and warnings by key path."""

    def __init__(self) -> None:
        self.errors: list[tuple[str, str]] = []
        self.warnings: list[str] = []
        # Keys read by nothing: (path, message); each is also in warnings.
        self.ignored: list[tuple[str, str]] = []
        # Paths whose problem is already reported, so validate() does not repeat it.
        self.suppressed: set[str] = set()
        self.positions: dict[str, list[int]] = {}
        self.expand = feature_flags.expand_env()

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
                message = NOT_USED
            elif key not in known:
                message = unknown_key_message(str(key), sorted(known))
            else:
                continue
            self.warn(_join(path, str(key)), message)
            self.ignored.append((_join(path, str(key)), message))

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

    def version(self, data: Mapping[Any, Any], key: str, path: str, default: str) -> str:
        """A version string; ``1.2`` unquoted is a YAML float, taken as its text."""
        value = data.get(key)
        if isinstance(value, float | int) and not isinstance(value, bool):
            value = str(value)
        return self.string({key: value}, key, path, default)

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
