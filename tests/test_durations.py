"""Durations as people write them: `30s`, `10m`, `1h30m`, `7d`, `2w`."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.durations import MAX_SECONDS, DurationError, format_duration, parse_duration

UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30s", timedelta(seconds=30)),
        ("10m", timedelta(minutes=10)),
        ("2h", timedelta(hours=2)),
        ("7d", timedelta(days=7)),
        ("2w", timedelta(weeks=2)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("1d 2h", timedelta(days=1, hours=2)),
        (" 5M ", timedelta(minutes=5)),
        ("0h30m", timedelta(minutes=30)),
    ],
)
def test_parse(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    ("delta", "expected"),
    [
        (timedelta(seconds=30), "30s"),
        (timedelta(hours=1, minutes=30), "1h30m"),
        (timedelta(weeks=2), "14d"),
        (timedelta(days=1, seconds=1), "1d1s"),
        (timedelta(days=366), "366d"),
    ],
)
def test_format(delta: timedelta, expected: str) -> None:
    assert format_duration(delta) == expected


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("0s", "zero"),
        ("0m0s", "zero"),
        ("-5m", "negative"),
        ("-1h", "negative"),
        ("5", "no unit"),
        ("", "empty"),
        ("   ", "empty"),
        ("soon", "cannot read"),
        ("1.5h", "cannot read"),
        ("5 minutes", "cannot read"),
        ("h5", "cannot read"),
        ("5y", "cannot read"),
        ("10m-", "cannot read"),
    ],
)
def test_bad_durations_are_errors(text: str, words: str) -> None:
    with pytest.raises(DurationError, match=words):
        parse_duration(text)


def test_duration_error_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        parse_duration("x")


@given(seconds=st.integers(min_value=1, max_value=10**9))
def test_format_then_parse_is_identity(seconds: int) -> None:
    delta = timedelta(seconds=seconds)

    assert parse_duration(format_duration(delta)) == delta


@given(
    parts=st.lists(
        st.tuples(
            st.integers(min_value=0, max_value=10_000), st.sampled_from(sorted(UNIT_SECONDS))
        ),
        min_size=1,
        max_size=5,
    ).filter(lambda parts: 0 < sum(n * UNIT_SECONDS[u] for n, u in parts) <= MAX_SECONDS)
)
def test_parse_sums_the_parts_and_format_reads_back(parts: list[tuple[int, str]]) -> None:
    text = "".join(f"{n}{unit}" for n, unit in parts)
    expected = timedelta(seconds=sum(n * UNIT_SECONDS[unit] for n, unit in parts))

    parsed = parse_duration(text)

    assert parsed == expected
    assert parse_duration(format_duration(parsed)) == parsed
    assert format_duration(parse_duration(format_duration(parsed))) == format_duration(parsed)


def test_a_duration_beyond_a_century_is_refused() -> None:
    with pytest.raises(DurationError, match="too long; the longest is 100 years"):
        parse_duration("5215w")


@given(number=st.integers(min_value=0, max_value=10**6))
def test_a_bare_number_is_refused(number: int) -> None:
    with pytest.raises(DurationError, match="no unit"):
        parse_duration(str(number))


@pytest.mark.parametrize("text", ["9999999999d", "99999999999999999999s", "999999999999w"])
def test_absurdly_long_durations_are_duration_errors(text: str) -> None:
    """Not an OverflowError from timedelta: the loader turns only ValueErrors into diagnostics."""
    with pytest.raises(DurationError):
        parse_duration(text)
