"""The notifier service on the real broker and database, in event time: it emits the
nudges the simulator predicts for the same history, with ids derived from the timers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta

import pytest

from services.notifier.config import NotifierSettings
from services.notifier.main import build_spec
from services.notifier.simulator import simulate
from shared.events import ProfileDeleted
from shared.settings import Settings
from tests.notifier import builders as b
from tests.notifier.stack import applied, emitted_by_id, expected_by_id, settled_until
from tests.support import consume_until, publish, running_service, wait_for

pytestmark = pytest.mark.infra

GRACE = timedelta(hours=1)
# Published at once, the history's topics interleave arbitrarily: up to its whole span.
WHOLE_HISTORY = timedelta(days=40)


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
    knobs = NotifierSettings(grace=WHOLE_HISTORY, poll_s=0.2, lease_s=5.0)
    spec = build_spec(settings, notifier_settings=knobs, books=b.books())
    async with running_service(spec, settings):
        await publish(settings, history)
        await wait_for(lambda: applied(settings, [e.id for e in history]), timeout=90)
        # Only once everything is in, let event time run on to `until`.
        tick = b.profile("clock", at=until + WHOLE_HISTORY)
        await publish(settings, [tick])
        await wait_for(lambda: settled_until(settings, until), timeout=90)
        events = await consume_until(
            settings, "nudges", lambda got: len(got) >= len(expected), timeout=60
        )
    assert emitted_by_id(events) == expected
    assert len({e.id for e in events}) == len(events)
    assert not any(b.NOTE in e.to_json().decode() for e in events)


async def test_nothing_fires_before_event_time_passes_the_due_time(
    fresh: Callable[..., Awaitable[Settings]],
) -> None:
    settings = await fresh()
    knobs = NotifierSettings(grace=GRACE, poll_s=0.2, lease_s=5.0)
    spec = build_spec(settings, notifier_settings=knobs, books=b.books())
    history = [b.started(b.T0), b.profile("clock", at=b.day(13, 23))]
    async with running_service(spec, settings):
        await publish(settings, history)
        await wait_for(lambda: applied(settings, [e.id for e in history]), timeout=90)
        # The reminder is due at day 14; event time (minus the grace) is at day 13 22:00.
        assert not await settled_until(settings, b.day(14))
        await publish(settings, [b.profile("clock", at=b.day(14, 1), revision=2)])
        events = await consume_until(settings, "nudges", lambda got: len(got) >= 2, timeout=60)
    assert sorted(e.data.person_id for e in events) == ["ana", "bo"]
    assert {e.time for e in events} == {b.day(14)}
