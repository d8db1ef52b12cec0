"""Turning a `ServiceSpec` into a running FastStream application.

One consumer per service reads all its input topics in the service's consumer
group. Offsets are committed only after an event was applied (or dead-lettered):
`AckPolicy.NACK_ON_ERROR` acks after the handler returns and seeks back on an
exception, so nothing is committed before the work is done.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import traceback
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError
from faststream import AckPolicy, FastStream
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from faststream.message import StreamMessage
from faststream.specification import AsyncAPI
from pymongo import AsyncMongoClient
from pymongo.errors import ConnectionFailure, PyMongoError

from shared.clock import Clock, SystemClock
from shared.dead_letter import Rejection
from shared.events import TopicKey, parse_event
from shared.http import OpsServer
from shared.runtime import Document, ServiceRuntime, ServiceSpec
from shared.settings import Settings
from shared.topics import Topics, dead_letter_topic

log = logging.getLogger("mentormesh")

# A handler that raises is retried this many times (each a redelivery from Kafka)
# before the event is dead-lettered as `handler-error`, so one poison message
# cannot stall a partition; infrastructure outages are retried without limit.
MAX_HANDLER_ATTEMPTS = 3
RELAY_INTERVAL_S = 5.0


def group_id(settings: Settings, service: str) -> str:
    if settings.topic_prefix == "mentormesh":
        return service
    return f"{settings.topic_prefix}.{service}"


async def ensure_topics(settings: Settings) -> None:
    """Create every topic with the configured partition count (Tansu would
    auto-create 4 partitions, Apache Kafka 1: be explicit so both behave alike)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.resolved_kafka())
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [t for t in Topics(settings.topic_prefix).all() if t not in existing]
        if missing:
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(
                    [NewTopic(t, settings.partitions, 1) for t in missing], timeout_ms=10_000
                )
    finally:
        await admin.close()


async def _raw_body(msg: StreamMessage[Any]) -> bytes:
    # Validation is ours: FastStream must not try to decode the body first, or a
    # message that is not JSON would fail before it can be dead-lettered.
    return bytes(msg.body)


def _transient(exc: BaseException) -> bool:
    if isinstance(exc, ConnectionFailure | KafkaError | TimeoutError | OSError):
        return True
    return isinstance(exc, PyMongoError) and exc.has_error_label("TransientTransactionError")


