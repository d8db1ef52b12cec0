"""Feedback due: 24 hours after session.completed, each participant who has not sent
feedback for that session gets one reminder."""

from __future__ import annotations

from tests.notifier.builders import T0, completed, day, feedback, run, sent, started, without

FEEDBACK_ONLY = without("goal-check-in", "no-session-reminder", "no-session-warning",
                        "no-session-escalation")  # fmt: skip


async def test_the_participant_without_feedback_is_reminded_a_day_later() -> None:
    history = [started(T0), completed(day(2)), feedback(day(2, 3), "ana")]
    nudges = await run(history, until=day(30), rules=FEEDBACK_ONLY)
    assert sent(nudges) == [("feedback-reminder", "bo", day(3))]
    assert nudges[0].data.reason == "no feedback yet on the session of 5 March"


async def test_feedback_from_both_means_no_reminder() -> None:
    history = [
        started(T0),
        completed(day(2)),
        feedback(day(2, 1), "ana"),
        feedback(day(2, 23), "bo"),
    ]
    assert await run(history, until=day(30), rules=FEEDBACK_ONLY) == []


async def test_each_session_has_its_own_reminder() -> None:
    history = [
        started(T0),
        completed(day(2), session="s1"), feedback(day(2, 1), "ana", session="s1"),
        feedback(day(2, 1), "bo", session="s1"),
        completed(day(9), session="s2"),
    ]  # fmt: skip
    nudges = await run(history, until=day(30), rules=FEEDBACK_ONLY)
    assert sorted(sent(nudges)) == [
        ("feedback-reminder", "ana", day(10)), ("feedback-reminder", "bo", day(10)),
    ]  # fmt: skip


async def test_feedback_for_another_session_does_not_count() -> None:
    history = [
        started(T0),
        completed(day(2), session="s1"),
        feedback(day(2, 1), "ana", session="s0"),
    ]
    nudges = await run(history, until=day(30), rules=FEEDBACK_ONLY)
    assert sorted(p for _, p, _ in sent(nudges)) == ["ana", "bo"]
