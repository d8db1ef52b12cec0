"""Turning a `ServiceSpec` into a running FastStream application.

One batch consumer per service reads all its input topics in the service's consumer
group: FastStream's Kafka batch subscriber hands over up to `batch_max_records`
records at a time (an idle poll waits `batch_max_wait_ms`). Each batch is settled by
`shared.delivery` (applied in one transaction, or dead-lettered record by record) and
only then are its offsets committed (`AckPolicy.MANUAL`: nothing is committed before
the work is done, and a batch that could not be settled is rewound).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from aiokafka import ConsumerRecord
from aiokafka.errors import KafkaError
from faststream import AckPolicy, FastStream
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from faststream.kafka.opentelemetry import KafkaTelemetryMiddleware
from faststream.kafka.prometheus import KafkaPrometheusMiddleware
from faststream.message import StreamMessage
from faststream.specification import AsyncAPI
from pymongo import AsyncMongoClient

from shared.backoff import Backoff
from shared.clock import Clock, SystemClock
from shared.delivery import Delivery, describe
from shared.documents import Document
from shared.events import TopicKey
from shared.http import OpsServer
from shared.kafka_client import broker_options, create_missing_topics
from shared.logs import configure_logging
from shared.metrics import ServiceMetrics
from shared.periodic import every
from shared.runtime import OUTBOX, PROCESSED, ServiceRuntime, ServiceSpec
from shared.settings import Settings
from shared.topics import Topics, dead_letter_topic
from shared.tracing import setup_tracing

log = logging.getLogger("mentormesh")

RELAY_INTERVAL_S = 5.0
# At shutdown, how long background loops that do not watch `runtime.stopping` get to
# finish their unit before they are cancelled (a cancelled unit is rolled back).
BACKGROUND_GRACE_S = 3.0


def group_id(settings: Settings, service: str) -> str:
    if settings.topic_prefix == "mentormesh":
        return service
    return f"{settings.topic_prefix}.{service}"


async def ensure_topics(settings: Settings) -> None:
    """Create every missing topic with the configured partitions, replicas and configs
    (Tansu would auto-create 4 partitions, Apache Kafka 1: be explicit so both behave alike)."""
    await create_missing_topics(settings, Topics(settings.topic_prefix).all())


async def _raw_bodies(msg: StreamMessage[Any]) -> Any:
    # Decoding is ours (`shared.delivery`): FastStream must not try to decode bodies
    # first, or a message that is not JSON would fail before it can be dead-lettered.
    return msg.body


async def _tolerant_parse(
    records: tuple[ConsumerRecord[bytes, bytes], ...],
    parse: Callable[[tuple[ConsumerRecord[bytes, bytes], ...]], Awaitable[StreamMessage[Any]]],
) -> StreamMessage[Any]:
    """FastStream's parser decodes every header value as UTF-8, and one that is not
    would fail the whole batch, again and again. It gets copies with readable headers;
    the handler gets the records as they came (dead letters keep their headers)."""
    readable = tuple(
        dataclasses.replace(
            r,
            headers=[(k, (v or b"").decode(errors="replace").encode()) for k, v in r.headers or ()],
        )
        for r in records
    )
    message = await parse(readable)
    message.raw_message = records
    return message


def _records(msg: StreamMessage[Any]) -> tuple[ConsumerRecord[bytes, bytes], ...]:
    raw = msg.raw_message
    return tuple(raw) if isinstance(raw, tuple | list) else (raw,)


class ServiceHost:
    """Owns the broker, the Mongo client and the ops endpoint of one service.

    Stopping (SIGTERM, SIGINT, or leaving `running()`) goes in this order: stop
    fetching and let the batch in flight finish and commit its offsets (at most
    `shutdown_grace_s`); stop the background loops (each ends after its current unit,
    or is cancelled after `BACKGROUND_GRACE_S`); publish whatever this process left in
    its outbox; close the producer; then close the ops endpoint and the Mongo client.
    No event is handled after the client is closed. Under `FastStream.run` (and so
    `python -m services.<name>` and `faststream run`) the first three are an
    `on_shutdown` hook, the producer is closed by `broker.stop()`, and the last step
    is an `after_shutdown` hook.
    """

    def __init__(self, spec: ServiceSpec, settings: Settings, clock: Clock | None = None) -> None:
        self.spec = spec
        self.settings = settings
        self.clock = clock or SystemClock()
        self.topics = Topics(settings.topic_prefix)
        setup_tracing(spec.name)  # before the Mongo client is made
        self.metrics = ServiceMetrics(refresh_every_s=settings.metrics_refresh_s)
        self.broker = KafkaBroker(
            **broker_options(settings),  # address, TLS/SASL, idempotence
            client_id=f"mentormesh-{spec.name}",
            acks="all",
            graceful_timeout=settings.shutdown_grace_s,
            # FastStream logs every message at this level: keep that out of INFO.
            log_level=logging.DEBUG,
            # Through the root logger: the same JSON lines as ours (`shared.logs`).
            logger=logging.getLogger("faststream.access.kafka"),
            middlewares=(
                KafkaPrometheusMiddleware(registry=self.metrics.registry, app_name=spec.name),
                KafkaTelemetryMiddleware(),
            ),
        )
        self._topic_keys: dict[str, TopicKey] = {getattr(self.topics, k): k for k in spec.inputs}
        self._tasks: list[asyncio.Task[None]] = []
        self.runtime: ServiceRuntime | None = None
        self.delivery: Delivery | None = None
        self.ops: OpsServer | None = None
        self._drained = False
        self._subscribe()

    def _subscribe(self) -> None:
        subscriber = self.broker.subscriber(
            *self._topic_keys,
            group_id=group_id(self.settings, self.spec.name),
            auto_offset_reset="earliest",
            batch=True,
            max_records=self.settings.batch_max_records,
            batch_timeout_ms=self.settings.batch_max_wait_ms,
            # Offsets are committed by `_on_batch`, once every record is settled.
            ack_policy=AckPolicy.MANUAL,
            parser=_tolerant_parse,
            decoder=_raw_bodies,
            description=self.spec.description or None,
        )
        subscriber(self._on_batch)
        for key in self.spec.outputs:
            self.broker.publisher(getattr(self.topics, key), title=f"{self.spec.name}:{key}")
        for topic in self._topic_keys:
            self.broker.publisher(
                dead_letter_topic(topic),
                title=f"{self.spec.name}:{topic}.dlq",
                description=(
                    f"Messages from {topic} that {self.spec.name} could not apply, unchanged, "
                    "with headers x-mentormesh-error (too-large, too-deep, not-json, "
                    "not-cloudevent, unknown-type, wrong-topic, invalid-data, wrong-key, "
                    "undecodable, handler-error), "
                    "x-mentormesh-error-detail, x-mentormesh-service and the source topic, "
                    "partition and offset."
                ),
            )

    async def _publish(
        self, topic: str, key: bytes, value: bytes, headers: dict[str, str]
    ) -> Awaitable[object]:
        # Sent in order without waiting; the runtime awaits the acknowledgements once.
        return await self.broker.publish(value, topic, key=key, headers=headers, no_confirm=True)

    async def _publish_dead_letter(
        self, topic: str, key: bytes | None, value: bytes, headers: dict[str, str]
    ) -> None:
        await self.broker.publish(value, topic, key=key, headers=headers)

    async def _on_batch(self, msg: KafkaMessage) -> None:
        """Settle a fetched batch, then commit its offsets; if it could not be settled
        (the process is stopping, or something unforeseen failed) rewind instead, so
        the records come again."""
        records = _records(msg)
        try:
            assert self.delivery is not None, "records arrived before the service started"
            settled = await self.delivery.settle(records)
        except Exception:
            log.exception("%s: a batch of %d records could not be settled; it will come again",
                          self.spec.name, len(records))  # fmt: skip
            await msg.nack()
            await asyncio.sleep(self.settings.retry_cap_s)  # never a hot loop
            return
        if not settled:
            await msg.nack()
            return
        try:
            await msg.ack()
        except KafkaError as exc:
            # A rebalance took the partitions meanwhile: their new owner gets the
            # records again and finds them in the ledger.
            log.warning("%s: offsets of %d records not committed (%s); they will be "
                        "redelivered and skipped as applied", self.spec.name, len(records),
                        describe(exc))  # fmt: skip

    async def readiness(self) -> dict[str, bool]:
        kafka = await self.broker.ping(timeout=2.0)
        mongo = False
        if self.runtime is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.runtime.client.admin.command("ping"), 2.0)
                mongo = True
        return {"kafka": kafka, "mongo": mongo}

    async def start_dependencies(self) -> None:
        """Before the broker starts: topics, database, indexes, state, ops endpoint."""
        await ensure_topics(self.settings)
        client: AsyncMongoClient[Document] = AsyncMongoClient(
            self.settings.resolved_mongo(), tz_aware=True, serverSelectionTimeoutMS=10_000
        )
        runtime = ServiceRuntime(
            self.spec.name,
            self.settings,
            client,
            self._publish,
            clock=self.clock,
            metrics=self.metrics,
        )
        self.attach(runtime)
        self._measure_at_scrape(runtime)
        await runtime.ensure_indexes()
        if self.spec.prepare is not None:
            await self.spec.prepare(runtime)
        self.ops = OpsServer(
            self.settings.http_host,
            self.settings.http_port,
            runtime.metrics.registry,
            self.readiness,
            before_scrape=runtime.metrics.refresh,
        )
        port = await self.ops.start()
        log.info("%s: ops endpoint on http://%s:%d", self.spec.name, self.settings.http_host, port)

    def _measure_at_scrape(self, runtime: ServiceRuntime) -> None:
        metrics = runtime.metrics

        async def backlogs() -> None:
            outbox, ledger = await asyncio.gather(
                runtime.db[OUTBOX].estimated_document_count(),
                runtime.db[PROCESSED].estimated_document_count(),
            )
            metrics.outbox_backlog.set(outbox)
            metrics.ledger_size.set(ledger)

        metrics.on_scrape(backlogs)
        metrics.on_scrape(self._measure_lag)

    async def _measure_lag(self) -> None:
        """Each assigned partition's end offset minus this consumer's position. The end
        is the larger of the broker's answer and the last fetch's high watermark (the
        embedded broker under-reports end offsets)."""
        lags: dict[tuple[str, str], int] = {}
        for subscriber in self.broker.subscribers:
            consumer = getattr(subscriber, "consumer", None)
            if consumer is None:
                continue
            assigned = list(consumer.assignment())
            if not assigned:
                continue
            ends = await consumer.end_offsets(assigned)
            for tp in assigned:
                end = max(ends.get(tp) or 0, consumer.highwater(tp) or 0)
                position = await consumer.position(tp)
                lags[(tp.topic, str(tp.partition))] = max(0, end - position)
        gauge = self.metrics.consumer_lag
        gauge.clear()  # partitions given to another member are no longer ours
        for labels, lag in lags.items():
            gauge.labels(*labels).set(lag)

    def attach(self, runtime: ServiceRuntime) -> None:
        """Use `runtime` to apply what the subscriber receives."""
        self.runtime = runtime
        self.delivery = Delivery(
            self.spec.name,
            runtime,
            self._topic_keys,
            self.spec.handle,
            self._publish_dead_letter,
            max_attempts=self.settings.max_attempts,
            backoff=Backoff(self.settings.retry_base_s, self.settings.retry_cap_s),
        )

    async def start_background(self) -> None:
        assert self.runtime is not None
        runtime = self.runtime
        relay = every(
            RELAY_INTERVAL_S,
            lambda: self._relay(runtime),
            name=f"{self.spec.name}: outbox relay",
            until=runtime.stopping,
            first_delay_s=RELAY_INTERVAL_S,
        )
        self._tasks.append(asyncio.create_task(relay))
        for loop in self.spec.background:
            self._tasks.append(asyncio.create_task(loop(runtime)))

    async def _relay(self, runtime: ServiceRuntime) -> None:
        await runtime.flush_orphans()

    async def drain(self) -> None:
        """Stop fetching, finish the batch in flight, stop the background loops and
        flush this process's outbox; the producer and the Mongo client stay open."""
        if self._drained:
            return
        self._drained = True
        if self.runtime is not None:
            self.runtime.stopping.set()
        for subscriber in self.broker.subscribers:
            await subscriber.stop()
        await self._stop_background()
        if self.runtime is not None:
            try:
                await self.runtime.flush_own_outbox()
            except Exception as exc:
                # Left for the relay of whichever process starts next.
                log.warning("%s: outbox not flushed at shutdown: %s", self.spec.name,
                            describe(exc))  # fmt: skip

    async def _stop_background(self) -> None:
        if not self._tasks:
            return
        _, pending = await asyncio.wait(self._tasks, timeout=BACKGROUND_GRACE_S)
        for task in pending:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(BaseException):
                await task
        self._tasks.clear()

    async def close(self) -> None:
        """Last: the ops endpoint and the Mongo client."""
        if self.ops is not None:
            await self.ops.stop()
            self.ops = None
        if self.runtime is not None:
            await self.runtime.client.close()

    async def stop(self) -> None:
        await self.drain()
        await self.broker.stop()
        await self.close()

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[ServiceRuntime]:
        """Run in-process (tests, the demo); stops in the same order as a process."""
        await self.start_dependencies()
        try:
            await self.broker.start()
            await self.start_background()
            assert self.runtime is not None
            yield self.runtime
        finally:
            await self.stop()


def build_app(spec: ServiceSpec, settings: Settings, clock: Clock | None = None) -> FastStream:
    host = ServiceHost(spec, settings, clock)
    app = FastStream(
        host.broker,
        specification=AsyncAPI(
            title=f"MentorMesh {spec.name}",
            version="1.0.0",
            description=spec.description,
        ),
        on_startup=[host.start_dependencies],
        after_startup=[host.start_background],
        # FastStream runs `on_shutdown` before `broker.stop()` and `after_shutdown`
        # after it: the client must outlive every handler.
        on_shutdown=[host.drain],
        after_shutdown=[host.close],
    )
    return app


def run_service(spec: ServiceSpec) -> None:
    configure_logging(spec.name, os.environ.get("MENTORMESH_LOG_LEVEL", "INFO"))
    logging.getLogger("aiokafka").setLevel(logging.WARNING)
    settings = Settings()
    app = build_app(spec, settings)
    started = datetime.now(UTC).isoformat(timespec="seconds")
    log.info("%s starting at %s (pid %d)", spec.name, started, os.getpid())
    asyncio.run(app.run())
