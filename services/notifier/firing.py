"""The firing loop: a background task of every notifier process. It looks for people
with timers due by "now", leases a group of them (a claimed batch), and settles the
group in rounds: each round settles every leased person's earliest due instant in one
transaction, whose nudges are then published together. Most people have one instant
due, so a group usually takes one round."""

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
from shared.periodic import every
from shared.runtime import BatchContended, HandlerFailed, ServiceRuntime, Unit, UnitOfWork

from .clock import FiringClock
from .engine import Settlement
from .repository import MongoNotifierStore
from .timers import Leases, TimerQueue
from .workflow import NothingToSettle, Notifier

log = logging.getLogger(__name__)

# People leased at once, and settled in one transaction per round: few enough to
# settle well within one lease.
LEASE_GROUP = 100
# Settlements of one instant under derived cause ids before it is given up as stuck.
ATTEMPTS = 3


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


@dataclass(frozen=True)
class Claim:
    """One leased person's earliest due instant, to be settled in this round."""

    recipient: str
    at: datetime
    first: str
    attempt: int = 0

    @property
    def cause(self) -> str:
        return settle_cause(self.recipient, self.at, self.first, self.attempt)


# What became of a claim: settled, nothing to settle or failed (None), or applied
# before under its cause id (`SEEN`: tried again under the next attempt).
SEEN = "seen before"
Result = Settlement | None | str


@dataclass
class Firing:
    runtime: ServiceRuntime
    notifier: Notifier
    clock: FiringClock
    owner: str
    lease: timedelta
    batch: int = 500
    # Claimed groups settled side by side (each its own transaction).
    concurrency: int = 2
    group: int = LEASE_GROUP
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
        size = self.group
        groups = [recipients[i : i + size] for i in range(0, len(recipients), size)]
        # Processes that found the same people start on different groups.
        self._shuffle.shuffle(groups)
        gate = asyncio.Semaphore(self.concurrency)

        async def claimed(group: list[str]) -> int:
            async with gate:
                mine = await leases.acquire(group)
                if not mine:
                    return 0
                try:
                    # Read once the lease is held: another process may have settled
                    # some of them meanwhile, and a person's instants go in order.
                    due = await queue.due_of(mine, now)
                    done = await self._settle_group(queue, due, now)
                    if done:
                        fault_point(HOLDING_LEASE)  # crash tests: die holding the leases
                    return done
                finally:
                    await leases.release(mine)

        results = await asyncio.gather(*(claimed(g) for g in groups), return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                raise result
        return sum(r for r in results if isinstance(r, int))

    async def _settle_group(
        self, queue: TimerQueue, due: dict[str, list[tuple[datetime, str]]], now: datetime
    ) -> int:
        """Settle leased people round by round, from what is `due` for them, each
        person's instants in order."""
        attempts: dict[str, int] = {}
        settled = 0
        while claims := [
            Claim(r, *instants[0], attempts.get(r, 0)) for r, instants in due.items() if instants
        ]:
            results = await self._settle_claims(claims, now)
            again: list[str] = []
            for claim in claims:
                result = results[claim.recipient]
                if result == SEEN and claim.attempt + 1 < ATTEMPTS:
                    attempts[claim.recipient] = claim.attempt + 1
                    continue
                if result == SEEN:
                    log.error(
                        "notifier: could not settle %s at %s (timer %s)",
                        claim.recipient, claim.at, claim.first,
                    )  # fmt: skip
                    result = None
                attempts.pop(claim.recipient, None)
                if result is None:
                    # Someone else settled this instant (a process whose lease ran out
                    # while it worked), or it failed: what this process read as due
                    # after it may be out of date, and instants must go in order. The
                    # next look reads the person afresh.
                    due[claim.recipient] = []
                    continue
                # What is still due: the other instants, and whatever this one postponed.
                left = [d for d in due[claim.recipient] if d[0] != claim.at]
                if isinstance(result, Settlement):
                    settled += 1
                    for timer in result.changed:
                        if timer.state == "pending" and timer.at <= now:
                            bisect.insort(left, (timer.at, timer.id))
                    if any(t.at <= now for t in result.follow_ups):
                        again.append(claim.recipient)
                due[claim.recipient] = left
            if again:
                for recipient, instants in (await queue.due_of(again, now)).items():
                    due[recipient] = sorted(set(due[recipient]) | set(instants))
        return settled

    async def _settle_claims(self, claims: list[Claim], now: datetime) -> dict[str, Result]:
        """Settle each claim's instant, all in one transaction. A claim whose work fails
        is left out (the others are applied without it) and its person tried again at
        the next look."""
        results: dict[str, Result] = {}
        people = [c.recipient for c in claims]

        def unit(claim: Claim) -> Unit:
            async def work(uow: UnitOfWork) -> None:
                store = MongoNotifierStore.of_batch(uow)
                await store.load_due(people, now)
                try:
                    settlement = await self.notifier.settle(
                        store, claim.recipient, claim.at, first=claim.first
                    )
                except NothingToSettle:
                    # Settled meanwhile by a process whose lease ran out. Recorded as
                    # applied, with no effect (rather than retrying the whole batch
                    # without it): should the timer ever come back to this instant, the
                    # next attempt's cause settles it.
                    results[claim.recipient] = None
                    return
                for nudge in settlement.nudges:
                    uow.emit(nudge.data, discriminator=nudge.data.nudge_id)
                    uow.after_commit(self.runtime.metrics.nudges.labels(nudge.data.kind).inc)
                results[claim.recipient] = settlement

            return Unit(claim.cause, claim.at, work)

        live = list(claims)
        while live:
            try:
                applied = await self.runtime.apply_batch([unit(c) for c in live])
            except BatchContended:
                # Lost to concurrent writers twice: smaller transactions conflict less.
                half = len(live) // 2
                results.update(await self._settle_claims(live[:half], now))
                results.update(await self._settle_claims(live[half:], now))
                return results
            except HandlerFailed as failed:
                claim = live.pop(failed.index)
                log.error(
                    "notifier: settling %s at %s failed: %r",
                    claim.recipient, claim.at, failed.error,
                )  # fmt: skip
                results[claim.recipient] = None
                continue
            for claim, done in zip(live, applied, strict=True):
                if not done:
                    results[claim.recipient] = SEEN
            break
        return results

    async def run(self, poll_s: float, *, wake: asyncio.Event | None = None) -> None:
        """Fire what is due every `poll_s`, again at once while there was more, and as
        soon as `wake` is set (consumed events moved event time on), until the process
        stops."""

        async def once() -> bool:
            return await self.fire_due() > 0

        await every(
            poll_s, once, name="notifier: firing timers", until=self.runtime.stopping, wake=wake
        )
