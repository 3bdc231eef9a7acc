from datetime import datetime, timedelta, timezone

import pytest

from braket_guard.core.windows import (TimestampError, format_timestamp, load_zone, parse_timestamp,
                                  window_for)

UTC = load_zone("UTC")


def test_parse_braket_timestamp_with_milliseconds_and_z():
    moment = parse_timestamp("2026-11-28T01:17:42.898Z")
    assert moment == datetime(2026, 11, 28, 1, 17, 42, 898000, tzinfo=timezone.utc)
    assert format_timestamp(moment) == "2026-11-28T01:17:42.898Z"
    assert parse_timestamp("2026-11-28T10:17:42+09:00") == datetime(2026, 11, 28, 1, 17, 42, tzinfo=timezone.utc)


@pytest.mark.parametrize("bad", ["", None, 17, "yesterday", "2026-11-28T01:17:42", "2026-13-01T00:00:00Z"])
def test_bad_timestamps_rejected(bad):
    with pytest.raises(TimestampError):
        parse_timestamp(bad)


def test_unknown_zone_is_named():
    with pytest.raises(ValueError, match="Mars/Olympus"):
        load_zone("Mars/Olympus")


def test_day_window_utc():
    window = window_for("day", parse_timestamp("2026-11-28T23:59:59.999Z"), UTC)
    assert window.key == "2026-11-28"
    assert window.start == datetime(2026, 11, 28, tzinfo=timezone.utc)
    assert window.end == datetime(2026, 11, 29, tzinfo=timezone.utc)


def test_same_two_tasks_one_utc_day_two_tokyo_days():
    first, second = parse_timestamp("2026-11-28T14:30:00Z"), parse_timestamp("2026-11-28T15:30:00Z")
    assert window_for("day", first, UTC).key == window_for("day", second, UTC).key == "2026-11-28"
    tokyo = load_zone("Asia/Tokyo")
    assert window_for("day", first, tokyo).key == "2026-11-28"
    assert window_for("day", second, tokyo).key == "2026-11-29"  # 00:30 in Tokyo


def test_dst_days_are_23_and_25_hours_long():
    new_york = load_zone("America/New_York")
    spring = window_for("day", parse_timestamp("2026-03-08T12:00:00Z"), new_york)
    autumn = window_for("day", parse_timestamp("2026-11-01T12:00:00Z"), new_york)
    assert spring.end - spring.start == timedelta(hours=23)
    assert autumn.end - autumn.start == timedelta(hours=25)
    # 04:30 UTC on 8 March is still 7 March in New York (EST, UTC-5)
    assert window_for("day", parse_timestamp("2026-03-08T04:30:00Z"), new_york).key == "2026-03-07"


def test_month_and_year_boundaries():
    dec = window_for("month", parse_timestamp("2026-12-31T23:59:59Z"), UTC)
    jan = window_for("month", parse_timestamp("2027-01-01T00:00:00Z"), UTC)
    assert (dec.key, jan.key) == ("2026-12", "2027-01")
    assert dec.end == jan.start == datetime(2027, 1, 1, tzinfo=timezone.utc)
    # 2027-01-01 05:00 in Tokyo is still December in UTC but January locally
    assert window_for("month", parse_timestamp("2026-12-31T20:00:00Z"), load_zone("Asia/Tokyo")).key == "2027-01"
    feb = window_for("month", parse_timestamp("2028-02-29T12:00:00Z"), UTC)
    assert feb.end - feb.start == timedelta(days=29)


def test_total_window_never_expires():
    window = window_for("total", parse_timestamp("2026-11-28T00:00:00Z"), UTC)
    assert (window.key, window.start, window.end, window.expires_at()) == ("total", None, None, None)


def test_counter_expiry_is_after_window_end():
    day = window_for("day", parse_timestamp("2026-11-28T00:00:00Z"), UTC)
    month = window_for("month", parse_timestamp("2026-11-28T00:00:00Z"), UTC)
    assert day.expires_at() > day.end.timestamp()
    assert month.expires_at() > month.end.timestamp() + 300 * 86400


def test_unknown_window_kind():
    with pytest.raises(ValueError, match="week"):
        window_for("week", parse_timestamp("2026-11-28T00:00:00Z"), UTC)
