"""From Kafka records to applied events or dead letters: how one fetched batch is
settled before its offsets are committed.

`Delivery.settle(records)`:
  1. Decodes each record into a typed CloudEvent (`shared.kafka_binding`). A record
     that cannot be decoded becomes a `Rejection` and goes, unchanged, to `<topic>.dlq`:
     the contract's reasons (`InvalidEvent.reason`) where it gives one, `undecodable` with the
     exception's type and message for anything else, so no input can escape.
  2. Applies the decoded events in one transaction (`ServiceRuntime.apply_batch`).
  3. When a handler fails (`HandlerFailed`), the events before it are applied as one
     batch, the failing one is tried alone up to `max_attempts` times and then
     dead-lettered as `handler-error`, and the events after it go on as a batch. So
     per-partition (hence per-key) order holds, and a poison event costs its own
     attempts, never its neighbours' effects.
  4. When the batch fails as a whole (commit, ledger, a store's before-commit flush):
     for a transient reason (database or broker unreachable, transactions lost to
     other writers) it is split in halves, the first applied before the second, down
     to single events, which are tried again without limit; for any other reason its
     events are applied one at a time, each with its own attempts.
Every retry waits a capped, jittered exponential backoff (`shared.backoff`), and each
failed attempt is logged once, in one line. A backoff wait ends early when the
process starts stopping: then `settle` returns False and the host commits nothing,
so the records come again to whoever owns the partition next.

Why a unit of its own and not a FastStream middleware: a middleware wraps the handler
call for one message, and with batch consumption that message is the whole batch.
What happens here is per record inside the batch (retry this one, dead-letter that
one, keep the others and their order), which only the code that applies the batch can
decide. The host's subscriber is a few lines around `settle`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import traceback
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC
from typing import Any, Protocol, TypeAlias

from aiokafka import ConsumerRecord

from shared.backoff import Backoff
from shared.dead_letter import Rejection
from shared.events import CloudEvent, InvalidEvent, TopicKey
from shared.kafka_binding import decode_record
from shared.logs import HandledEvent, handling
from shared.metrics import ServiceMetrics
from shared.runtime import HandlerFailed, ServiceRuntime, Unit, UnitOfWork, is_transient
from shared.tracing import event_span

log = logging.getLogger("mentormesh.delivery")

Record: TypeAlias = "ConsumerRecord[bytes, bytes]"
Handle = Callable[[UnitOfWork, CloudEvent[Any]], Awaitable[None]]


class DeadLetterSender(Protocol):
    """Publishes a dead letter and returns once the broker acknowledged it."""

    async def __call__(
        self, topic: str, key: bytes | None, value: bytes, headers: dict[str, str]
    ) -> None: ...


class Stopping(Exception):
    """The process began to stop while a batch waited to be tried again."""


def describe(exc: BaseException) -> str:
    return "".join(traceback.format_exception_only(exc)).strip()


@dataclass(frozen=True)
class Arrival:
    """One record as it came, and what it decoded to."""

    record: Record
    event: CloudEvent[Any] | None = None
    rejection: Rejection | None = None
    # `data` fields this version of the contract does not know (counted, then ignored).
    ignored_fields: tuple[str, ...] = ()

    @property
    def where(self) -> str:
        return f"{self.record.topic}[{self.record.partition}]@{self.record.offset}"

    @property
    def handled(self) -> HandledEvent:
        """What log lines say about this record while it is handled."""
        event = self.event
        return HandledEvent(
            event.id if event is not None else "",
            event.type if event is not None else "",
            self.record.topic,
            self.record.partition,
            self.record.offset,
        )


def decode(record: Record, topic: TopicKey) -> Arrival:
    """Never raises: a record is either a typed event or a rejection with a reason."""
    try:
        decoded = decode_record(record.value, record.headers or (), topic, key=record.key)
    except InvalidEvent as exc:
        return Arrival(record, rejection=Rejection(exc.reason, exc.detail))
    return Arrival(record, event=decoded.event, ignored_fields=decoded.ignored_fields)


def original_headers(record: Record) -> dict[str, str]:
    return {k: (v or b"").decode(errors="replace") for k, v in (record.headers or ())}


class Delivery:
    def __init__(
        self,
        service: str,
        runtime: ServiceRuntime,
        topics: Mapping[str, TopicKey],
        handle: Handle,
        dead_letter: DeadLetterSender,
        *,
        max_attempts: int,
        backoff: Backoff,
    ) -> None:
        self.service = service
        self.runtime = runtime
        self.topics = topics
        self.handle = handle
        self.dead_letter = dead_letter
        self.max_attempts = max_attempts
        self.backoff = backoff

    @property
    def metrics(self) -> ServiceMetrics:
        return self.runtime.metrics

    async def settle(self, records: Sequence[Record]) -> bool:
        """Apply or dead-letter every record, in order. False if the process began to
        stop before that was done (then nothing may be committed)."""
        self.metrics.batch_records.observe(len(records))
        arrivals = [decode(r, self.topics[r.topic]) for r in records]
        try:
            for arrival in arrivals:
                if arrival.rejection is not None:
                    await self._reject(arrival, arrival.rejection)
                elif arrival.event is not None and arrival.ignored_fields:
                    self.metrics.unknown_fields.labels(
                        arrival.record.topic, arrival.event.type
                    ).inc(len(arrival.ignored_fields))
            await self._apply([a for a in arrivals if a.event is not None])
        except Stopping:
            return False
        return True

    async def _apply(self, arrivals: list[Arrival]) -> None:
        start, outages = 0, 0
        while start < len(arrivals):
            run = arrivals[start:]
            try:
                await self._apply_together(run)
                return
            except HandlerFailed as failed:
                if failed.index > 0:
                    await self._apply(run[: failed.index])
                await self._apply_alone(run[failed.index], failed.error)
                start += failed.index + 1
                outages = 0
            except Exception as exc:
                if is_transient(exc) and len(run) > 1:
                    # Smaller pieces: they conflict less, and during an outage only
                    # the first one waits.
                    half = len(run) // 2
                    await self._apply(run[:half])
                    start += half
                elif is_transient(exc):
                    outages += 1
                    await self._wait_after_outage(run, outages, exc)
                elif len(run) == 1:
                    await self._apply_alone(run[0], exc)
                    return
                else:
                    log.warning("%s: batch of %d from %s failed, applying one by one: %s",
                                self.service, len(run), run[0].where, describe(exc))  # fmt: skip
                    for arrival in run:
                        await self._apply_alone(arrival, None)
                    return

    async def _apply_alone(self, arrival: Arrival, error: Exception | None) -> None:
        """Apply one event: retried without limit while failures are transient, up to
        `max_attempts` otherwise, then dead-lettered."""
        attempts, outages = (1 if error is not None else 0), 0
        while True:
            if error is not None:
                if attempts >= self.max_attempts:
                    detail = f"after {attempts} attempts: {describe(error)}"
                    await self._reject(arrival, Rejection("handler-error", detail))
                    return
                await self._wait_after_failure(arrival, attempts, error)
            try:
                await self._apply_together([arrival])
                return
            except Exception as exc:
                failure = exc.error if isinstance(exc, HandlerFailed) else exc
                if not isinstance(exc, HandlerFailed) and is_transient(exc):
                    outages += 1
                    await self._wait_after_outage([arrival], outages, exc)
                    error = None
                    continue
                attempts += 1
                error = failure

    async def _apply_together(self, arrivals: Sequence[Arrival]) -> None:
        units = [self._unit(a) for a in arrivals if a.event is not None]
        loop = asyncio.get_running_loop()
        started = loop.time()
        applied = await self.runtime.apply_batch(units)
        elapsed = loop.time() - started
        self.metrics.batch_events.observe(len(units))
        for arrival, fresh in zip(arrivals, applied, strict=True):
            assert arrival.event is not None
            topic = arrival.record.topic
            self.metrics.handle_seconds.labels(topic).observe(elapsed)
            if fresh:
                self.metrics.consumed.labels(topic, arrival.event.type).inc()
            else:
                self.metrics.duplicates.labels(topic).inc()

    def _unit(self, arrival: Arrival) -> Unit:
        event, record = arrival.event, arrival.record
        assert event is not None

        async def work(uow: UnitOfWork) -> None:
            with (
                handling(arrival.handled),
                event_span(
                    event_id=event.id,
                    event_type=event.type,
                    topic=record.topic,
                    partition=record.partition,
                    offset=record.offset,
                    headers=record.headers,
                ),
            ):
                log.debug("%s: applying %s from %s", self.service, event.type, arrival.where)
                await self.handle(uow, event)

        return Unit(event.id, event.time.astimezone(UTC), work, event)

    async def _reject(self, arrival: Arrival, rejection: Rejection) -> None:
        record = arrival.record
        headers = rejection.headers(
            self.service, record.topic, record.partition, record.offset, original_headers(record)
        )
        target = record.topic + ".dlq"
        outages = 0
        while True:
            try:
                await self.dead_letter(target, record.key, record.value or b"", headers)
                break
            except Exception as exc:
                if not is_transient(exc):
                    raise
                outages += 1
                await self._wait_after_outage([arrival], outages, exc)
        self.metrics.dead_lettered.labels(record.topic, rejection.reason).inc()
        with handling(arrival.handled):
            log.warning("%s: dead-lettered %s: %s: %s", self.service, arrival.where,
                        rejection.reason, rejection.detail)  # fmt: skip

    async def _wait_after_failure(self, arrival: Arrival, attempt: int, error: Exception) -> None:
        delay = self.backoff.delay(attempt)
        self.metrics.retries.labels(arrival.record.topic).inc()
        with handling(arrival.handled):
            log.warning("%s: %s (%s) failed, attempt %d of %d, next in %.2f s: %s",
                        self.service, arrival.where, _event_id(arrival), attempt,
                        self.max_attempts, delay, describe(error))  # fmt: skip
        await self._pause(delay)

    async def _wait_after_outage(
        self, run: Sequence[Arrival], outage: int, error: Exception
    ) -> None:
        delay = self.backoff.delay(outage)
        self.metrics.outage_retries.inc()
        log.warning("%s: %d event(s) from %s not applied (transient, %d in a row), "
                    "next try in %.2f s: %s", self.service, len(run), run[0].where, outage,
                    delay, describe(error))  # fmt: skip
        await self._pause(delay)

    async def _pause(self, seconds: float) -> None:
        stopping = self.runtime.stopping
        if not stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), seconds)
        if stopping.is_set():
            raise Stopping()


def _event_id(arrival: Arrival) -> str:
    return arrival.event.id if arrival.event is not None else "?"
