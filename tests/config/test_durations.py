"""Go duration strings: the accepted grammar, the rejected forms, and printing them back."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dex_py.config.durations import DurationError, format_duration, parse_duration


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("6h", timedelta(hours=6)),
        ("10m", timedelta(minutes=10)),
        ("3s", timedelta(seconds=3)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("500ms", timedelta(milliseconds=500)),
        ("1.5h", timedelta(hours=1, minutes=30)),
        (".5s", timedelta(milliseconds=500)),
        ("1.s", timedelta(seconds=1)),
        ("2h45m0.5s", timedelta(hours=2, minutes=45, milliseconds=500)),
        ("1m1m", timedelta(minutes=2)),
        ("-2m", timedelta(minutes=-2)),
        ("+3s", timedelta(seconds=3)),
        ("0", timedelta(0)),
        ("-0", timedelta(0)),
        ("0s", timedelta(0)),
        ("1us", timedelta(microseconds=1)),
        ("1\u00b5s", timedelta(microseconds=1)),
        ("1\u03bcs", timedelta(microseconds=1)),
        ("1000ns", timedelta(microseconds=1)),
        ("999ns", timedelta(0)),  # below timedelta's resolution: truncated
        ("2160h", timedelta(days=90)),
        ("2562047h", timedelta(hours=2562047)),
    ],
)
def test_parse(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    "text",
    ["", "-", "-1", "1", "h", "1d", "1 h", " 1h", "1h ", ".s", "1.5.5s", "1H", "2562048h", "1h-1m"],
)
def test_reject(text: str) -> None:
    with pytest.raises(DurationError, match="invalid duration"):
        parse_duration(text)


def test_reject_non_strings() -> None:
    with pytest.raises(DurationError, match="must be a string"):
        parse_duration(60)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (timedelta(hours=6), "6h0m0s"),
        (timedelta(minutes=1, seconds=30), "1m30s"),
        (timedelta(seconds=1, milliseconds=500), "1.5s"),
        (timedelta(milliseconds=500), "500ms"),
        (timedelta(microseconds=1500), "1.5ms"),
        (timedelta(0), "0s"),
        (timedelta(minutes=-2), "-2m0s"),
        (timedelta(days=2), "48h0m0s"),
    ],
)
def test_format(value: timedelta, text: str) -> None:
    assert format_duration(value) == text


@given(st.integers(min_value=-(10**15), max_value=10**15))
def test_format_round_trips(micros: int) -> None:
    value = timedelta(microseconds=micros)
    assert parse_duration(format_duration(value)) == value
