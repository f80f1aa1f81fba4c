"""Stored timestamps: format_ts writes the text isoformat would, and parse_ts reads it back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bridge.store.codec import SystemStamps, format_ts, parse_ts, stored_ts

_ZONES = st.one_of(
    st.just(UTC),
    st.integers(-23 * 60, 23 * 60).map(lambda minutes: timezone(timedelta(minutes=minutes))),
)


# Naive wall times, given one of _ZONES by the test. Years 1 and 9999 are left out, as converting to UTC
# may leave the range datetime can hold.
_EARLIEST = datetime(2, 1, 1)  # noqa: DTZ001
_LATEST = datetime(9998, 12, 31)  # noqa: DTZ001


@given(st.datetimes(_EARLIEST, _LATEST), _ZONES)
def test_format_ts_is_isoformat_in_utc_to_the_millisecond_with_z(wall: datetime, zone: timezone) -> None:
    moment = wall.replace(tzinfo=zone)
    expected = moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    assert format_ts(moment) == expected
    assert parse_ts(expected) == moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def test_format_ts_refuses_a_naive_datetime() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        format_ts(datetime(2026, 12, 5, 8, 0))  # noqa: DTZ001 - the naive value under test


def test_system_stamps_are_format_ts_of_the_time_now(monkeypatch: pytest.MonkeyPatch) -> None:
    """The store's stamps, their seconds formatted once per second, are the text format_ts writes for the time
    they were taken, across a change of second (and of day) too."""
    stamps = SystemStamps()
    moments = [
        datetime(2026, 12, 5, 13, 59, 59, 999_999, tzinfo=UTC),
        datetime(2026, 12, 5, 14, 0, 0, 1_000, tzinfo=UTC),
        datetime(2026, 12, 5, 14, 0, 0, 0, tzinfo=UTC),
        datetime(2026, 12, 5, 23, 59, 59, 123_456, tzinfo=UTC),
        datetime(2026, 12, 6, 0, 0, 0, 999_000, tzinfo=UTC),
    ]
    for moment in moments:
        ns = (int(moment.timestamp()) * 1_000_000 + moment.microsecond) * 1000 + 999
        monkeypatch.setattr("bridge.store.codec.time.time_ns", lambda ns=ns: ns)
        assert stamps() == format_ts(moment)
    monkeypatch.undo()
    before = format_ts(datetime.now(UTC))
    taken = stamps()
    assert before <= taken <= format_ts(datetime.now(UTC))


@given(
    st.datetimes(_EARLIEST, _LATEST),
    _ZONES,
    st.sampled_from(["milliseconds", "microseconds", "seconds", "auto"]),
)
def test_stored_ts_is_format_ts_of_parse_ts_and_keeps_format_ts_own_text(
    wall: datetime, zone: timezone, timespec: str
) -> None:
    """A GET shows a stored timestamp as format_ts(parse_ts(text)); the text format_ts wrote is kept as it is."""
    moment = wall.replace(tzinfo=zone)
    for text in (
        moment.isoformat(timespec=timespec),
        moment.isoformat(sep=" ", timespec=timespec),
        format_ts(moment),
    ):
        assert stored_ts(text) == format_ts(parse_ts(text))
    own = format_ts(moment)
    assert stored_ts(own) is own


@pytest.mark.parametrize("text", ["2026-13-05T08:00:00.000Z", "2026-12-05T08:00:00.00xZ", "not a time", ""])
def test_stored_ts_refuses_what_parse_ts_refuses(text: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - datetime's own message
        stored_ts(text)
