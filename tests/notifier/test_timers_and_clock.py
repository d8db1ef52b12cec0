"""Claiming people's due timers across processes, and the event-time clock. Real
database."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from services.notifier.clock import NEVER, TICK, WatermarkClock
from services.notifier.engine import Timer, timer_id
from services.notifier.repository import MongoNotifierStore
from services.notifier.timers import Leases, TimerQueue
from shared.clock import FixedClock
from tests.notifier import builders as b

pytestmark = pytest.mark.infra


def timer(recipient: str, at: datetime, subject: str = "m1", state: str = "pending") -> Timer:
    return Timer(
        id=timer_id("no-session-reminder", subject, at.isoformat(), recipient),
        rule_id="no-session-reminder", trigger="no_session", subject=subject,
        recipient=recipient, audience="mentee", since=at, due=at, at=at, state=state,
    )  # fmt: skip


async def test_people_with_due_timers_come_most_overdue_first(db: AsyncDatabase[Any]) -> None:
    await MongoNotifierStore(db, None).add_timers(
        [
            timer("late", b.day(5)),
            timer("later", b.day(6)),
            timer("latest", b.day(7), subject="m2"),
            timer("done", b.day(1), state="sent"),
            timer("not-yet", b.day(30)),
            timer("late", b.day(8), subject="m3"),
        ]
    )
    queue = TimerQueue(db)
    assert await queue.due_recipients(b.day(10), limit=100) == ["late", "later", "latest"]
    assert await queue.due_for("late", b.day(10)) == [
        (b.day(5), timer("late", b.day(5)).id), (b.day(8), timer("late", b.day(8), "m3").id),
    ]  # fmt: skip


async def test_a_person_leased_by_one_process_is_not_leased_by_another(
    db: AsyncDatabase[Any],
) -> None:
    one = Leases(db, "one", timedelta(seconds=30))
    other = Leases(db, "other", timedelta(seconds=30))
    assert await one.acquire(["ana", "bo"]) == ["ana", "bo"]
    assert await other.acquire(["bo", "cy", "ana"]) == ["cy"]
    await one.release(["ana", "bo"])
    assert await other.acquire(["ana"]) == ["ana"]


async def test_the_lease_of_a_process_that_died_runs_out(db: AsyncDatabase[Any]) -> None:
    dead = Leases(db, "dead", timedelta(milliseconds=200))
    alive = Leases(db, "alive", timedelta(seconds=30))
    assert await dead.acquire(["ana"]) == ["ana"]
    assert await alive.acquire(["ana"]) == []
    await asyncio.sleep(0.3)
    assert await alive.acquire(["ana"]) == ["ana"]
    await dead.release(["ana"])  # too late: it is not theirs any more
    assert await Leases(db, "third", timedelta(seconds=30)).acquire(["ana"]) == []


async def test_event_time_is_just_before_the_latest_committed_by_any_process_minus_the_grace(
    db: AsyncDatabase[Any],
) -> None:
    store = MongoNotifierStore(db, None)
    clock = WatermarkClock(db, timedelta(hours=1))
    assert await clock.now() == NEVER
    await store.advance_watermark("process-a", b.day(3))
    await store.advance_watermark("process-b", b.day(5))
    # An event exactly the grace late may still come: its instant is not settled yet.
    assert await clock.now() == b.day(5, -1) - TICK


async def test_event_time_never_goes_backwards(db: AsyncDatabase[Any]) -> None:
    store = MongoNotifierStore(db, None)
    clock = WatermarkClock(db, timedelta(hours=1))
    await store.advance_watermark("process-a", b.day(5))
    await store.advance_watermark("process-a", b.day(2))
    assert await clock.now() == b.day(5, -1) - TICK


async def test_with_the_wall_clock_time_also_runs_without_events(db: AsyncDatabase[Any]) -> None:
    wall = FixedClock(datetime(2030, 1, 1, tzinfo=UTC))
    clock = WatermarkClock(db, timedelta(hours=1), wall)
    await MongoNotifierStore(db, None).advance_watermark("process-a", b.day(5))
    assert await clock.now() == datetime(2029, 12, 31, 23, tzinfo=UTC) - TICK


async def test_leases_that_ran_out_are_removed_by_anyone_and_live_ones_stay(
    db: AsyncDatabase[Any],
) -> None:
    dead = Leases(db, "dead", timedelta(milliseconds=200))
    alive = Leases(db, "alive", timedelta(seconds=30))
    assert await dead.acquire(["ana", "bo"]) == ["ana", "bo"]
    assert await alive.acquire(["cy"]) == ["cy"]
    await asyncio.sleep(0.3)
    assert await Leases(db, "third", timedelta(seconds=30)).clear_expired() == 2
    assert [doc["_id"] async for doc in db.leases.find()] == ["cy"]
