"""Match proposal unanswered: remind the person who has not answered after 3 days."""

from __future__ import annotations

from datetime import timedelta

from tests.notifier.builders import (
    T0,
    accepted,
    day,
    declined,
    expired,
    proposed,
    run,
    sent,
    withdrawn,
)


async def test_only_the_person_who_has_not_answered_is_reminded_after_three_days() -> None:
    nudges = await run([proposed(T0), accepted(day(1), "ana")], until=day(10))
    assert sent(nudges) == [("proposal-reminder", "bo", day(3))]
    assert nudges[0].data.reason == "proposal p1 unanswered since 3 March"
    assert "proposal p1 unanswered since 3 March" in nudges[0].data.message


async def test_nobody_is_reminded_when_both_answered_in_time() -> None:
    history = [proposed(T0), accepted(day(1), "ana"), accepted(day(2, 23), "bo")]
    assert await run(history, until=day(10)) == []


async def test_a_decline_ends_the_proposal_for_both() -> None:
    assert await run([proposed(T0), declined(day(1), "bo")], until=day(10)) == []


async def test_an_expired_or_withdrawn_proposal_needs_no_answer() -> None:
    assert await run([proposed(T0), expired(day(2))], until=day(10)) == []
    assert await run([proposed(T0), withdrawn(day(2))], until=day(10)) == []
    short = proposed(T0, expires_in=timedelta(days=2))
    assert await run([short], until=day(10)) == []


async def test_an_answer_after_the_reminder_does_not_take_it_back() -> None:
    nudges = await run([proposed(T0), accepted(day(4), "ana")], until=day(10))
    assert sorted(sent(nudges)) == [
        ("proposal-reminder", "ana", day(3)), ("proposal-reminder", "bo", day(3)),
    ]  # fmt: skip


async def test_each_person_is_reminded_once() -> None:
    nudges = await run([proposed(T0)], until=day(30))
    assert sorted(n.data.person_id for n in nudges) == ["ana", "bo"]
