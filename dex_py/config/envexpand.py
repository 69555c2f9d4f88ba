"""Go's ``os.ExpandEnv`` rules for ``$NAME`` and ``${NAME}`` (Dex expands config values with it).

Used by ``dex_py.config.reader`` on the parsed string values of ``storage.config`` and
``connectors[].config`` only, never on raw YAML text.
"""

from __future__ import annotations

from collections.abc import Callable


def expand_env(text: str, lookup: Callable[[str], str]) -> str:
    """Expand ``$NAME`` and ``${NAME}`` in ``text`` the way Go's ``os.Expand`` does.

    A name is letters, digits and ``_``; a single special character (``$``, ``*``, ``#``, ``@``,
    ``!``, ``?``, ``-`` or a digit) is a name too. ``${}`` and an unclosed ``${`` are dropped;
    a ``$`` followed by anything else (or at the end) stays as is.
    """
    out: list[str] = []
    i = 0
    n = len(text)
    while i < n:
        c = text[i]
        if c != "$" or i + 1 == n:
            out.append(c)
            i += 1
            continue
        name, width = _shell_name(text, i + 1)
        if name:
            out.append(lookup(name))
        elif width == 0:
            out.append("$")
        i += 1 + width
    return "".join(out)


_SPECIAL = set("*#$@!?-0123456789")


def _shell_name(text: str, start: int) -> tuple[str, int]:
    """The variable name at ``text[start:]`` and how many characters it spans."""
    if text[start] == "{":
        if start + 2 < len(text) and text[start + 1] in _SPECIAL and text[start + 2] == "}":
            return text[start + 1], 3
        end = text.find("}", start + 1)
        if end == -1:
            return "", 1  # bad syntax: drop "${"
        if end == start + 1:
            return "", 2  # "${}": dropped
        return text[start + 1 : end], end - start + 1
    if text[start] in _SPECIAL:
        return text[start], 1
    end = start
    while end < len(text) and (text[end].isascii() and (text[end].isalnum() or text[end] == "_")):
        end += 1
    return text[start:end], end - start
