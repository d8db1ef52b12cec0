"""Properties over random histories with production's id links (a mentorship has its
match's id): a replay gives the same nudges, and so does any arrival order the
service may see (topics interleaved, answers after their mentorship's events, events
of equal time in any order, redeliveries) as long as no event is later than the
grace period. Plus the cases that once lost a mentorship's every nudge."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.notifier.simulator import nudge_line, simulate
from shared.events import CloudEvent
from tests.notifier import builders as b
from tests.notifier.histories import (
    GRACES,
    RULES,
    UNTIL,
    arrivals,
    as_the_service_sees_it,
    histories,
)
from tests.notifier.late_answers import LATE_ANSWERS

PROPERTY = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(histories())
async def test_replaying_the_same_history_twice_gives_the_same_nudges(
    history: list[CloudEvent[Any]],
) -> None:
    first = [nudge_line(n) for n in await simulate(history, RULES, UNTIL)]
    again = [nudge_line(n) for n in await simulate(list(history), RULES, UNTIL)]
    assert first == again


@PROPERTY
@given(histories(), st.data())
async def test_redelivered_events_change_nothing(
    history: list[CloudEvent[Any]], data: st.DataObject
) -> None:
    repeats = data.draw(st.lists(st.sampled_from(history), max_size=10))
    expected = [nudge_line(n) for n in await simulate(history, RULES, UNTIL)]
    assert [nudge_line(n) for n in await simulate(history + repeats, RULES, UNTIL)] == expected


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(histories(), st.data())
async def test_events_of_equal_time_give_the_same_nudges_in_any_order(
    history: list[CloudEvent[Any]], data: st.DataObject
) -> None:
    shuffled = data.draw(st.permutations(history))
    expected = sorted(nudge_line(n) for n in await simulate(history, RULES, UNTIL))
    assert sorted(nudge_line(n) for n in await simulate(shuffled, RULES, UNTIL)) == expected


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(histories(with_deletions=False), st.data())
async def test_any_arrival_order_within_the_grace_gives_the_simulators_nudges(
    history: list[CloudEvent[Any]], data: st.DataObject
) -> None:
    grace = data.draw(st.sampled_from(GRACES))
    arrived = data.draw(arrivals(history, grace))
    expected = [nudge_line(n) for n in await simulate(history, RULES, UNTIL)]
    seen = await as_the_service_sees_it(arrived, grace, UNTIL)
    assert sorted(seen) == sorted(expected)


async def test_a_mentorship_keeps_its_nudges_whatever_the_arrival_of_its_answers() -> None:
    """The regression cases, each named; see `late_answers`."""
    for case in LATE_ANSWERS:
        expected = await simulate(case.history, RULES, case.until)
        assert sorted(b.sent(expected)) == case.expected, case.name
        seen = await as_the_service_sees_it(case.arrivals, case.grace, case.until)
        assert sorted(seen) == sorted(nudge_line(n) for n in expected), case.name
