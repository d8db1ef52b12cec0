"""Quiet hours in the recipient's own time zone, daylight-saving changes included."""

from __future__ import annotations

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

from services.notifier.quiet_hours import QuietHours

NIGHT = QuietHours(time(21), time(8))
BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
TOKYO = ZoneInfo("Asia/Tokyo")


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def test_the_same_instant_is_night_in_one_zone_and_day_in_another() -> None:
    moment = utc(2025, 1, 15, 23, 0)  # midnight in Berlin, 18:00 in New York
    assert NIGHT.is_quiet(moment, BERLIN)
    assert not NIGHT.is_quiet(moment, NEW_YORK)


def test_outside_quiet_hours_a_nudge_goes_out_at_once() -> None:
    moment = utc(2025, 1, 15, 12, 0)
    assert NIGHT.next_open(moment, BERLIN) == moment


def test_an_evening_nudge_waits_for_the_next_morning() -> None:
    # 22:30 in Tokyo (UTC+9) -> 08:00 the next day in Tokyo = 23:00 UTC.
    assert NIGHT.next_open(utc(2025, 1, 15, 13, 30), TOKYO) == utc(2025, 1, 15, 23, 0)


def test_an_early_morning_nudge_waits_for_the_same_morning() -> None:
    # 05:00 in New York (UTC-5) -> 08:00 New York = 13:00 UTC.
    assert NIGHT.next_open(utc(2025, 1, 15, 10, 0), NEW_YORK) == utc(2025, 1, 15, 13, 0)


def test_the_window_ends_at_local_eight_on_the_morning_clocks_go_forward() -> None:
    # Night of 29-30 March 2025 in Berlin: 23:00 CET is 22:00 UTC; the clocks jump
    # from 02:00 to 03:00, so 08:00 CEST is 06:00 UTC, not 07:00.
    assert NIGHT.next_open(utc(2025, 3, 29, 22, 0), BERLIN) == utc(2025, 3, 30, 6, 0)


def test_the_window_ends_at_local_eight_on_the_morning_clocks_go_back() -> None:
    # 2 November 2025 in New York: 01:00-02:00 happens twice; 08:00 EST is 13:00 UTC.
    assert NIGHT.next_open(utc(2025, 11, 2, 5, 30), NEW_YORK) == utc(2025, 11, 2, 13, 0)


def test_a_window_ending_in_the_skipped_hour_ends_when_the_clocks_jump() -> None:
    early = QuietHours(time(0, 30), time(2, 30))  # 02:30 does not exist on 30 March
    opened = early.next_open(utc(2025, 3, 29, 23, 45), BERLIN)  # 00:45 CET
    assert opened == utc(2025, 3, 30, 1, 0)  # 02:00 CET became 03:00 CEST


def test_daytime_quiet_hours_do_not_wrap_around_midnight() -> None:
    lunch = QuietHours(time(12), time(13))
    assert lunch.is_quiet(utc(2025, 1, 15, 12, 30), ZoneInfo("UTC"))
    assert not lunch.is_quiet(utc(2025, 1, 15, 23, 30), ZoneInfo("UTC"))
    assert lunch.next_open(utc(2025, 1, 15, 12, 30), ZoneInfo("UTC")) == utc(2025, 1, 15, 13)


def test_equal_start_and_end_mean_no_quiet_hours() -> None:
    never = QuietHours(time(8), time(8))
    assert not never.is_quiet(utc(2025, 1, 15, 3, 0), BERLIN)
