"""What "now" means for firing timers.

Schedules follow event time, so a replayed history fires the same nudges. By
default "now" is the event-time watermark: the latest event `time` any notifier
process has committed (persisted in Mongo, one document per process, so it never
goes backwards and survives restarts), minus a grace period for events of other
topics that are still in flight. With the wall clock switched on, "now" is also
never behind real time (minus the same grace), for live deployments where some
nudges must go out even when no events arrive.

Timers due at "now" or earlier are settled. An event may be up to the grace late, so
one stamped exactly watermark minus grace may still come and change a timer due at
that instant: "now" stops one tick (a millisecond, the finest instant stored) short.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol

from pymongo.asynchronous.database import AsyncDatabase

from shared.clock import Clock
from shared.documents import Document

from .facts import instant
from .repository import MongoNotifierStore

NEVER = datetime(1970, 1, 1, tzinfo=UTC)
TICK = timedelta(milliseconds=1)


class FiringClock(Protocol):
    async def now(self) -> datetime: ...


class GivenClock:
    """Any `shared.clock.Clock` (a `FixedClock` in tests) as the firing clock."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock

    async def now(self) -> datetime:
        return instant(self.clock.now())


class WatermarkClock:
    def __init__(
        self, db: AsyncDatabase[Document], grace: timedelta, wall: Clock | None = None
    ) -> None:
        self.store = MongoNotifierStore(db, None)
        self.grace = grace
        self.wall = wall

    async def now(self) -> datetime:
        latest = await self.store.watermark() or NEVER
        if self.wall is not None:
            latest = max(latest, self.wall.now())
        return instant(latest - self.grace - TICK) if latest > NEVER else NEVER
