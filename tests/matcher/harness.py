"""The matcher's handlers on the real database, without Kafka: events go in through
`ServiceRuntime.run_once` (the transaction, the ledger, the outbox) and what the
matcher publishes is collected in order."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any, TypeVar

from pymongo import AsyncMongoClient

from services.matcher.handlers import Matcher
from services.matcher.main import MatcherSettings, matcher_spec
from services.matcher.policy import MatchingPolicy, PolicyBook
from services.matcher.upkeep import expire_due_proposals
from shared.clock import FixedClock
from shared.events import CloudEvent, EventData, make_event, parse_event
from shared.runtime import ServiceRuntime, ServiceSpec
from tests.support import Stack

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
DataT = TypeVar("DataT", bound=EventData)


class Harness:
    def __init__(
        self, runtime: ServiceRuntime, spec: ServiceSpec, matcher: Matcher, clock: FixedClock
    ) -> None:
        self.runtime = runtime
        self.spec = spec
        self.matcher = matcher
        self.clock = clock
        self.published: list[CloudEvent[Any]] = []

    async def send(self, data: EventData, *, id: str | None = None) -> CloudEvent[Any]:
        """Apply one input event as the service would; returns the envelope sent."""
        event = make_event(data, source="/test", id=id or str(uuid.uuid4()), time=self.clock.now())
        await self.runtime.run_once(event.id, event.time, lambda uow: self.spec.handle(uow, event))
        return event

    async def sibling(self) -> Harness:
        """Another matcher process on the same database: its own directory, which
        learns what this one wrote only when refreshed."""
        matcher = Matcher(self.matcher.policies, self.clock)
        spec = matcher_spec(matcher, MatcherSettings(), own_clock=False)
        assert spec.prepare is not None
        await spec.prepare(self.runtime)
        other = Harness(self.runtime, spec, matcher, self.clock)
        other.published = self.published
        return other

    def of(self, kind: type[DataT]) -> list[DataT]:
        return [e.data for e in self.published if isinstance(e.data, kind)]

    async def expire_due(self) -> int:
        return await expire_due_proposals(self.runtime, self.matcher)

    async def doc(self, collection: str, key: str) -> dict[str, Any] | None:
        return await self.runtime.db[collection].find_one({"_id": key})


@contextlib.asynccontextmanager
async def matcher_harness(
    stack: Stack, policy: MatchingPolicy | None = None
) -> AsyncIterator[Harness]:
    settings = stack.settings(database_prefix="h" + uuid.uuid4().hex[:10])
    clock = FixedClock(T0)
    matcher = Matcher(PolicyBook(None, base=policy or MatchingPolicy()), clock)
    spec = matcher_spec(matcher, MatcherSettings(), own_clock=False)
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        settings.resolved_mongo(), tz_aware=True
    )
    published: list[CloudEvent[Any]] = []

    async def publisher(topic: str, key: bytes, value: bytes, headers: dict[str, str]) -> None:
        published.append(parse_event(value))

    runtime = ServiceRuntime("matcher", settings, client, publisher, clock=clock)
    try:
        await runtime.ensure_indexes()
        assert spec.prepare is not None
        await spec.prepare(runtime)
        harness = Harness(runtime, spec, matcher, clock)
        harness.published = published
        yield harness
    finally:
        await client.drop_database(settings.database_name("matcher"))
        await client.close()
