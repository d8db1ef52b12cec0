"""Applying events exactly once: a MongoDB transaction that holds the service's own
writes, the processed-events ledger and an outbox of the events they cause.

Kafka delivers at least once. A redelivered CloudEvent id finds itself in the
ledger and is skipped (its outbox is flushed again in case the crash came between
commit and publish). Output ids are derived from the cause, so a republished event
carries the same id and consumers downstream de-duplicate it in turn. The ledger
forgets an id after `Settings.ledger_ttl_days` (a TTL index): see the README,
"Delivery guarantees".

A batch of events is applied in one transaction (`ServiceRuntime.apply_batch`):
  1. one ledger lookup (`$in`) for the whole batch; ids applied before are skipped,
     and so is a second copy of an id within the batch;
  2. each remaining event's work (the service's handler), in order, each with its
     own `UnitOfWork`;
  3. the batch's before-commit hooks (stores write what they buffered);
  4. one ledger `insert_many`, one outbox `insert_many`, the commit;
  5. each unit's `after_commit` callbacks, in order;
  6. the outputs published together (sent without waiting for each, then waited for
     once) and the outbox entries deleted in one call. Offsets are committed by the
     caller only after this returns.
`run_once` is the same for a single cause (background work such as expiries).

The handler interface is unchanged: `handle(uow, event)`. What a handler may use
beyond `uow.session`, `uow.db`, `uow.emit` and `uow.after_commit` is `uow.batch`, the
`BatchScope` shared by every event of the batch:
  - `uow.batch.session`, `uow.batch.db`: the batch's one transaction;
  - `uow.batch.cached(key, build)`: one object per key for the whole batch, built by
    `build()` on first use: a store keeps its read cache and write buffer in it;
  - `uow.batch.before_commit(flush)`: `await flush()` once, after the batch's last
    handler and before its ledger, outbox and commit: a store writes its buffer in
    bulk there;
  - `uow.batch.size`: how many events the batch holds;
  - `uow.batch.events`: the batch's events, in order (those given with their `Unit`),
    so a store can read what they are about in one query.
A store that caches and buffers per batch:

    def timers_of(uow: UnitOfWork) -> TimerStore:
        def build() -> TimerStore:
            store = TimerStore(uow.batch.db, uow.batch.session)
            uow.batch.before_commit(store.flush)
            return store
        return uow.batch.cached(TimerStore, build)

Reads through the session see the batch's earlier writes (read-your-writes inside a
transaction); what a store holds back in a buffer it must answer from its cache. State
that `after_commit` callbacks update in memory changes only once the whole batch has
committed: a handler must not expect an earlier event of its own batch there. If the
transaction is retried (a conflict, a lost connection), every unit is run again with a
fresh `BatchScope`.

A unit whose work raises aborts the batch with `HandlerFailed(index, error)`: nothing
of the batch is applied, and the caller (`shared.delivery`) applies the units before
it again, retries that one alone and goes on after it. A transient error (see
`is_transient`) is not the unit's fault and is raised as it is: pymongo's
`with_transaction` retries those it labels, the caller the others. A batch of several
units that loses its transaction to concurrent writers twice raises `BatchContended`
(transient) rather than being retried whole for minutes: the caller splits it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from collections.abc import Awaitable, Callable, Coroutine, Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, TypeVar, cast

from aiokafka.errors import KafkaConnectionError, KafkaError, KafkaTimeoutError
from pymongo import AsyncMongoClient
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, ConnectionFailure, OperationFailure, PyMongoError

from shared.clock import Clock, SystemClock
from shared.documents import Document
from shared.events import CloudEvent, EventData, TopicKey, derived_id, make_event
from shared.faults import AFTER_COMMIT_BEFORE_PUBLISH, MID_BATCH, fault_point
from shared.metrics import ServiceMetrics
from shared.settings import Settings
from shared.topics import Topics
from shared.tracing import continued, trace_context

log = logging.getLogger(__name__)

PROCESSED = "processed_events"
OUTBOX = "outbox"
LEDGER_TTL_INDEX = "applied_at_ttl"
# An outbox entry older than this is assumed orphaned by a crashed process and is
# republished by the relay (duplicates are harmless: the id is the same).
ORPHAN_AGE = timedelta(seconds=60)
# How often a batch is tried again when another process recorded one of its ids
# between our ledger lookup and our commit (the next lookup sees it).
LEDGER_RACES = 5
# Transactions a batch of several units gets before it is split (`BatchContended`).
BATCH_TRIES = 2
DUPLICATE_KEY = 11000
INDEX_OPTIONS_CONFLICT = (85, 86)
TRANSIENT_LABELS = ("TransientTransactionError", "UnknownTransactionCommitResult")
T = TypeVar("T")


class Publisher(Protocol):
    """Sends one record. May return an awaitable that completes once the broker has
    acknowledged it; the runtime sends a batch's records in order without waiting,
    then waits for every acknowledgement once."""

    async def __call__(
        self, topic: str, key: bytes, value: bytes, headers: dict[str, str]
    ) -> Awaitable[object] | None: ...


class BatchHooks:
    """What the events of one batch share wherever they are stored: whatever a store
    keeps for the whole batch, and the writes it makes just before the batch commits.
    The in-memory runtimes of tests use it as is."""

    def __init__(self) -> None:
        self._cached: dict[Hashable, object] = {}
        self._before_commit: list[Callable[[], Awaitable[None]]] = []

    def cached(self, key: Hashable, build: Callable[[], T]) -> T:
        """The batch's one object for `key`, built by `build()` the first time."""
        if key not in self._cached:
            self._cached[key] = build()
        return cast(T, self._cached[key])

    def before_commit(self, flush: Callable[[], Awaitable[None]]) -> None:
        """Await `flush()` once, after the batch's last handler and before its commit."""
        self._before_commit.append(flush)

    async def flush(self) -> None:
        # A hook may register another (a store that writes through a second store).
        done = 0
        while done < len(self._before_commit):
            await self._before_commit[done]()
            done += 1


