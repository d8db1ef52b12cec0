"""No session: reminder at 14 days, firmer at 28, escalation to admins at 42; a
completed or scheduled session resets the ladder."""

from __future__ import annotations

from tests.notifier.builders import (
    ADMIN,
    T0,
    books,
    cancelled,
    completed,
    day,
    ended,
    run,
    scheduled,
    sent,
    started,
    without,
)

LADDER_ONLY = without("goal-check-in", "feedback-reminder")


async def test_a_silent_mentorship_climbs_the_whole_ladder_once() -> None:
    nudges = await run([started(T0)], until=day(120), rules=LADDER_ONLY)
    assert sent(nudges) == [
        ("no-session-reminder", "ana", day(14)), ("no-session-reminder", "bo", day(14)),
        ("no-session-warning", "ana", day(28)), ("no-session-warning", "bo", day(28)),
        ("no-session-escalation", ADMIN, day(42)),
    ]  # fmt: skip


async def test_only_the_escalation_is_marked_as_one() -> None:
    nudges = await run([started(T0)], until=day(50), rules=LADDER_ONLY)
    assert [n.data.escalation for n in nudges] == [False, False, False, False, True]
    escalation = nudges[-1].data
    assert escalation.message == (
        "Mentorship m1 (mentee ana, mentor bo) needs a check-in: no session since 3 March."
    )


async def test_the_reason_names_the_day_of_the_last_session() -> None:
    nudges = await run([started(T0), completed(day(10))], until=day(24), rules=LADDER_ONLY)
    assert {n.data.reason for n in nudges} == {"no session since 13 March"}


async def test_a_completed_session_resets_the_ladder() -> None:
    history = [started(T0), completed(day(10))]
    nudges = await run(history, until=day(60), rules=LADDER_ONLY)
    assert [(kind, at) for kind, _, at in sent(nudges)] == [
        ("no-session-reminder", day(24)), ("no-session-reminder", day(24)),
        ("no-session-warning", day(38)), ("no-session-warning", day(38)),
        ("no-session-escalation", day(52)),
    ]  # fmt: skip


async def test_a_session_midway_up_the_ladder_starts_it_again_from_the_bottom() -> None:
    history = [started(T0), completed(day(20))]
    nudges = await run(history, until=day(40), rules=LADDER_ONLY)
    assert [(kind, at) for kind, _, at in sent(nudges)] == [
        ("no-session-reminder", day(14)), ("no-session-reminder", day(14)),
        ("no-session-reminder", day(34)), ("no-session-reminder", day(34)),
    ]  # fmt: skip


async def test_scheduling_a_session_resets_the_ladder() -> None:
    history = [started(T0), scheduled(day(10), starts=day(12))]
    nudges = await run(history, until=day(27), rules=LADDER_ONLY)
    assert {at for _, _, at in sent(nudges)} == {day(26)}


async def test_a_session_planned_weeks_ahead_keeps_the_ladder_quiet_until_then() -> None:
    history = [started(T0), scheduled(day(1), starts=day(20))]
    nudges = await run(history, until=day(35), rules=LADDER_ONLY)
    assert {at for _, _, at in sent(nudges)} == {day(34)}


async def test_after_a_cancellation_the_silence_counts_from_the_cancellation() -> None:
    history = [started(T0), scheduled(day(1), starts=day(20)), cancelled(day(5))]
    nudges = await run(history, until=day(20), rules=LADDER_ONLY)
    assert {at for _, _, at in sent(nudges)} == {day(19)}


async def test_an_ended_mentorship_gets_no_further_nudges() -> None:
    nudges = await run([started(T0), ended(day(20))], until=day(100), rules=LADDER_ONLY)
    assert {kind for kind, _, _ in sent(nudges)} == {"no-session-reminder"}


async def test_each_rung_can_be_switched_off() -> None:
    rules = without("goal-check-in", "feedback-reminder", "no-session-warning")
    nudges = await run([started(T0)], until=day(60), rules=rules)
    assert [kind for kind, _, _ in sent(nudges)] == [
        "no-session-reminder", "no-session-reminder", "no-session-escalation",
    ]  # fmt: skip


async def test_a_programme_can_climb_faster_and_word_it_its_own_way() -> None:
    rules = books(
        {
            "rules": {
                "goal-check-in": {"enabled": False},
                "no-session-reminder": {"after": "7d", "message": "{days} days: {reason}"},
            }
        }
    )
    nudges = await run([started(T0)], until=day(8), rules=rules)
    assert [(n.data.message, n.at) for n in nudges] == [
        ("7 days: no session since 3 March", day(7)),
        ("7 days: no session since 3 March", day(7)),
    ]


async def test_without_admins_configured_nobody_is_escalated_to() -> None:
    rules = books({"rules": {"goal-check-in": {"enabled": False}}}, admins=())
    nudges = await run([started(T0)], until=day(60), rules=rules)
    assert not any(n.data.escalation for n in nudges)
