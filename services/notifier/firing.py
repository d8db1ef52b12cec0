"""The firing loop: a background task of every notifier process. It looks for people
with timers due by "now", leases a group of them, and settles each person's timers
instant by instant, each instant in one transaction with the nudges it emits."""

from __future__ import annotations

import asyncio
import bisect
import logging
import os
import random
import socket
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from shared.events import derived_id
from shared.faults import HOLDING_LEASE, fault_point
from shared.runtime import ServiceRuntime, UnitOfWork

from .clock import FiringClock
from .engine import Settlement
from .repository import MongoStore
from .timers import Leases, TimerQueue
from .workflow import NothingToSettle, Notifier

log = logging.getLogger(__name__)

# People leased at once: few enough to settle well within one lease.
LEASE_GROUP = 50


def process_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def settle_cause(recipient: str, at: datetime, first_timer_id: str, attempt: int = 0) -> str:
    """The unit of work that settles one person's timers at one instant. It names the
    first timer of the instant, which that work always moves on (sent, merged, dropped
    or postponed), so a retry after a crash derives the same id (and so the same event
    ids). Should a timer ever come back to the very same instant (only possible when
    events arrive later than the grace), `attempt` tells the new settlement apart."""
    parts = (recipient, at.isoformat(), first_timer_id) + ((str(attempt),) if attempt else ())
    return derived_id("notifier-settle", *parts)


@dataclass
class Firing:
    runtime: ServiceRuntime
    notifier: Notifier
    clock: FiringClock
    owner: str
    lease: timedelta
    batch: int = 500
    concurrency: int = 8
    _shuffle: random.Random = field(default_factory=random.Random)
    _swept: float = float("-inf")

    async def fire_due(self) -> int:
        """Settle everything due now; how many (person, instant) settlements were made."""
        now = await self.clock.now()
        queue = TimerQueue(self.runtime.db)
        leases = Leases(self.runtime.db, self.owner, self.lease)
        # No lease can run out sooner than one lease period: sweep at most that often.
        if time.monotonic() - self._swept >= self.lease.total_seconds():
            await leases.clear_expired()
            self._swept = time.monotonic()
        recipients = await queue.due_recipients(now, self.batch)
        groups = [recipients[i : i + LEASE_GROUP] for i in range(0, len(recipients), LEASE_GROUP)]
        # Processes that found the same people start on different groups.
        self._shuffle.shuffle(groups)
        settled = 0
        for group in groups:
            mine = await leases.acquire(group)
            try:
                done = await self._settle_people(queue, mine, now)
                settled += done
                if done:
                    fault_point(HOLDING_LEASE)  # crash tests: die holding the leases
            finally:
                await leases.release(mine)
        return settled

    async def _settle_people(self, queue: TimerQueue, people: list[str], now: datetime) -> int:
        """Settle leased people side by side: they share no documents, and each
        settlement waits on the broker after its commit, which others can use."""
        gate = asyncio.Semaphore(self.concurrency)

        async def one(recipient: str) -> int:
            async with gate:
                return await self._settle_person(queue, recipient, now)

        results = await asyncio.gather(*(one(r) for r in people), return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                raise result
        return sum(r for r in results if isinstance(r, int))

    async def _settle_person(self, queue: TimerQueue, recipient: str, now: datetime) -> int:
        due = await queue.due_for(recipient, now)
        settled = 0
        while due:
            at, first = due[0]
            outcome = await self._settle_instant(recipient, at, first)
            if outcome is None:
                # Someone else settled this instant (a process whose lease ran out while
                # it worked), or it failed: the later instants read here may be out of
                # date (that settlement may have postponed a timer before them), and a
                # person's instants go in order. The next look reads the person afresh.
                break
            settled += 1
            # What is still due: the other instants, and whatever this one postponed.
            due = [d for d in due if d[0] != at]
            for timer in outcome.changed:
                if timer.state == "pending" and timer.at <= now:
                    bisect.insort(due, (timer.at, timer.id))
            if any(t.at <= now for t in outcome.follow_ups):
                due = sorted(set(due) | set(await queue.due_for(recipient, now)))
        return settled

    async def _settle_instant(self, recipient: str, at: datetime, first: str) -> Settlement | None:
        """Settle `recipient` at `at` in one unit of work; None if there was nothing to
        settle any more (done meanwhile by someone else)."""
        outcome: list[Settlement] = []

        async def work(uow: UnitOfWork) -> None:
            store = MongoStore(uow.db, uow.session)
            settlement = await self.notifier.settle(store, recipient, at, first=first)
            for nudge in settlement.nudges:
                uow.emit(nudge.data, discriminator=nudge.data.nudge_id)
                uow.after_commit(self.runtime.metrics.nudges.labels(nudge.data.kind).inc)
            outcome[:] = [settlement]

        for attempt in range(3):
            try:
                cause = settle_cause(recipient, at, first, attempt)
                if await self.runtime.run_once(cause, at, work):
                    return outcome[0]
            except NothingToSettle:
                return None
        log.error("notifier: could not settle %s at %s (timer %s)", recipient, at, first)
        return None

    async def run(self, poll_s: float) -> None:
        while True:
            try:
                settled = await self.fire_due()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("notifier: firing timers failed; retrying")
                settled = 0
            if settled == 0:
                await asyncio.sleep(poll_s)