class BatchScope(BatchHooks):
    """What the events of one batch share on MongoDB: one transaction, and whatever a
    store keeps for the whole batch (see the module docstring)."""

    def __init__(
        self, session: AsyncClientSession, db: AsyncDatabase[Document], size: int = 1
    ) -> None:
        super().__init__()
        self.session = session
        self.db = db
        self.size = size
        self.events: list[CloudEvent[Any]] = []


class UnitOfWork:
    """What a handler sees while it applies one event."""

    def __init__(
        self,
        cause_id: str,
        event_time: datetime,
        session: AsyncClientSession,
        db: AsyncDatabase[Document],
        source: str,
        batch: BatchScope | None = None,
    ) -> None:
        self.cause_id = cause_id
        self.event_time = event_time
        self.session = session
        # The service's own database; every call must pass `session=self.session`.
        self.db = db
        self.batch = batch or BatchScope(session, db)
        self._source = source
        self.emitted: list[CloudEvent[Any]] = []
        # The W3C trace context each emitted event is published in (by event id).
        self.traces: dict[str, dict[str, str]] = {}
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
        self.traces[event.id] = trace_context()
        return event

    def after_commit(self, callback: Callable[[], None]) -> None:
        self._after_commit.append(callback)

    def committed(self) -> None:
        for callback in self._after_commit:
            callback()


@dataclass(frozen=True)
class Unit:
    """One cause to apply: its id (the ledger key), its time, and the work it means."""

    cause_id: str
    event_time: datetime
    work: Callable[[UnitOfWork], Awaitable[None]]
    event: CloudEvent[Any] | None = None  # what the work applies, if it is an event


class HandlerFailed(Exception):
    """The work of `units[index]` raised `error`; nothing of the batch was applied."""

    def __init__(self, index: int, error: Exception) -> None:
        super().__init__(f"unit {index} failed: {type(error).__name__}: {error}")
        self.index = index
        self.error = error


class _LedgerRace(Exception):
    """Another process recorded one of the batch's ids first."""


class BatchContended(Exception):
    """A batch's transaction lost to concurrent writers again: apply it in smaller
    pieces (a single unit is retried by `with_transaction` instead)."""


