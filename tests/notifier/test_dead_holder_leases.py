"""A notifier process SIGKILLed while it holds leases: the survivors take the leases
over or remove them once they ran out, and every nudge still goes out exactly once.
Real processes, broker and database."""

from __future__ import annotations

import socket
import subprocess
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from services.notifier.clock import TICK
from services.notifier.config import NotifierSettings
from services.notifier.simulator import simulate
from shared.faults import FAULT_ENV, FAULT_EXIT_CODE, HOLDING_LEASE
from shared.settings import Settings
from tests.notifier import builders as b
from tests.notifier.stack import (
    applied,
    emitted_by_id,
    event_ids_per_nudge,
    expected_by_id,
    quiet,
)
from tests.support import mongo_client, publish, read_events_to_end, service_process, wait_for

pytestmark = [pytest.mark.infra, pytest.mark.slow]

GRACE = timedelta(hours=1)
ENV = {
    "MENTORMESH_NOTIFIER_GRACE": "1h",
    "MENTORMESH_NOTIFIER_LEASE_S": "3",
    "MENTORMESH_NOTIFIER_POLL_S": "0.2",
}
# After settling its first group of people, the process dies at once, holding their
# leases (`shared.faults`: no `finally` runs, as after a SIGKILL).
DIES_HOLDING_LEASES = {FAULT_ENV: HOLDING_LEASE}
PAIRS = 6


async def leases(settings: Settings, query: dict[str, Any] | None = None) -> int:
    client = mongo_client(settings)
    try:
        return await client[settings.database_name("notifier")].leases.count_documents(query or {})
    finally:
        await client.close()


async def test_a_killed_holders_leases_are_taken_over_or_removed_by_the_survivors(
    fresh: Callable[..., Awaitable[Settings]], tmp_path: Path
) -> None:
    settings = await fresh()
    started = [
        b.started(b.T0, mentorship=f"m{i}", mentee=f"ana-{i}", mentor=f"bo-{i}")
        for i in range(PAIRS)
    ]
    # The no-session reminders of day 14 fall due for all twelve people.
    first = b.profile("clock", at=b.day(14) + GRACE + TICK)
    # Then half the mentorships end, so half the people have nothing due any more; the
    # others get the day-28 warnings and goal check-ins.
    ends = [b.ended(b.day(20), mentorship=f"m{i}") for i in range(PAIRS // 2)]
    second = b.profile("clock", at=b.day(28) + GRACE + TICK, revision=2)
    history = [*started, first, *ends, second]
    books = NotifierSettings(admins="").rulebooks(settings)  # what the processes resolve
    expected = expected_by_id(await simulate(history, books, b.day(28)))

    with service_process(
        "notifier", settings, {**ENV, **DIES_HOLDING_LEASES},
        log=tmp_path / "holder.log",
    ) as holder:  # fmt: skip
        # All the timers first, then the time they fall due: one round settles them all,
        # and the process dies holding their leases.
        await publish(settings, started)
        await wait_for(lambda: applied(settings, [e.id for e in started]), timeout=120)
        await publish(settings, [first])
        ids = [e.id for e in [*started, first]]
        await wait_for(lambda: _exited(holder), timeout=180, interval=0.5)
        assert holder.returncode == FAULT_EXIT_CODE
    assert await quiet(settings, ids, b.day(14))
    owner = {"owner": {"$regex": f"^{socket.gethostname()}:{holder.pid}:"}}
    assert await leases(settings, owner) == 2 * PAIRS

    with service_process("notifier", settings, ENV, log=tmp_path / "survivor.log"):
        await publish(settings, ends)
        await wait_for(lambda: applied(settings, [e.id for e in ends]), timeout=120)
        await publish(settings, [second])
        ids = [e.id for e in history]
        await wait_for(lambda: quiet(settings, ids, b.day(28)), timeout=120, interval=0.5)
        await wait_for(lambda: _holds(settings, {}, 0), timeout=60)
        nudges = await read_events_to_end(settings, "nudges")

    assert all(len(ids) == 1 for ids in event_ids_per_nudge(nudges).values())
    assert emitted_by_id(nudges) == expected
    assert len(expected) > 2 * PAIRS  # the day-28 nudges of the survivor are among them


async def _holds(settings: Settings, query: dict[str, Any], count: int) -> bool:
    return await leases(settings, query) == count


async def _exited(process: subprocess.Popen[bytes]) -> bool:
    return process.poll() is not None
