"""A person's due instants are settled in order, even when another process settled
one of them meanwhile: the later instants this process read may be out of date, so
it reads the person afresh instead of going on. (Found by the exactly-once test on a
loaded machine: a mentor's nudge went out three hours early, past the weekly limit,
because the instant before it had been postponed by another process.)"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from functools import partial
from typing import Any

import pytest

from services.notifier.clock import TICK
from services.notifier.firing import Claim, Firing
from services.notifier.timers import TimerQueue
from shared.events import CloudEvent
from tests.notifier import builders as b
from tests.notifier.harness import mongo_harness
from tests.support import Stack

pytestmark = pytest.mark.infra

# One nudge a week per person, and only feedback reminders: bo, mentor of two
# mentorships, is due two reminders a few hours apart.
RULES = b.without(
    "proposal-reminder", "no-session-reminder", "no-session-warning",
    "no-session-escalation", "goal-check-in",
    rate_limit={"max_nudges": 1, "per": "7d"},
)  # fmt: skip
EVENTS = [
    b.profile("bo"), b.profile("ana"), b.profile("cy"),
    b.started(mentorship="m1", mentee="ana", mentor="bo"),
    b.started(mentorship="m2", mentee="cy", mentor="bo"),
    # Monday 23:00: its reminders fall due on Tuesday at 23:00, in quiet hours, and
    # wait for Wednesday 08:00.
    b.completed(b.day(0, 14), session="s1", mentorship="m1"),
    # Tuesday 10:00: its reminders fall due on Wednesday at 10:00.
    b.completed(b.day(1, 1), session="s2", mentorship="m2"),
]  # fmt: skip
UNTIL = b.day(2, 2)


def _sent(events: Sequence[CloudEvent[Any]]) -> list[tuple[str, str, datetime]]:
    return sorted((e.data.kind, e.data.person_id, e.time) for e in events)


async def test_an_instant_settled_elsewhere_makes_the_process_read_the_person_again(
    stack: Stack,
) -> None:
    expected = sorted(b.sent(await b.run(EVENTS, UNTIL, RULES)))
    assert ("feedback-reminder", "bo", b.day(1, 23)) in expected  # Wednesday 08:00
    async with mongo_harness(stack, RULES, timedelta(0)) as harness:
        clock = b.profile("clock", at=UNTIL + TICK)  # event time passes both instants
        for event in [*EVENTS, clock]:
            await harness.runtime.run_once(
                event.id, event.time, partial(harness.handler.handle, event=event)
            )
        now = await harness.firing.clock.now()
        queue = TimerQueue(harness.db)
        read_before = await queue.due_for("bo", now)
        assert [at for at, _ in read_before] == [b.day(1, 14), b.day(2, 1)]

        # Another process, whose lease on bo this one then took over, settles bo's
        # first instant: quiet hours move it to Wednesday 08:00, before the second.
        other = Firing(
            harness.runtime,
            harness.firing.notifier,
            harness.firing.clock,
            "process-b",
            timedelta(30),
        )
        await other._settle_claims([Claim("bo", *read_before[0])], now)

        await harness.firing._settle_group(queue, {"bo": read_before}, now)
        while await harness.firing.fire_due():
            pass
        assert _sent(harness.nudges()) == expected
