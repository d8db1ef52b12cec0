"""Goal check-in: every 28 days of an active mentorship, the mentee is asked to check
in on their goals unless a goal.checked_in arrived in that window."""

from __future__ import annotations

from tests.notifier.builders import T0, checked_in, day, ended, run, sent, started, without

GOALS_ONLY = without("feedback-reminder", "no-session-reminder", "no-session-warning",
                     "no-session-escalation")  # fmt: skip


async def test_the_mentee_is_asked_every_28_days() -> None:
    nudges = await run([started(T0)], until=day(90), rules=GOALS_ONLY)
    assert sent(nudges) == [
        ("goal-check-in", "ana", day(28)), ("goal-check-in", "ana", day(56)),
        ("goal-check-in", "ana", day(84)),
    ]  # fmt: skip


async def test_a_check_in_within_the_window_skips_that_window_only() -> None:
    nudges = await run([started(T0), checked_in(day(30))], until=day(90), rules=GOALS_ONLY)
    assert [at for _, _, at in sent(nudges)] == [day(28), day(84)]


async def test_the_reason_names_the_start_of_the_window() -> None:
    nudges = await run([started(T0)], until=day(56), rules=GOALS_ONLY)
    assert [n.data.reason for n in nudges] == [
        "no goal check-in since 3 March", "no goal check-in since 31 March",
    ]  # fmt: skip


async def test_check_ins_stop_with_the_mentorship() -> None:
    nudges = await run([started(T0), ended(day(40))], until=day(200), rules=GOALS_ONLY)
    assert [at for _, _, at in sent(nudges)] == [day(28)]
