"""Go duration strings (``time.ParseDuration``), as Dex's ``config.yaml`` spells them.

A duration is an optional sign and one or more decimal numbers, each with an optional fraction
and a unit: ``ns``, ``us`` (or ``µs``), ``ms``, ``s``, ``m``, ``h``; for example ``6h``,
``1h30m``, ``1.5h``, ``500ms``, ``-2m``. A bare ``0`` is the only number allowed without a unit.
Like Go, values are limited to what fits in a signed 64-bit count of nanoseconds; precision
below a microsecond is truncated (``timedelta`` cannot hold it).
"""

from __future__ import annotations

import re
from datetime import timedelta
from fractions import Fraction

_NANOS_PER_UNIT = {
    "ns": 1,
    "us": 1_000,
    "\u00b5s": 1_000,  # micro sign
    "\u03bcs": 1_000,  # Greek small letter mu
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60 * 1_000_000_000,
    "h": 3600 * 1_000_000_000,
}
_PART = re.compile(r"(\d*)(?:\.(\d*))?(ns|us|\u00b5s|\u03bcs|ms|s|m|h)")
_MAX_NANOS = 2**63 - 1


class DurationError(ValueError):
    """The text is not a valid Go duration."""


def parse_duration(text: str) -> timedelta:
    """Parse a Go duration string into a ``timedelta``; raise ``DurationError`` if invalid."""
    if not isinstance(text, str):
        raise DurationError(f"invalid duration {text!r}: must be a string such as '1h30m'")
    rest = text
    negative = False
    if rest[:1] in ("+", "-"):
        negative = rest[0] == "-"
        rest = rest[1:]
    if rest == "0":
        return timedelta(0)
    if not rest:
        raise DurationError(f"invalid duration {text!r}")
    total = Fraction(0)
    while rest:
        match = _PART.match(rest)
        if match is None:
            if re.match(r"\d*(\.\d*)?$", rest):
                raise DurationError(f"invalid duration {text!r}: missing unit (ns, ms, s, m, h)")
            raise DurationError(f"invalid duration {text!r}: expected a number and a unit")
        whole, frac, unit = match.group(1), match.group(2) or "", match.group(3)
        if not whole and not frac:
            raise DurationError(f"invalid duration {text!r}: expected a number before {unit!r}")
        value = Fraction(int(whole or "0"))
        if frac:
            value += Fraction(int(frac), 10 ** len(frac))
        total += value * _NANOS_PER_UNIT[unit]
        rest = rest[match.end() :]
    nanos = int(total)  # truncate fractional nanoseconds, as Go does
    if nanos > _MAX_NANOS:
        raise DurationError(f"invalid duration {text!r}: too large")
    micros = nanos // 1000
    return -timedelta(microseconds=micros) if negative else timedelta(microseconds=micros)


def format_duration(value: timedelta) -> str:
    """Spell ``value`` the way Go prints durations (``6h0m0s``, ``1m30s``, ``500ms``, ``0s``)."""
    micros = (value.days * 86_400 + value.seconds) * 1_000_000 + value.microseconds
    sign = "-" if micros < 0 else ""
    micros = abs(micros)
    if micros == 0:
        return "0s"
    if micros < 1_000_000:
        if micros % 1000 == 0:
            return f"{sign}{micros // 1000}ms"
        return f"{sign}{_decimal(micros, 1000)}ms"
    hours, rem = divmod(micros, 3_600_000_000)
    minutes, rem = divmod(rem, 60_000_000)
    seconds = _decimal(rem, 1_000_000)
    if hours:
        return f"{sign}{hours}h{minutes}m{seconds}s"
    if minutes:
        return f"{sign}{minutes}m{seconds}s"
    return f"{sign}{seconds}s"


def _decimal(amount: int, unit: int) -> str:
    whole, frac = divmod(amount, unit)
    if not frac:
        return str(whole)
    digits = len(str(unit)) - 1
    return f"{whole}.{frac:0{digits}d}".rstrip("0")