class ServiceHost:
    """Owns the broker, the Mongo client and the ops endpoint of one service."""

    def __init__(self, spec: ServiceSpec, settings: Settings, clock: Clock | None = None) -> None:
        self.spec = spec
        self.settings = settings
        self.clock = clock or SystemClock()
        self.topics = Topics(settings.topic_prefix)
        self.broker = KafkaBroker(
            settings.resolved_kafka(),
            client_id=f"mentormesh-{spec.name}",
            enable_idempotence=False,  # Tansu rejects InitProducerId
            acks="all",
            # FastStream logs every message at this level: keep that out of INFO.
            log_level=logging.DEBUG,
        )
        self._topic_keys: dict[str, TopicKey] = {getattr(self.topics, k): k for k in spec.inputs}
        self._attempts: dict[tuple[str, int, int], int] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self.runtime: ServiceRuntime | None = None
        self.ops: OpsServer | None = None
        self._subscribe()

    def _subscribe(self) -> None:
        subscriber = self.broker.subscriber(
            *self._topic_keys,
            group_id=group_id(self.settings, self.spec.name),
            auto_offset_reset="earliest",
            ack_policy=AckPolicy.NACK_ON_ERROR,
            decoder=_raw_body,
            max_poll_records=200,
            description=self.spec.description or None,
        )
        subscriber(self._on_message)
        for key in self.spec.outputs:
            self.broker.publisher(getattr(self.topics, key), title=f"{self.spec.name}:{key}")
        for topic in self._topic_keys:
            self.broker.publisher(
                dead_letter_topic(topic),
                title=f"{self.spec.name}:{topic}.dlq",
                description=(
                    f"Messages from {topic} that {self.spec.name} could not apply, unchanged, "
                    "with headers x-mentormesh-error (not-json, not-cloudevent, unknown-type, "
                    "wrong-topic, invalid-data, handler-error), x-mentormesh-error-detail, "
                    "x-mentormesh-service and the source topic, partition and offset."
                ),
            )

    async def _publish(self, topic: str, key: bytes, value: bytes, headers: dict[str, str]) -> None:
        await self.broker.publish(value, topic, key=key, headers=headers)

    async def _on_message(self, msg: KafkaMessage) -> None:
        assert self.runtime is not None
        record = msg.raw_message
        assert not isinstance(record, tuple)
        topic, partition, offset = record.topic, record.partition, record.offset
        body = bytes(msg.body)
        metrics = self.runtime.metrics
        try:
            event = parse_event(body, self._topic_keys[topic])
        except ValueError as exc:
            reason = getattr(exc, "reason", "invalid-data")
            await self._dead_letter(msg, Rejection(reason, getattr(exc, "detail", str(exc))))
            return
        position = (topic, partition, offset)
        started = asyncio.get_running_loop().time()
        try:
            applied = await self.runtime.run_once(
                event.id,
                event.time.astimezone(UTC),
                lambda uow: self.spec.handle(uow, event),
            )
        except Exception as exc:
            if _transient(exc):
                metrics.retries.labels(topic).inc()
                log.warning("%s: transient failure, will retry: %s", self.spec.name, exc)
                await asyncio.sleep(1.0)
                raise
            attempts = self._attempts.get(position, 0) + 1
            self._attempts[position] = attempts
            if attempts < MAX_HANDLER_ATTEMPTS:
                metrics.retries.labels(topic).inc()
                log.exception("%s: handler failed (attempt %d)", self.spec.name, attempts)
                raise
            self._attempts.pop(position, None)
            detail = "".join(traceback.format_exception_only(exc)).strip()
            await self._dead_letter(msg, Rejection("handler-error", detail))
            return
        self._attempts.pop(position, None)
        metrics.handle_seconds.labels(topic).observe(asyncio.get_running_loop().time() - started)
        if applied:
            metrics.consumed.labels(topic, event.type).inc()
        else:
            metrics.duplicates.labels(topic).inc()

    async def _dead_letter(self, msg: KafkaMessage, rejection: Rejection) -> None:
        assert self.runtime is not None
        record = msg.raw_message
        assert not isinstance(record, tuple)
        original = {k: v.decode(errors="replace") for k, v in (record.headers or ())}
        headers = rejection.headers(
            self.spec.name, record.topic, record.partition, record.offset, original
        )
        await self.broker.publish(
            bytes(msg.body), dead_letter_topic(record.topic), key=record.key, headers=headers
        )
        self.runtime.metrics.dead_lettered.labels(record.topic, rejection.reason).inc()
        log.warning(
            "%s: dead-lettered %s[%d]@%d: %s: %s",
            self.spec.name, record.topic, record.partition, record.offset,
            rejection.reason, rejection.detail,
        )  # fmt: skip

    async def readiness(self) -> dict[str, bool]:
        kafka = await self.broker.ping(timeout=2.0)
        mongo = False
        if self.runtime is not None:
            with contextlib.suppress(Exception):
                await self.runtime.client.admin.command("ping")
                mongo = True
        return {"kafka": kafka, "mongo": mongo}

    async def start_dependencies(self) -> None:
        """Before the broker starts: topics, database, indexes, state, ops endpoint."""
        await ensure_topics(self.settings)
        client: AsyncMongoClient[Document] = AsyncMongoClient(
            self.settings.resolved_mongo(), tz_aware=True, serverSelectionTimeoutMS=10_000
        )
        self.runtime = ServiceRuntime(
            self.spec.name, self.settings, client, self._publish, clock=self.clock
        )
        await self.runtime.ensure_indexes()
        if self.spec.prepare is not None:
            await self.spec.prepare(self.runtime)
        self.ops = OpsServer(
            self.settings.http_host,
            self.settings.http_port,
            self.runtime.metrics.registry,
            self.readiness,
        )
        port = await self.ops.start()
        log.info("%s: ops endpoint on http://%s:%d", self.spec.name, self.settings.http_host, port)

    async def start_background(self) -> None:
        assert self.runtime is not None
        runtime = self.runtime
        self._tasks.append(asyncio.create_task(self._relay_outbox(runtime)))
        for loop in self.spec.background:
            self._tasks.append(asyncio.create_task(loop(runtime)))

    async def _relay_outbox(self, runtime: ServiceRuntime) -> None:
        while True:
            try:
                await runtime.flush_orphans()
            except Exception:
                log.exception("%s: outbox relay failed", self.spec.name)
            await asyncio.sleep(RELAY_INTERVAL_S)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(BaseException):
                await task
        self._tasks.clear()
        if self.ops is not None:
            await self.ops.stop()
        if self.runtime is not None:
            await self.runtime.client.close()

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[ServiceRuntime]:
        """Run in-process (tests, the demo); stops cleanly on exit."""
        await self.start_dependencies()
        try:
            await self.broker.start()
            await self.start_background()
            assert self.runtime is not None
            yield self.runtime
        finally:
            await self.broker.stop()
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
        on_shutdown=[host.stop],
    )
    return app


def run_service(spec: ServiceSpec) -> None:
    logging.basicConfig(
        level=os.environ.get("MENTORMESH_LOG_LEVEL", "INFO"),
        format=f"%(asctime)s {spec.name}[%(process)d] %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("aiokafka").setLevel(logging.WARNING)
    settings = Settings()
    app = build_app(spec, settings)
    started = datetime.now(UTC).isoformat(timespec="seconds")
    log.info("%s starting at %s (pid %d)", spec.name, started, os.getpid())
    asyncio.run(app.run())
