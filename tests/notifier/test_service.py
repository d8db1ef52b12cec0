"""The notifier service on the real broker and database, in event time: it emits the
nudges the simulator predicts for the same history, with ids derived from the timers,
and nothing else. The nudges topic is read to its end once the service is quiet."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import pytest

from services.notifier.clock import TICK
from services.notifier.config import NotifierSettings
from services.notifier.main import build_spec
from services.notifier.simulator import simulate
from shared.events import CloudEvent, ProfileDeleted
from shared.settings import Settings
from tests.notifier import builders as b
from tests.notifier.stack import applied, emitted_by_id, expected_by_id, quiet
from tests.support import publish, read_events_to_end, running_service, wait_for

pytestmark = pytest.mark.infra

GRACE = timedelta(hours=1)
# Published at once, the history's topics interleave arbitrarily: up to its whole span.
WHOLE_HISTORY = timedelta(days=40)
POLL_S = 0.2


async def test_the_service_emits_exactly_what_the_simulator_predicts(
    fresh: Callable[..., Awaitable[Settings]],
) -> None:
    settings = await fresh()
    # Without the deletion: a deletion purges even nudges due before it that the grace
    # has not let out yet (the service must not nudge someone who left), which the
    # simulator in exact event time would have sent.
    history = [e for e in b.busy_history() if not isinstance(e.data, ProfileDeleted)]
    until = b.day(70)
    expected = expected_by_id(await simulate(history, b.books(), until))
    knobs = NotifierSettings(grace=WHOLE_HISTORY, poll_s=POLL_S, lease_s=5.0)
    spec = build_spec(settings, notifier_settings=knobs, books=b.books())
    async with running_service(spec, settings):
        await publish(settings, history)
        await wait_for(lambda: applied(settings, [e.id for e in history]), timeout=90)
        # Only once everything is in, let event time run on to `until`.
        tick = b.profile("clock", at=until + WHOLE_HISTORY + TICK)
        await publish(settings, [tick])
        ids = [e.id for e in [*history, tick]]
        await wait_for(lambda: quiet(settings, ids, until), timeout=90)
        events = await read_events_to_end(settings, "nudges")
    assert emitted_by_id(events) == expected
    assert len({e.id for e in events}) == len(events) == len(expected)
    assert not any(b.NOTE in e.to_json().decode() for e in events)


async def past_day_14(
    settings: Settings, history: list[CloudEvent[Any]], timeout: float
) -> list[CloudEvent[Any]]:
    """Publish the one event that takes event time past day 14 (ana's reminder is due
    then), wait until the notifier is done with it, and read every nudge sent so far."""
    tick = b.profile("clock", at=b.day(14, 1) + TICK, revision=2)
    await publish(settings, [tick])
    ids = [e.id for e in [*history, tick]]
    await wait_for(lambda: quiet(settings, ids, b.day(14)), timeout=timeout)
    return await read_events_to_end(settings, "nudges")


async def test_nothing_fires_before_event_time_passes_the_due_time(
    fresh: Callable[..., Awaitable[Settings]],
) -> None:
    settings = await fresh()
    knobs = NotifierSettings(grace=GRACE, poll_s=POLL_S, lease_s=5.0)
    spec = build_spec(settings, notifier_settings=knobs, books=b.books())
    # A mentorship a day older than ana's: its reminder is due by then, and shows that
    # the firing loop has looked at the timers since the events were applied.
    older = b.started(b.day(-1), mentorship="m0", mentee="cy", mentor="dee")
    history = [older, b.started(b.T0), b.profile("clock", at=b.day(13, 23))]
    async with running_service(spec, settings):
        await publish(settings, history)
        # Event time (minus the grace) is at day 13 22:00: ana's reminder is due at day 14.
        await wait_for(lambda: quiet(settings, [e.id for e in history], b.day(13, 22)), 90)
        await asyncio.sleep(10 * POLL_S)
        before = await read_events_to_end(settings, "nudges")
        after = await past_day_14(settings, history, timeout=90)
    assert sorted((e.data.person_id, e.time) for e in before) == [
        ("cy", b.day(13)), ("dee", b.day(13)),
    ]  # fmt: skip
    assert sorted((e.data.person_id, e.time) for e in after) == [
        ("ana", b.day(14)), ("bo", b.day(14)), ("cy", b.day(13)), ("dee", b.day(13)),
    ]  # fmt: skip


async def test_timers_a_consumed_event_makes_due_fire_at_once_not_at_the_next_poll(
    fresh: Callable[..., Awaitable[Settings]],
) -> None:
    settings = await fresh()
    # The loop looks at service start, then not again for a minute unless woken.
    knobs = NotifierSettings(grace=GRACE, poll_s=60.0, lease_s=5.0)
    spec = build_spec(settings, notifier_settings=knobs, books=b.books())
    history = [b.started(b.T0), b.profile("clock", at=b.day(13, 23))]
    async with running_service(spec, settings):
        await publish(settings, history)
        await wait_for(lambda: applied(settings, [e.id for e in history]), timeout=30)
        fired = await past_day_14(settings, history, timeout=30)
    assert sorted((e.data.person_id, e.time) for e in fired) == [
        ("ana", b.day(14)),
        ("bo", b.day(14)),
    ]
