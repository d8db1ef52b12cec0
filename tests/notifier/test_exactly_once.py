"""Two notifier processes, 500 mentorships over simulated weeks, one process killed
with SIGKILL halfway and restarted: every nudge the simulator expects is emitted,
each under exactly one CloudEvent id, and nothing else. Real broker and database."""

from __future__ import annotations

import contextlib
import signal
from collections import defaultdict
from collections.abc import Awaitable, Callable
from datetime import timedelta
from functools import partial
from pathlib import Path

import pytest

from services.notifier.config import NotifierSettings
from services.notifier.simulator import simulate
from shared.settings import Settings
from tests.notifier import builders as b
from tests.notifier.scenario import programme_weeks
from tests.notifier.stack import applied, emitted_by_id, expected_by_id, settled_until
from tests.support import consume_until, publish, service_process, wait_for

pytestmark = [pytest.mark.infra, pytest.mark.slow]

WEEKS = 7  # long enough for the 42-day escalation of the earliest mentorships
WEEK = timedelta(days=7)
# Each week is published once the previous one is applied, so a week is the most any
# event can trail another: a grace of a week keeps the service exact.
ENV = {
    "MENTORMESH_NOTIFIER_GRACE": "7d",
    "MENTORMESH_NOTIFIER_LEASE_S": "5",
    "MENTORMESH_NOTIFIER_POLL_S": "0.2",
}


async def test_every_expected_nudge_is_emitted_exactly_once_despite_a_killed_process(
    fresh: Callable[..., Awaitable[Settings]], tmp_path: Path
) -> None:
    settings = await fresh()
    history = programme_weeks(mentorships=500, weeks=WEEKS)
    until = b.T0 + WEEKS * WEEK
    books = NotifierSettings(admins="").rulebooks(settings)  # what the processes resolve
    expected = expected_by_id(await simulate(history, books, until))
    weeks = [
        [e for e in history if (week == 0 or e.time >= b.T0 + week * WEEK)
         and e.time < b.T0 + (week + 1) * WEEK]
        for week in range(WEEKS)
    ]  # fmt: skip
    assert sum(map(len, weeks)) == len(history)

    with contextlib.ExitStack() as processes:
        first = processes.enter_context(
            service_process("notifier", settings, ENV, log=tmp_path / "first.log")
        )
        processes.enter_context(
            service_process("notifier", settings, ENV, log=tmp_path / "second.log")
        )
        for week, events in enumerate(weeks):
            await publish(settings, events)
            if week == WEEKS // 2:
                first.send_signal(signal.SIGKILL)
                assert first.wait(10) == -signal.SIGKILL
                processes.enter_context(
                    service_process("notifier", settings, ENV, log=tmp_path / "restarted.log")
                )
            await wait_for(partial(applied, settings, [e.id for e in events]), 150, 0.5)
        # Everything is in: let event time run on to `until`.
        await publish(settings, [b.profile("clock", at=until + WEEK)])
        await wait_for(lambda: settled_until(settings, until), timeout=150, interval=0.5)
        nudges = await consume_until(
            settings,
            "nudges",
            lambda got: len({e.data.nudge_id for e in got}) >= len(expected),
            timeout=120,
        )

    ids_per_nudge: dict[str, set[str]] = defaultdict(set)
    for event in nudges:
        ids_per_nudge[event.data.nudge_id].add(event.id)
    assert all(len(ids) == 1 for ids in ids_per_nudge.values())
    assert emitted_by_id(nudges) == expected
