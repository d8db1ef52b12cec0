"""Reading and writing topics from the command line, without a consumer group: the
tools look at what the services see and never move the services' offsets."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import TypeAlias

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition

from shared.settings import Settings

Record: TypeAlias = ConsumerRecord[bytes, bytes]


@dataclass(frozen=True)
class Outgoing:
    topic: str
    key: bytes | None
    value: bytes
    headers: Sequence[tuple[str, bytes]] = ()


async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> list[TopicPartition]:
    known = consumer.partitions_for_topic(topic)
    if not known:
        # Metadata may lag right after the topic was created.
        await consumer.topics()
        known = consumer.partitions_for_topic(topic) or set()
    return [TopicPartition(topic, p) for p in sorted(known)]


async def read_to_end(settings: Settings, topic: str) -> list[Record]:
    """Every record the topic holds now, partition by partition in offset order."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.resolved_kafka(), enable_auto_commit=False
    )
    await consumer.start()
    records: list[Record] = []
    try:
        partitions = await _partitions(consumer, topic)
        if not partitions:
            return []
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        pending = {tp for tp in partitions if ends[tp] > 0}
        while pending:
            batch = await consumer.getmany(*pending, timeout_ms=500)
            for tp, part in batch.items():
                records.extend(part)
                if part and part[-1].offset + 1 >= ends[tp]:
                    pending.discard(tp)
    finally:
        await consumer.stop()
    return sorted(records, key=lambda r: (r.partition, r.offset))


async def follow(
    settings: Settings, topic: str, *, from_beginning: bool, idle_timeout: float | None = None
) -> AsyncIterator[Record]:
    """Records as they arrive (after those already there if `from_beginning`); ends
    after `idle_timeout` seconds without a record, or never."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.resolved_kafka(), enable_auto_commit=False
    )
    await consumer.start()
    try:
        partitions = await _partitions(consumer, topic)
        consumer.assign(partitions)
        if from_beginning:
            await consumer.seek_to_beginning(*partitions)
        else:
            await consumer.seek_to_end(*partitions)
        last = time.monotonic()
        while idle_timeout is None or time.monotonic() - last < idle_timeout:
            batch = await consumer.getmany(timeout_ms=200)
            for part in batch.values():
                for record in part:
                    last = time.monotonic()
                    yield record
    finally:
        await consumer.stop()


async def publish(settings: Settings, records: Sequence[Outgoing]) -> int:
    """Send in order and wait for every acknowledgement."""
    producer = AIOKafkaProducer(bootstrap_servers=settings.resolved_kafka(), acks="all")
    await producer.start()
    try:
        for record in records:
            await producer.send_and_wait(
                record.topic, record.value, key=record.key, headers=list(record.headers)
            )
    finally:
        await producer.stop()
    return len(records)
