"""Reading the auth proxy's YAML config: typed values by key path, unknown keys refused,
``$VAR``/``${VAR}`` expanded in strings, Go-style durations ("300ms", "5m", "1h30m").

Every problem is a ``ProxyConfigError`` naming the key (``cookie.secrets[0]``), so
``dex-py proxy`` can say what to fix and exit non-zero.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from typing import Any

_VAR = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))")
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_UNIT_SECONDS = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}


class ProxyConfigError(ValueError):
    """A config value the proxy cannot run with; ``key`` is its path in the file."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"{key}: {message}" if key else message)
        self.key = key


def parse_duration(text: str) -> float:
    """Seconds in a Go duration string; ValueError when it is not one."""
    text = text.strip()
    if text in ("0", ""):
        return 0.0
    pos, total = 0, 0.0
    for match in _DURATION_PART.finditer(text):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        pos = match.end()
    if pos != len(text):
        raise ValueError(f"not a duration: {text!r} (use e.g. 30s, 5m, 168h)")
    return total


def expand_env(text: str, key: str) -> str:
    """``text`` with ``$VAR`` and ``${VAR}`` replaced; an unset variable is an error."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        if name not in os.environ:
            raise ProxyConfigError(key, f"environment variable {name} is not set")
        return os.environ[name]

    return _VAR.sub(value, text)


class Section:
    """One mapping of the config, read key by key; ``done()`` refuses keys nobody read."""

    def __init__(self, data: Any, path: str) -> None:
        if data is None:
            data = {}
        if not isinstance(data, Mapping):
            raise ProxyConfigError(path or "(top level)", "must be a mapping")
        self.data: Mapping[str, Any] = data
        self.path = path
        self._read: set[str] = set()

    def key(self, name: str) -> str:
        return f"{self.path}.{name}" if self.path else name

    def raw(self, name: str) -> Any:
        self._read.add(name)
        return self.data.get(name)

    def has(self, name: str) -> bool:
        return name in self.data

    def string(self, name: str, default: str = "", *, required: bool = False) -> str:
        value = self.raw(name)
        if value is None:
            if required:
                raise ProxyConfigError(self.key(name), "is required")
            return default
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise ProxyConfigError(self.key(name), "must be a string")
        text = expand_env(str(value), self.key(name))
        if required and not text:
            raise ProxyConfigError(self.key(name), "must not be empty")
        return text

    def boolean(self, name: str, default: bool) -> bool:
        value = self.raw(name)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise ProxyConfigError(self.key(name), "must be true or false")
        return value

    def integer(self, name: str, default: int, *, minimum: int = 0) -> int:
        value = self.raw(name)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise ProxyConfigError(self.key(name), f"must be an integer >= {minimum}")
        return value

    def duration(self, name: str, default: float) -> float:
        text = self.string(name)
        if not text:
            return default
        try:
            return parse_duration(text)
        except ValueError as exc:
            raise ProxyConfigError(self.key(name), str(exc)) from None

    def strings(self, name: str, default: Sequence[str] = ()) -> tuple[str, ...]:
        value = self.raw(name)
        if value is None:
            return tuple(default)
        if not isinstance(value, list):
            raise ProxyConfigError(self.key(name), "must be a list of strings")
        out = []
        for i, item in enumerate(value):
            if isinstance(item, bool) or not isinstance(item, str | int):
                raise ProxyConfigError(f"{self.key(name)}[{i}]", "must be a string")
            out.append(expand_env(str(item), f"{self.key(name)}[{i}]"))
        return tuple(out)

    def section(self, name: str) -> Section:
        return Section(self.raw(name), self.key(name))

    def items(self, name: str) -> list[Section]:
        value = self.raw(name)
        if value is None:
            return []
        if not isinstance(value, list):
            raise ProxyConfigError(self.key(name), "must be a list")
        return [Section(item, f"{self.key(name)}[{i}]") for i, item in enumerate(value)]

    def done(self) -> None:
        unknown = sorted(set(self.data) - self._read)
        if unknown:
            raise ProxyConfigError(self.key(str(unknown[0])), "unknown key")
