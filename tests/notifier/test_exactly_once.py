"""Two notifier processes, 500 mentorships over simulated weeks, one process killed
with SIGKILL halfway (after it has applied events) and restarted: every nudge the
simulator expects is emitted, each under exactly one CloudEvent id, and nothing else
(the nudges topic read to its end once the processes are quiet). Real broker and
database."""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Awaitable, Callable
from datetime import timedelta
from functools import partial
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
    progress,
    quiet,
)
from tests.support import (
    publish,
    read_events_to_end,
    service_process,
    wait_for,
    wait_while_moving,
)

pytestmark = [pytest.mark.infra, pytest.mark.slow, pytest.mark.alone]

WEEKS = 7  # long enough for the 42-day escalation of the earliest mentorships
WEEK = timedelta(days=7)
# Longer than a rebalance after the kill plus the killed process's leases running out.
STALL_S = 120
# Each look costs the embedded server a scan of the ledger, which it serves to nobody
# else meanwhile: looking twice a second slowed the notifiers under test.
POLL_S = 2.0
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

    port = free_port()
    with contextlib.ExitStack() as processes:
        first = processes.enter_context(
            service_process(
                "notifier", settings, {**ENV, "MENTORMESH_HTTP_PORT": str(port)},
                log=tmp_path / "first.log",
            )
        )  # fmt: skip
        processes.enter_context(
            service_process("notifier", settings, ENV, log=tmp_path / "second.log")
        )
        for week, events in enumerate(weeks):
            await publish(settings, events)
            if week == WEEKS // 2:
                # The process to kill has partitions and work: it applied events.
                await wait_for(lambda: _consumed_some(port), timeout=150, interval=0.5)
                first.send_signal(signal.SIGKILL)
                assert first.wait(10) == -signal.SIGKILL
                processes.enter_context(
                    service_process("notifier", settings, ENV, log=tmp_path / "restarted.log")
                )
            await wait_while_moving(
                partial(applied, settings, [e.id for e in events]),
                partial(progress, settings), stall_s=STALL_S, interval=POLL_S,
            )  # fmt: skip
        # Everything is in: let event time run on to `until`.
        tick = b.profile("clock", at=until + WEEK + TICK)
        await publish(settings, [tick])
        ids = [e.id for e in [*history, tick]]
        await wait_while_moving(
            partial(quiet, settings, ids, until), partial(progress, settings),
            stall_s=STALL_S, interval=POLL_S,
        )  # fmt: skip
        nudges = await read_events_to_end(settings, "nudges")

    assert all(len(ids) == 1 for ids in event_ids_per_nudge(nudges).values())
    assert emitted_by_id(nudges) == expected


async def _consumed_some(port: int) -> bool:
    return await consumed(port) > 0
