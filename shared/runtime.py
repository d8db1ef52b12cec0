"""Applying one event exactly once: a Mongo transaction that holds the service's
own writes, the processed-ids ledger and an outbox of the events it causes.

Kafka delivers at least once. A redelivered CloudEvent id finds itself in the
ledger and is skipped (its outbox is flushed again in case the crash came between
commit and publish). Output ids are derived from the cause, so a republished event
carries the same id and consumers downstream de-duplicate it in turn.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from pymongo import AsyncMongoClient
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from shared.clock import Clock, SystemClock
from shared.events import CloudEvent, EventData, TopicKey, derived_id, make_event
from shared.metrics import ServiceMetrics
from shared.settings import Settings
from shared.topics import Topics

log = logging.getLogger(__name__)

Document = dict[str, Any]
PROCESSED = "processed_events"
OUTBOX = "outbox"
# An outbox entry older than this is assumed orphaned by a crashed process and is
# republished by the relay (duplicates are harmless: the id is the same).
ORPHAN_AGE = timedelta(seconds=60)


class Publisher(Protocol):
    async def __call__(
        self, topic: str, key: bytes, value: bytes, headers: dict[str, str]
    ) -> None: ...


class UnitOfWork:
    """What a handler sees while it applies one event."""

    def __init__(
        self,
        cause_id: str,
        event_time: datetime,
        session: AsyncClientSession,
        db: AsyncDatabase[Document],
        source: str,
    ) -> None:
        self.cause_id = cause_id
        self.event_time = event_time
        self.session = session
        # The service's own database; every call must pass `session=self.session`.
        self.db = db
        self._source = source
        self.emitted: list[CloudEvent[Any]] = []
        self._after_commit: list[Callable[[], None]] = []

    def emit(self, data: EventData, *, discriminator: str = "") -> CloudEvent[Any]:
        """Queue `data` for publication once the transaction commits."""
        event = make_event(
            data,
            source=self._source,
            id=derived_id(self.cause_id, data.TYPE, discriminator),
            time=self.event_time,
        )
        self.emitted.append(event)
        return event

    def after_commit(self, callback: Callable[[], None]) -> None:
        self._after_commit.append(callback)

    def committed(self) -> None:
        for callback in self._after_commit:
            callback()


@dataclass
class ServiceSpec:
    """What makes one service: its name (the consumer group), its topics, and how
    it applies an event."""

    name: str
    inputs: tuple[TopicKey, ...]
    outputs: tuple[TopicKey, ...]
    handle: Callable[[UnitOfWork, CloudEvent[Any]], Awaitable[None]]
    prepare: Callable[[ServiceRuntime], Awaitable[None]] | None = None
    background: tuple[Callable[[ServiceRuntime], Coroutine[Any, Any, None]], ...] = ()
    description: str = ""


@dataclass
class ServiceRuntime:
    name: str
    settings: Settings
    client: AsyncMongoClient[Document]
    publisher: Publisher
    clock: Clock = field(default_factory=SystemClock)
    metrics: ServiceMetrics = field(default_factory=ServiceMetrics)

    @property
    def topics(self) -> Topics:
        return Topics(self.settings.topic_prefix)

    @property
    def db(self) -> AsyncDatabase[Document]:
        return self.client[self.settings.database_name(self.name)]

    @property
    def source(self) -> str:
        return f"/mentormesh/{self.name}"

    async def ensure_indexes(self) -> None:
        await self.db[OUTBOX].create_index("cause_id")
        await self.db[OUTBOX].create_index("created_at")

    async def run_once(
        self,
        cause_id: str,
        event_time: datetime,
        work: Callable[[UnitOfWork], Awaitable[None]],
    ) -> bool:
        """Apply `work` once for `cause_id`; False if it was applied before."""
        processed = self.db[PROCESSED]
        outbox = self.db[OUTBOX]

        async def transaction(session: AsyncClientSession) -> UnitOfWork | None:
            if await processed.find_one({"_id": cause_id}, {"_id": 1}, session=session):
                return None
            uow = UnitOfWork(cause_id, event_time, session, self.db, self.source)
            await work(uow)
            await processed.insert_one(
                {"_id": cause_id, "applied_at": datetime.now(UTC)}, session=session
            )
            if uow.emitted:
                await outbox.insert_many(
                    [self._outbox_entry(cause_id, e) for e in uow.emitted], session=session
                )
            return uow

        try:
            async with self.client.start_session() as session:
                uow = await session.with_transaction(transaction)
        except DuplicateKeyError:
            # Another process applied the same id concurrently and committed first.
            uow = None
        if uow is None:
            await self.flush_outbox({"cause_id": cause_id})
            return False
        uow.committed()
        await self._publish_entries([self._outbox_entry(cause_id, e) for e in uow.emitted])
        return True

    def _outbox_entry(self, cause_id: str, event: CloudEvent[Any]) -> Document:
        return {
            "_id": event.id,
            "cause_id": cause_id,
            "topic": getattr(self.topics, event.data.TOPIC),
            "key": event.key,
            "value": event.to_json(),
            "type": event.type,
            "created_at": datetime.now(UTC),
        }

    async def flush_outbox(self, query: Document) -> int:
        entries = [doc async for doc in self.db[OUTBOX].find(query).sort("created_at", 1)]
        await self._publish_entries(entries)
        return len(entries)

    async def flush_orphans(self) -> int:
        return await self.flush_outbox({"created_at": {"$lt": datetime.now(UTC) - ORPHAN_AGE}})

    async def _publish_entries(self, entries: list[Document]) -> None:
        if not entries:
            return
        for entry in entries:
            await self.publisher(
                entry["topic"],
                bytes(entry["key"]),
                bytes(entry["value"]),
                {"content-type": "application/cloudevents+json", "ce-type": entry["type"]},
            )
            self.metrics.published.labels(entry["type"]).inc()
        await self.db[OUTBOX].delete_many({"_id": {"$in": [e["_id"] for e in entries]}})
