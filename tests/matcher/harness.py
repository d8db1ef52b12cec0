"""The matcher's handlers without Kafka: events go in through a runtime's `run_once`
(ledger, unit of work, outbox) and what the matcher publishes is collected in order.

- `memory_harness`: the in-memory store and an in-memory runtime; milliseconds a test.
- `mongo_harness`: the real database through `ServiceRuntime` (transactions), for
  what only the real store can show: concurrent units and their write conflicts.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from pymongo import AsyncMongoClient

from services.matcher.handlers import MatcherHandlers
from services.matcher.main import MatcherSettings, MongoStores, matcher_spec
from services.matcher.matching import Unit
from services.matcher.memory_store import MemoryDatabase, MemoryStores
from services.matcher.policy import MatchingPolicy, policy_book
from services.matcher.upkeep import Runner, expire_due_proposals, reconcile
from shared.clock import FixedClock
from shared.erasure import Pseudonyms
from shared.events import CloudEvent, EventData, derived_id, make_event, parse_event
from shared.runtime import BatchHooks, ServiceRuntime, UnitOfWork
from shared.runtime import Unit as BatchUnit
from shared.settings import Settings
from tests.support import Stack

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
DataT = TypeVar("DataT", bound=EventData)
U = TypeVar("U", bound=Unit)
T = TypeVar("T")
PSEUDONYMS = Settings().pseudonyms()


class MemoryUnit:
    """A unit of work on the memory store: what it emits is published if it commits."""

    def __init__(
        self, cause_id: str, event_time: datetime, batch: BatchHooks | None = None
    ) -> None:
        self.cause_id = cause_id
        self.event_time = event_time
        self.batch = batch or BatchHooks()
        self.emitted: list[CloudEvent[Any]] = []
        self._after_commit: list[Callable[[], None]] = []

    def emit(self, data: EventData, *, discriminator: str = "") -> CloudEvent[Any]:
        event = make_event(
            data,
            source="/mentormesh/matcher",
            id=derived_id(self.cause_id, data.TYPE, discriminator),
            time=self.event_time,
        )
        self.emitted.append(event)
        return event

    def after_commit(self, callback: Callable[[], None]) -> None:
        self._after_commit.append(callback)


class MemoryRuntime:
    """`run_once` on the memory database: once per cause id, all or nothing."""

    def __init__(self, db: MemoryDatabase, published: list[CloudEvent[Any]]) -> None:
        self.db = db
        self.published = published
        self.ledger: set[str] = set()

    async def run_once(
        self, cause_id: str, event_time: datetime, work: Callable[[MemoryUnit], Awaitable[None]]
    ) -> bool:
        [applied] = await self.apply_batch([(cause_id, event_time, work)])
        return applied

    async def apply_batch(
        self, units: Sequence[tuple[str, datetime, Callable[[MemoryUnit], Awaitable[None]]]]
    ) -> list[bool]:
        """The units in order as one batch: all applied or none."""
        before = self.db.snapshot()
        batch = BatchHooks()
        done: list[MemoryUnit] = []
        applied: list[bool] = []
        try:
            for cause_id, event_time, work in units:
                if cause_id in self.ledger or cause_id in {u.cause_id for u in done}:
                    applied.append(False)
                    continue
                unit = MemoryUnit(cause_id, event_time, batch)
                await work(unit)
                done.append(unit)
                applied.append(True)
            await batch.flush()
        except BaseException:
            self.db.restore(before)
            raise
        for unit in done:
            self.ledger.add(unit.cause_id)
            for callback in unit._after_commit:
                callback()
            self.published.extend(unit.emitted)
        return applied


ApplyBatch = Callable[[MatcherHandlers[U], Sequence[CloudEvent[Any]]], Awaitable[list[bool]]]


class Harness(Generic[U]):
    def __init__(
        self,
        runner: Runner[U],
        matcher: MatcherHandlers[U],
        clock: FixedClock,
        read: Callable[[str, str], Awaitable[dict[str, Any] | None]],
        published: list[CloudEvent[Any]],
        apply_batch: ApplyBatch[U],
    ) -> None:
        self.runner = runner
        self.matcher = matcher
        self.clock = clock
        self._read = read
        self.published = published
        self._apply_batch = apply_batch

    async def send(self, data: EventData, *, id: str | None = None) -> CloudEvent[Any]:
        """Apply one input event as the service would; returns the envelope sent."""
        event = make_event(data, source="/test", id=id or str(uuid.uuid4()), time=self.clock.now())

        async def work(unit: U) -> None:
            await self.matcher.handle(unit, event)

        await self.runner.run_once(event.id, event.time, work)
        return event

    async def send_batch(self, items: Sequence[EventData]) -> list[CloudEvent[Any]]:
        """Apply input events as one batch, as the service does with a fetched batch."""
        events = [
            make_event(data, source="/test", id=str(uuid.uuid4()), time=self.clock.now())
            for data in items
        ]
        await self.redeliver(events)
        return events

    async def redeliver(self, events: Sequence[CloudEvent[Any]]) -> list[bool]:
        """Apply these envelopes (again) as one batch: True for each applied now."""
        return await self._apply_batch(self.matcher, events)

    async def sibling(self) -> Harness[U]:
        """Another matcher process on the same database: its own directory, which
        learns what this one wrote only when refreshed."""
        matcher = MatcherHandlers(self.matcher.policies, self.matcher.stores, self.clock)
        await matcher.directory.refresh(matcher.stores.unbound())
        return Harness(
            self.runner, matcher, self.clock, self._read, self.published, self._apply_batch
        )

    def of(self, kind: type[DataT]) -> list[DataT]:
        return [e.data for e in self.published if isinstance(e.data, kind)]

    async def expire_due(self) -> int:
        return await expire_due_proposals(self.runner, self.matcher)

    async def reconcile(self) -> int:
        return await reconcile(self.runner, self.matcher)

    async def refresh(self, *, full: bool = False) -> None:
        await self.matcher.directory.refresh(self.matcher.stores.unbound(), full=full)

    async def doc(self, collection: str, key: str) -> dict[str, Any] | None:
        return await self._read(collection, key)


@contextlib.asynccontextmanager
async def memory_harness(
    policy: MatchingPolicy | None = None, pseudonyms: Pseudonyms = PSEUDONYMS
) -> AsyncIterator[Harness[MemoryUnit]]:
    db = MemoryDatabase()
    clock = FixedClock(T0)
    stores = MemoryStores(db, pseudonyms)
    matcher: MatcherHandlers[MemoryUnit] = MatcherHandlers(
        policy_book(None, base=policy or MatchingPolicy()), stores, clock
    )
    await matcher.directory.refresh(stores.unbound())
    published: list[CloudEvent[Any]] = []

    async def read(collection: str, key: str) -> dict[str, Any] | None:
        return db.collections[collection].get(key)

    runtime = MemoryRuntime(db, published)

    async def apply_batch(
        matcher: MatcherHandlers[MemoryUnit], events: Sequence[CloudEvent[Any]]
    ) -> list[bool]:
        def work(event: CloudEvent[Any]) -> Callable[[MemoryUnit], Awaitable[None]]:
            return lambda unit: matcher.handle(unit, event)

        return await runtime.apply_batch([(e.id, e.time, work(e)) for e in events])

    yield Harness(runtime, matcher, clock, read, published, apply_batch)


@contextlib.asynccontextmanager
async def mongo_harness(
    stack: Stack, policy: MatchingPolicy | None = None
) -> AsyncIterator[Harness[UnitOfWork]]:
    settings = stack.settings(database_prefix="h" + uuid.uuid4().hex[:10])
    clock = FixedClock(T0)
    stores = MongoStores(settings.pseudonyms())
    matcher: MatcherHandlers[UnitOfWork] = MatcherHandlers(
        policy_book(None, base=policy or MatchingPolicy()), stores, clock
    )
    spec = matcher_spec(matcher, stores, MatcherSettings(), own_clock=False)
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        settings.resolved_mongo(), tz_aware=True
    )
    published: list[CloudEvent[Any]] = []

    async def publisher(topic: str, key: bytes, value: bytes, headers: dict[str, str]) -> None:
        published.append(parse_event(value))

    runtime = ServiceRuntime("matcher", settings, client, publisher, clock=clock)

    async def read(collection: str, key: str) -> dict[str, Any] | None:
        return await runtime.db[collection].find_one({"_id": key})

    try:
        await runtime.ensure_indexes()
        assert spec.prepare is not None
        await spec.prepare(runtime)

        async def apply_batch(
            matcher: MatcherHandlers[UnitOfWork], events: Sequence[CloudEvent[Any]]
        ) -> list[bool]:
            def work(event: CloudEvent[Any]) -> Callable[[UnitOfWork], Awaitable[None]]:
                return lambda unit: matcher.handle(unit, event)

            return await runtime.apply_batch([BatchUnit(e.id, e.time, work(e), e) for e in events])

        yield Harness(runtime, matcher, clock, read, published, apply_batch)
    finally:
        await client.drop_database(settings.database_name("matcher"))
        await client.close()


MemoryHarness = Harness[MemoryUnit]
MongoHarness = Harness[UnitOfWork]
