"""Docker's ``.dockerignore`` rules, for the deploy tests: patterns as Go's ``filepath.Match``
plus ``**`` (any number of directories), ``!`` re-includes, the last matching rule wins, and a
rule matches a path when it matches the path or one of its parent directories (as the Docker
engine reads the file)."""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    out = ""
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out += "(?:.*/)?"
            i += 3
        elif pattern.startswith("**", i):
            out += ".*"
            i += 2
        elif pattern[i] == "*":
            out += "[^/]*"
            i += 1
        elif pattern[i] == "?":
            out += "[^/]"
            i += 1
        else:
            out += re.escape(pattern[i])
            i += 1
    return re.compile(out)


class DockerIgnore:
    def __init__(self, path: Path) -> None:
        self.rules: list[tuple[bool, re.Pattern[str]]] = []
        for raw in path.read_text().splitlines():
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            include = line.startswith("!")
            pattern = line.removeprefix("!").strip().strip("/")
            pattern = str(PurePosixPath(pattern))
            self.rules.append((include, _pattern_regex(pattern)))

    def excluded(self, relative_path: str) -> bool:
        """True when the file at ``relative_path`` (POSIX, from the context root) is left out."""
        parts = PurePosixPath(relative_path).parts
        candidates = ["/".join(parts[: n + 1]) for n in range(len(parts))]
        excluded = False
        for include, regex in self.rules:
            if any(regex.fullmatch(candidate) for candidate in candidates):
                excluded = not include
        return excluded
