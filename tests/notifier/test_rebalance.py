"""Two notifier processes and a third joining (a forced rebalance) while answers to
proposals arrive after the matches and activity they belong to, as when the
responses topic lags: every mentorship still gets exactly the simulator's nudges on
the sorted history, each once. The nudges topic is read to its end once the
processes are quiet. Real processes, broker and database."""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path

import pytest

from services.notifier.clock import TICK
from services.notifier.config import NotifierSettings
from services.notifier.simulator import simulate
from shared.local_stack import free_port
from shared.settings import Settings
from tests.notifier import builders as b
from tests.notifier.scenario import programme_weeks
from tests.notifier.stack import (
    applied,
    consumed,
    emitted_by_id,
    event_ids_per_nudge,
    expected_by_id,
    quiet,
)
from tests.support import (
    consumer_group,
    publish,
    read_events_to_end,
    service_process,
    wait_for,
)

pytestmark = [pytest.mark.infra, pytest.mark.slow]

WEEKS = 6
# The answers come after everything else, up to the whole history later in event
# time: a grace that long keeps the service exact, so only arrival order is at stake.
GRACE = timedelta(weeks=WEEKS + 1)
ENV = {
    "MENTORMESH_NOTIFIER_GRACE": f"{GRACE.days}d",
    "MENTORMESH_NOTIFIER_LEASE_S": "5",
    "MENTORMESH_NOTIFIER_POLL_S": "0.2",
}


async def test_answers_after_their_mentorships_events_and_a_rebalance_lose_no_nudge(
    fresh: Callable[..., Awaitable[Settings]], tmp_path: Path
) -> None:
    settings = await fresh()
    history = programme_weeks(mentorships=16, weeks=WEEKS, seed=11, proposals=True)
    until = b.T0 + timedelta(weeks=WEEKS)
    books = NotifierSettings(admins="").rulebooks(settings)  # what the processes resolve
    expected = expected_by_id(await simulate(history, books, until))
    answers = [e for e in history if e.data.TOPIC == "responses"]
    rest = [e for e in history if e.data.TOPIC != "responses"]
    assert sum(n[0]["mentorship_id"] is not None for n in expected.values()) > 50
    ports = [free_port() for _ in range(3)]

    def process(index: int) -> contextlib.AbstractContextManager[object]:
        env = {**ENV, "MENTORMESH_HTTP_PORT": str(ports[index])}
        return service_process("notifier", settings, env, log=tmp_path / f"{index}.log")

    with contextlib.ExitStack() as processes:
        processes.enter_context(process(0))
        processes.enter_context(process(1))
        await publish(settings, rest)
        await wait_for(lambda: applied(settings, [e.id for e in rest]), timeout=240, interval=0.5)
        third = len(answers) // 3
        await publish(settings, answers[:third])
        # A third process joins: the group rebalances while answers are in flight.
        processes.enter_context(process(2))
        await wait_for(lambda: _members(settings, 3), timeout=120, interval=0.5)
        await publish(settings, answers[third:])
        await wait_for(lambda: applied(settings, [e.id for e in answers]), timeout=240)
        for port in ports:
            # Each process, the newcomer too, has had partitions and applied events.
            await wait_for(lambda port=port: _consumed_some(port), timeout=120)  # type: ignore[misc]
        tick = b.profile("clock", at=until + GRACE + TICK)
        await publish(settings, [tick])
        ids = [e.id for e in [*history, tick]]
        await wait_for(lambda: quiet(settings, ids, until), timeout=240, interval=0.5)
        nudges = await read_events_to_end(settings, "nudges")

    assert all(len(ids) == 1 for ids in event_ids_per_nudge(nudges).values())
    assert emitted_by_id(nudges) == expected


async def _consumed_some(port: int) -> bool:
    return await consumed(port) > 0


async def _members(settings: Settings, count: int) -> bool:
    return await consumer_group(settings, "notifier") == ("Stable", count)
