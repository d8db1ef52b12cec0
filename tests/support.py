"""Test support: the real broker and database, fresh isolated topics, and ways to
publish, read back and run services in-process or as processes."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from pymongo import AsyncMongoClient

from shared.clock import Clock
from shared.events import CloudEvent, TopicKey, parse_event
from shared.runtime import PROCESSED, ServiceRuntime, ServiceSpec
from shared.service import ServiceHost, ensure_topics, group_id
from shared.settings import Settings
from shared.topics import Topics

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Stack:
    kafka_bootstrap: str
    mongo_uri: str
    # The embedded broker unless said otherwise: it needs the producer not idempotent
    # (`Settings.kafka_embedded`).
    embedded: bool = True
    # A one-broker cluster (the test containers) holds one replica of each topic.
    single_broker: bool = False

    def settings(self, **overrides: Any) -> Settings:
        base: dict[str, Any] = {"kafka_embedded": self.embedded}
        if self.single_broker:
            base.update(topic_replication_factor=1, topic_min_insync_replicas=1)
        return Settings(
            kafka_bootstrap=self.kafka_bootstrap,
            mongo_uri=self.mongo_uri,
            **{**base, **overrides},
        )


async def fresh_settings(stack: Stack, **overrides: Any) -> Settings:
    """Settings with their own topics and databases, so tests never see each other."""
    tag = "t" + uuid.uuid4().hex[:10]
    settings = stack.settings(topic_prefix=tag, database_prefix=tag, **overrides)
    await ensure_topics(settings)
    return settings


def topic_name(settings: Settings, key: str) -> str:
    if key.endswith(".dlq"):
        return str(getattr(Topics(settings.topic_prefix), key.removesuffix(".dlq"))) + ".dlq"
    return str(getattr(Topics(settings.topic_prefix), key))


async def publish(
    settings: Settings,
    events: Iterable[CloudEvent[Any] | tuple[str, bytes | None, bytes]],
) -> int:
    """Publish CloudEvents to their topics (keyed by their partition key), or raw
    `(topic_key, key, value)` triples such as malformed messages."""
    producer = AIOKafkaProducer(bootstrap_servers=settings.resolved_kafka(), acks="all")
    await producer.start()
    count = 0
    try:
        batch = []
        for item in events:
            if isinstance(item, CloudEvent):
                topic = topic_name(settings, item.data.TOPIC)
                batch.append(await producer.send(topic, item.to_json(), key=item.key))
            else:
                topic_key, key, value = item
                batch.append(await producer.send(topic_name(settings, topic_key), value, key=key))
            count += 1
            if len(batch) >= 500:
                await asyncio.gather(*batch)
                batch.clear()
        await asyncio.gather(*batch)
    finally:
        await producer.stop()
    return count


@contextlib.asynccontextmanager
async def from_the_beginning(
    settings: Settings, topic_key: str
) -> AsyncIterator[tuple[AIOKafkaConsumer, list[TopicPartition]]]:
    """A consumer outside any group on every partition of a topic, at its start."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.resolved_kafka(), enable_auto_commit=False
    )
    await consumer.start()
    try:
        topic = topic_name(settings, topic_key)
        partitions = [TopicPartition(topic, p) for p in range(settings.partitions)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        yield consumer, partitions
    finally:
        await consumer.stop()


async def read_records(
    settings: Settings,
    topic_key: str,
    done: Callable[[list[ConsumerRecord[bytes, bytes]]], bool],
    timeout: float = 60.0,
) -> list[ConsumerRecord[bytes, bytes]]:
    """Read a topic from the beginning (no consumer group) until `done(records)`."""
    records: list[ConsumerRecord[bytes, bytes]] = []
    async with from_the_beginning(settings, topic_key) as (consumer, _):
        deadline = time.monotonic() + timeout
        while not done(records):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{topic_key}: condition not met after {len(records)} records")
            batch = await consumer.getmany(timeout_ms=200)
            for part in batch.values():
                records.extend(part)
    return records


async def read_to_end(
    settings: Settings, topic_key: str, timeout: float = 60.0
) -> list[ConsumerRecord[bytes, bytes]]:
    """Every record of a topic: each partition read from its beginning up to the end
    offset it has when this is called. Call it once the services are quiet, and compare
    the whole set: a claim of "exactly these and nothing else" needs all of it."""
    records: list[ConsumerRecord[bytes, bytes]] = []
    async with from_the_beginning(settings, topic_key) as (consumer, partitions):
        ends = await consumer.end_offsets(partitions)
        deadline = time.monotonic() + timeout
        # Past the reported end offsets, until a fetch comes back empty: the embedded
        # broker (Tansu 0.6) reports the end of a topic as the last batch's base offset
        # + 1, which can be short of the last record.
        while True:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{topic_key}: end offsets not reached after {len(records)}")
            batch = await consumer.getmany(*partitions, timeout_ms=300)
            for part in batch.values():
                records.extend(part)
            if not batch and not [p for p in partitions if await consumer.position(p) < ends[p]]:
                break
    return records


async def read_events_to_end(
    settings: Settings, topic_key: TopicKey, timeout: float = 60.0
) -> list[CloudEvent[Any]]:
    """`read_to_end` of a MentorMesh output topic, parsed."""
    return [
        parse_event(r.value, topic_key) for r in await read_to_end(settings, topic_key, timeout)
    ]


async def consume_until(
    settings: Settings,
    topic_key: TopicKey,
    predicate: Callable[[list[CloudEvent[Any]]], bool],
    timeout: float = 60.0,
) -> list[CloudEvent[Any]]:
    """Read a MentorMesh output topic from the start until `predicate(events)`."""
    events: list[CloudEvent[Any]] = []

    def done(records: list[ConsumerRecord[bytes, bytes]]) -> bool:
        events[:] = [parse_event(r.value, topic_key) for r in records]
        return predicate(events)

    await read_records(settings, topic_key, done, timeout)
    return events


async def consumer_group(settings: Settings, service: str) -> tuple[str, int]:
    """The state of a service's consumer group ("Stable" once a rebalance is over) and
    how many members it has."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.resolved_kafka())
    await admin.start()
    try:
        (reply,) = await admin.describe_consumer_groups([group_id(settings, service)])
        (group,) = reply.to_object()["groups"]
        return str(group["state"]), len(group["members"])
    finally:
        await admin.close()


async def wait_for(check: Callable[[], Any], timeout: float = 60.0, interval: float = 0.2) -> None:
    """Wait until an async `check()` returns a truthy value."""
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met in time")
        await asyncio.sleep(interval)


async def wait_while_moving(
    check: Callable[[], Any], progress: Callable[[], Any], stall_s: float, interval: float = 0.5
) -> None:
    """Wait until an async `check()` returns a truthy value, failing only once the
    async `progress()` has given the same value for `stall_s`: a slow machine is not
    a stalled service."""
    seen, moved_at = await progress(), time.monotonic()
    while not await check():
        now = await progress()
        if now != seen:
            seen, moved_at = now, time.monotonic()
        elif time.monotonic() - moved_at > stall_s:
            raise TimeoutError(f"no progress for {stall_s:.0f} s, stuck at {seen!r}")
        await asyncio.sleep(interval)


@contextlib.asynccontextmanager
async def running_service(
    spec: ServiceSpec, settings: Settings, clock: Clock | None = None
) -> AsyncIterator[ServiceRuntime]:
    async with ServiceHost(spec, settings, clock).running() as runtime:
        yield runtime


def env_without_settings() -> dict[str, str]:
    """This process's environment minus any MENTORMESH_* setting, so a command under
    test configures itself (e.g. starts its own stack) rather than inheriting ours."""
    return {k: v for k, v in os.environ.items() if not k.startswith("MENTORMESH_")}


def service_env(settings: Settings, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "MENTORMESH_KAFKA_BOOTSTRAP": settings.resolved_kafka(),
            "MENTORMESH_MONGO_URI": settings.resolved_mongo(),
            "MENTORMESH_TOPIC_PREFIX": settings.topic_prefix,
            "MENTORMESH_DATABASE_PREFIX": settings.database_prefix,
            "MENTORMESH_PARTITIONS": str(settings.partitions),
            "MENTORMESH_KAFKA_EMBEDDED": str(settings.on_embedded_broker()).lower(),
            "MENTORMESH_TOPIC_REPLICATION_FACTOR": str(settings.topic_replication_factor),
            "MENTORMESH_TOPIC_MIN_INSYNC_REPLICAS": str(settings.topic_min_insync_replicas),
            "MENTORMESH_LOG_LEVEL": "WARNING",
        }
    )
    env.update(extra)
    return env


@contextlib.contextmanager
def service_process(
    name: str, settings: Settings, env: dict[str, str] | None = None, log: Path | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """`python -m services.<name>` as its own process; stopped by its PID."""
    out = log.open("ab") if log else subprocess.DEVNULL
    proc = subprocess.Popen(
        [sys.executable, "-m", f"services.{name}"],
        cwd=ROOT,
        env=service_env(settings, **(env or {})),
        stdout=out,
        stderr=subprocess.STDOUT,
    )
    try:
        yield proc
    finally:
        stop_process(proc)


def stop_process(proc: subprocess.Popen[bytes], timeout: float = 15.0) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def mongo_client(settings: Settings) -> AsyncMongoClient[dict[str, Any]]:
    return AsyncMongoClient(settings.resolved_mongo(), tz_aware=True)


# Ids per ledger query: the embedded database re-checks each document it finds against
# the whole `$in` list, so one query of n ids costs n² comparisons. Thousands of ids
# polled twice a second outweighed the services' own work under test.
LEDGER_SLICE = 200


async def in_ledger(settings: Settings, service: str, ids: Iterable[str]) -> bool:
    """Whether the service has applied (committed) every one of these CloudEvent ids.
    Newest ids first, stopping at the first slice with a gap, so a poll while work is
    under way costs one small query."""
    wanted = list(dict.fromkeys(ids))
    client = mongo_client(settings)
    try:
        ledger = client[settings.database_name(service)][PROCESSED]
        if await ledger.estimated_document_count() < len(wanted):
            return False
        for end in range(len(wanted), 0, -LEDGER_SLICE):
            batch = wanted[max(0, end - LEDGER_SLICE) : end]
            if await ledger.count_documents({"_id": {"$in": batch}}) < len(batch):
                return False
        return True
    finally:
        await client.close()


def dead_letters(records: Sequence[ConsumerRecord[bytes, bytes]]) -> list[dict[str, str]]:
    """The headers of dead-lettered records, decoded."""
    return [{k: v.decode() for k, v in (r.headers or ())} for r in records]
