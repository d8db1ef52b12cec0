"""Quiet hours in the recipient's zone and the weekly limit, through the simulator:
deferred or merged, never lost."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from services.notifier.engine import DIGEST
from shared.events import CloudEvent
from tests.notifier.builders import (
    ADMIN,
    T0,
    books,
    checked_in,
    day,
    profile,
    run,
    sent,
    started,
    without,
)

LADDER_ONLY = without("goal-check-in", "feedback-reminder")


async def test_a_nudge_due_at_night_waits_for_the_recipients_morning() -> None:
    # 09:00 UTC is 18:00 in Tokyo: fine. Starting at 13:00 UTC (22:00 in Tokyo), the
    # reminder is due at night in Tokyo and goes out at 08:00 Tokyo (23:00 UTC).
    start = day(0, 4)
    history = [profile("ana", "Asia/Tokyo"), profile("bo", "Europe/London"), started(start)]
    nudges = await run(history, until=day(15), rules=LADDER_ONLY)
    assert sorted(sent(nudges)) == [
        ("no-session-reminder", "ana", day(14, 14)),
        ("no-session-reminder", "bo", day(14, 4)),
    ]


async def test_quiet_hours_follow_the_daylight_saving_change() -> None:
    # Due Saturday 29 March 2025 at 22:00 UTC = 23:00 CET; the clocks go forward that
    # night, so 08:00 on Sunday is 06:00 UTC.
    start = datetime(2025, 3, 15, 22, 0, tzinfo=UTC)
    history = [profile("ana", "Europe/Berlin", at=start), started(start)]
    nudges = await run(history, until=start + timedelta(days=15), rules=LADDER_ONLY)
    at_for_ana = [n.at for n in nudges if n.data.person_id == "ana"]
    assert at_for_ana == [datetime(2025, 3, 30, 6, 0, tzinfo=UTC)]


async def test_the_zone_of_the_time_is_the_one_used() -> None:
    history = [
        profile("ana", "Asia/Tokyo", revision=1),
        profile("ana", "America/Los_Angeles", at=day(5), revision=2),
        started(day(0, 4)),
    ]
    nudges = await run(history, until=day(15), rules=LADDER_ONLY)
    # 13:00 UTC is 06:00 in Los Angeles (PDT since 9 March): wait until 08:00 = 15:00 UTC.
    assert [n.at for n in nudges if n.data.person_id == "ana"] == [day(14, 6)]


def _mentorships(mentor: str, starts: list[datetime]) -> list[CloudEvent[Any]]:
    return [
        started(at, mentorship=f"m{i}", mentee=f"mentee-{i}", mentor=mentor)
        for i, at in enumerate(starts)
    ]


async def test_over_the_weekly_limit_a_nudge_waits_for_a_free_slot() -> None:
    history = _mentorships("bo", [day(0), day(1), day(2), day(3)])
    nudges = await run(history, until=day(25), rules=LADDER_ONLY)
    to_bo = [(n.data.kind, n.data.mentorship_id, n.at) for n in nudges if n.data.person_id == "bo"]
    assert to_bo == [
        ("no-session-reminder", "m0", day(14)),
        ("no-session-reminder", "m1", day(15)),
        ("no-session-reminder", "m2", day(16)),
        ("no-session-reminder", "m3", day(21)),  # the week of day 14's nudge is over
    ]


async def test_nudges_due_together_beyond_the_limit_are_merged_into_one() -> None:
    history = _mentorships("bo", [T0] * 5)
    nudges = await run(history, until=day(15), rules=LADDER_ONLY)
    to_bo = [n for n in nudges if n.data.person_id == "bo"]
    assert [n.data.kind for n in to_bo] == ["no-session-reminder", "no-session-reminder", DIGEST]
    digest = to_bo[-1]
    assert len(digest.timer_ids) == 3
    assert digest.data.reason.count("no-session-reminder: no session since 3 March") == 3
    assert digest.data.mentorship_id is None  # three different mentorships


async def test_no_nudge_is_lost_to_the_limit() -> None:
    history = _mentorships("bo", [day(i / 2) for i in range(9)])
    nudges = await run(history, until=day(60), rules=LADDER_ONLY)
    reminders_for_bo = [
        rule
        for n in nudges
        if n.data.person_id == "bo"
        for rule in n.rule_ids
        if rule == "no-session-reminder"
    ]
    assert len(reminders_for_bo) == 9


async def test_escalations_are_exempt_from_the_limit() -> None:
    history = _mentorships("bo", [T0] * 5)
    nudges = await run(history, until=day(43), rules=LADDER_ONLY)
    to_admin = [n for n in nudges if n.data.person_id == ADMIN]
    assert [(n.data.kind, n.at) for n in to_admin] == [("no-session-escalation", day(42))] * 5


async def test_a_nudge_whose_reason_goes_away_while_it_waits_is_not_sent() -> None:
    # The goal check-in is due at 22:00 Berlin time; the mentee checks in at 07:00,
    # before the quiet hours end at 08:00.
    start = day(0, 12)  # 13:00 CET; due 28 days later at 21:00 UTC = 22:00 CET
    history = [profile("ana", "Europe/Berlin"), started(start), checked_in(day(29, -3))]
    rules = without("feedback-reminder", "no-session-reminder", "no-session-warning",
                    "no-session-escalation")  # fmt: skip
    assert await run(history, until=day(30), rules=rules) == []


async def test_a_programme_can_move_its_quiet_hours() -> None:
    rules = books(
        {
            "quiet_hours": {"start": "08:00", "end": "10:00"},
            "rules": {"goal-check-in": {"enabled": False}},
        }
    )
    nudges = await run([started(T0)], until=day(15), rules=rules)
    assert {n.at for n in nudges} == {day(14, 1)}