@dataclass
class _Committed:
    units: list[UnitOfWork]
    applied: list[bool]
    seen_before: list[str]
    outputs: list[Document]


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


def topics_read(handled: Iterable[type[EventData]]) -> tuple[TopicKey, ...]:
    """A service's input topics: those of the event types its dispatch table handles."""
    return tuple(sorted({data.TOPIC for data in handled}))


def _process_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass
class ServiceRuntime:
    name: str
    settings: Settings
    client: AsyncMongoClient[Document]
    publisher: Publisher
    clock: Clock = field(default_factory=SystemClock)
    metrics: ServiceMetrics = field(default_factory=ServiceMetrics)
    # Set when the process begins to stop: background loops end after their current
    # unit and retry waits are cut short (`shared.periodic.every(until=...)`).
    stopping: asyncio.Event = field(default_factory=asyncio.Event)
    # Marks this process's outbox entries, so shutdown flushes its own and no other's.
    process: str = field(default_factory=_process_name)

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
        await self._ensure_ledger_ttl()

    async def _ensure_ledger_ttl(self) -> None:
        seconds = int(self.settings.ledger_ttl_days * 86_400)
        ledger = self.db[PROCESSED]
        try:
            await ledger.create_index(
                "applied_at", expireAfterSeconds=seconds, name=LEDGER_TTL_INDEX
            )
        except OperationFailure as exc:
            if exc.code not in INDEX_OPTIONS_CONFLICT:
                raise
            # The window setting changed since the index was made.
            await ledger.drop_index(LEDGER_TTL_INDEX)
            await ledger.create_index(
                "applied_at", expireAfterSeconds=seconds, name=LEDGER_TTL_INDEX
            )

    async def run_once(
        self,
        cause_id: str,
        event_time: datetime,
        work: Callable[[UnitOfWork], Awaitable[None]],
    ) -> bool:
        """Apply `work` once for `cause_id`; False if it was applied before. What the
        work raises is raised as it was."""
        try:
            [applied] = await self.apply_batch([Unit(cause_id, event_time, work)])
        except HandlerFailed as failed:
            raise failed.error from None
        return applied

    async def apply_batch(self, units: Sequence[Unit]) -> list[bool]:
        """Apply `units` in one transaction, in order (see the module docstring). For
        each unit: True if applied now, False if its id was applied before. Raises
        `HandlerFailed` if a unit's work raised."""
        if not units:
            return []
        for race in range(LEDGER_RACES):
            try:
                committed = await self._commit(units)
                break
            except _LedgerRace:
                if race == LEDGER_RACES - 1:
                    raise
        for uow in committed.units:
            uow.committed()
        fault_point(AFTER_COMMIT_BEFORE_PUBLISH)
        entries: list[Document] = []
        if committed.seen_before:
            # Applied before, perhaps by a process that died before publishing.
            query = {"cause_id": {"$in": committed.seen_before}}
            entries += [doc async for doc in self.db[OUTBOX].find(query).sort("created_at", 1)]
        await self._publish_entries(entries + committed.outputs)
        return committed.applied

    async def _commit(self, units: Sequence[Unit]) -> _Committed:
        processed, outbox = self.db[PROCESSED], self.db[OUTBOX]
        ids = list(dict.fromkeys(u.cause_id for u in units))
        halfway = (len(units) + 1) // 2
        tries = 0

        async def transaction(session: AsyncClientSession) -> _Committed:
            nonlocal tries
            tries += 1
            if tries > BATCH_TRIES and len(units) > 1:
                # Retrying a large transaction against the same writers tends to lose
                # again: smaller pieces conflict less.
                raise BatchContended(f"{len(units)} units lost {BATCH_TRIES} transactions")
            found = processed.find({"_id": {"$in": ids}}, {"_id": 1}, session=session)
            done = {doc["_id"] async for doc in found}
            seen_before = [i for i in ids if i in done]
            scope = BatchScope(session, self.db, len(units))
            scope.events = [u.event for u in units if u.event is not None]
            uows: list[UnitOfWork] = []
            applied: list[bool] = []
            for index, unit in enumerate(units):
                if unit.cause_id in done:
                    applied.append(False)
                    continue
                uow = UnitOfWork(
                    unit.cause_id, unit.event_time, session, self.db, self.source, scope
                )
                try:
                    await unit.work(uow)
                except Exception as exc:
                    if is_transient(exc):
                        raise  # the infrastructure's, not this unit's: tried again as a whole
                    raise HandlerFailed(index, exc) from exc
                done.add(unit.cause_id)
                uows.append(uow)
                applied.append(True)
                if len(units) > 1 and index + 1 == halfway:
                    fault_point(MID_BATCH)
            await scope.flush()
            outputs = [
                self._outbox_entry(u.cause_id, e, u.traces.get(e.id))
                for u in uows
                for e in u.emitted
            ]
            if uows:
                now = datetime.now(UTC)
                ledger = [{"_id": u.cause_id, "applied_at": now} for u in uows]
                try:
                    await processed.insert_many(ledger, session=session)
                except BulkWriteError as exc:
                    if _only_duplicates(exc):
                        raise _LedgerRace() from exc
                    raise
                if outputs:
                    await outbox.insert_many(outputs, session=session)
            return _Committed(uows, applied, seen_before, outputs)

        async with self.client.start_session() as session:
            return await session.with_transaction(transaction)

    def _outbox_entry(
        self, cause_id: str, event: CloudEvent[Any], trace: dict[str, str] | None = None
    ) -> Document:
        entry: Document = {
            "_id": event.id,
            "cause_id": cause_id,
            "topic": getattr(self.topics, event.data.TOPIC),
            "key": event.key,
            "value": event.to_json(),
            "type": event.type,
            "created_at": datetime.now(UTC),
            "producer": self.process,
        }
        if trace:
            entry["trace"] = trace
        return entry

    async def flush_outbox(self, query: Document) -> int:
        entries = [doc async for doc in self.db[OUTBOX].find(query).sort("created_at", 1)]
        await self._publish_entries(entries)
        return len(entries)

    async def flush_orphans(self) -> int:
        return await self.flush_outbox({"created_at": {"$lt": datetime.now(UTC) - ORPHAN_AGE}})

    async def flush_own_outbox(self) -> int:
        """Publish what this process committed and did not publish (at shutdown)."""
        return await self.flush_outbox({"producer": self.process})

    async def _publish_entries(self, entries: list[Document]) -> None:
        if not entries:
            return
        acks: list[Awaitable[object]] = []
        for entry in entries:
            # Published in the trace of the event that caused it, and carrying it on.
            with continued(entry.get("trace")) as trace_headers:
                ack = await self.publisher(
                    entry["topic"],
                    bytes(entry["key"]),
                    bytes(entry["value"]),
                    {
                        "content-type": "application/cloudevents+json",
                        "ce-type": entry["type"],
                        **trace_headers,
                    },
                )
            if ack is not None:
                acks.append(ack)
        # Every acknowledgement is awaited, also after a failure, so none is left behind.
        results = await asyncio.gather(*acks, return_exceptions=True)
        failure = next((r for r in results if isinstance(r, BaseException)), None)
        if failure is not None:
            raise failure
        for entry in entries:
            self.metrics.published.labels(entry["type"]).inc()
        await self.db[OUTBOX].delete_many({"_id": {"$in": [e["_id"] for e in entries]}})


def is_transient(exc: BaseException) -> bool:
    """A failure of the infrastructure (database or broker unreachable, a transaction
    lost to a conflict) that a later try may not meet."""
    if isinstance(exc, ConnectionFailure | ConnectionError | TimeoutError | BatchContended):
        return True
    if isinstance(exc, PyMongoError):
        return any(exc.has_error_label(label) for label in TRANSIENT_LABELS)
    if isinstance(exc, KafkaConnectionError | KafkaTimeoutError):
        return True
    return isinstance(exc, KafkaError) and bool(exc.retriable)


def _only_duplicates(exc: BulkWriteError) -> bool:
    errors = exc.details.get("writeErrors", [])
    return bool(errors) and all(e.get("code") == DUPLICATE_KEY for e in errors)
