"""The arrival-order property on the service's own path: events applied by the
handler in the runtime's transactions on MongoDB, timers fired by `Firing` on the
`WatermarkClock` after every arrival, nudges read from what the runtime publishes.
Late events meet the real watermark and the real firing loop. Real database."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.notifier.clock import TICK
from services.notifier.engine import Nudge
from services.notifier.simulator import simulate
from shared.events import CloudEvent
from tests.notifier import builders as b
from tests.notifier.harness import mongo_harness
from tests.notifier.histories import GRACES, RULES, UNTIL, arrivals, histories
from tests.notifier.late_answers import LATE_ANSWERS
from tests.support import Stack

pytestmark = [pytest.mark.infra, pytest.mark.slow]

Sent = tuple[str, datetime]


def simulated(nudges: Sequence[Nudge]) -> list[Sent]:
    return sorted((n.data.model_dump_json(), n.at) for n in nudges)


def published(events: Sequence[CloudEvent[Any]]) -> list[Sent]:
    return sorted((e.data.model_dump_json(), e.time) for e in events)


async def through_the_service(
    stack: Stack, arrived: Sequence[CloudEvent[Any]], grace: timedelta, until: datetime
) -> list[CloudEvent[Any]]:
    """Apply `arrived` in order as one notifier process would, firing what is due after
    each event; then let event time run on to `until`. The nudges published."""
    async with mongo_harness(stack, RULES, grace) as harness:
        for event in arrived:
            await harness.apply(event)
        # Event time that lets everything due by `until` fire, and nothing after it.
        await harness.apply(b.profile("clock", at=until + grace + TICK))
        return harness.nudges()


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(histories(with_deletions=False, pairings=3), st.data())
async def test_any_arrival_order_within_the_grace_gives_the_simulators_nudges_on_mongo(
    stack: Stack, history: list[CloudEvent[Any]], data: st.DataObject
) -> None:
    grace = data.draw(st.sampled_from(GRACES))
    arrived = data.draw(arrivals(history, grace))
    expected = simulated(await simulate(history, RULES, UNTIL))
    assert published(await through_the_service(stack, arrived, grace, UNTIL)) == expected


async def test_a_mentorship_keeps_its_nudges_whatever_the_arrival_of_its_answers_on_mongo(
    stack: Stack,
) -> None:
    for case in LATE_ANSWERS:
        expected = await simulate(case.history, RULES, case.until)
        seen = await through_the_service(stack, case.arrivals, case.grace, case.until)
        assert sorted((e.data.kind, e.data.person_id, e.time) for e in seen) == case.expected
        assert published(seen) == simulated(expected), case.name
