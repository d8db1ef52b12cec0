"""The embedded broker's two storage engines, measured side by side in one run.

memory   Tansu keeps topics and committed offsets in memory (gone when it stops);
durable  Tansu's `s3://` engine on a SeaweedFS object store on local disk.

For each, on a stack of its own (aiokafka client, 100-byte keyed messages, a topic
of 4 partitions):
  stack up         `LocalStack.up()`: broker, database (and object store) answering;
  produce          pipelined sends with acks=all, then one flush;
  produce awaited  one send at a time, each awaited (a publish round trip);
  consume          a consumer group reading everything, from its first record on;
  group join       a new group's first assignment (median of 3 groups);
  commit           offset commits, each awaited;
  restart          SIGKILL of the broker until it answers again, and what it kept.
The ratio column is durable / memory for rates, memory / durable for times, so below
1 means the durable engine is slower.

Run: .venv/bin/python bench/broker_storage.py [--messages 20000] [--awaited 500]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from shared.local_stack import BrokerStorage, LocalStack

TOPIC = "bench"
PARTITIONS = 4
PAYLOAD = b"x" * 100


@dataclass
class Figures:
    up_s: float
    produce: float
    produce_awaited: float
    consume: float
    join_s: float
    commits: float
    restart_s: float
    kept_messages: int
    kept_offsets: int


async def _produce(bootstrap: str, count: int) -> float:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    await producer.start()
    try:
        started = time.perf_counter()
        pending = [await producer.send(TOPIC, PAYLOAD, key=str(i).encode()) for i in range(count)]
        await asyncio.gather(*pending)
        return count / (time.perf_counter() - started)
    finally:
        await producer.stop()


async def _produce_awaited(bootstrap: str, count: int) -> float:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        started = time.perf_counter()
        for i in range(count):
            await producer.send_and_wait(TOPIC, PAYLOAD, key=str(i).encode())
        return count / (time.perf_counter() - started)
    finally:
        await producer.stop()


def _group_consumer(bootstrap: str, group: str) -> AIOKafkaConsumer:
    return AIOKafkaConsumer(
        TOPIC,
        bootstrap_servers=bootstrap,
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        max_poll_records=2000,
    )


async def _consume(bootstrap: str, count: int) -> float:
    """From the first record fetched to the last (the group's join is measured apart)."""
    consumer = _group_consumer(bootstrap, "bench-consume")
    await consumer.start()
    try:
        seen, started = 0, 0.0
        while seen < count:
            batch = await consumer.getmany(timeout_ms=500)
            if batch and not seen:
                started = time.perf_counter()
            seen += sum(len(records) for records in batch.values())
        await consumer.commit()
        return count / (time.perf_counter() - started)
    finally:
        await consumer.stop()


async def _join(bootstrap: str, group: str) -> float:
    consumer = _group_consumer(bootstrap, group)
    started = time.perf_counter()
    await consumer.start()
    try:
        while not consumer.assignment():
            await consumer.getmany(timeout_ms=100)
        return time.perf_counter() - started
    finally:
        await consumer.stop()


async def _commits(bootstrap: str, count: int) -> float:
    consumer = _group_consumer(bootstrap, "bench-commit")
    await consumer.start()
    try:
        while not consumer.assignment():
            await consumer.getmany(timeout_ms=100)
        part = sorted(consumer.assignment(), key=lambda tp: tp.partition)[0]
        started = time.perf_counter()
        for offset in range(count):
            await consumer.commit({part: offset + 1})
        return count / (time.perf_counter() - started)
    finally:
        await consumer.stop()


async def _kept(bootstrap: str) -> tuple[int, int]:
    """Messages readable from the beginning, and offsets committed by the consume group."""
    reader = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await reader.start()
    try:
        parts = [TopicPartition(TOPIC, p) for p in range(PARTITIONS)]
        if TOPIC not in await reader.topics():
            return 0, 0
        reader.assign(parts)
        await reader.seek_to_beginning(*parts)
        messages, idle_since = 0, time.monotonic()
        while time.monotonic() - idle_since < 2.0:
            batch = await reader.getmany(timeout_ms=300, max_records=5000)
            if batch:
                messages += sum(len(records) for records in batch.values())
                idle_since = time.monotonic()
    finally:
        await reader.stop()
    group = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id="bench-consume", enable_auto_commit=False
    )
    await group.start()
    try:
        committed = [await group.committed(tp) for tp in parts]
        return messages, sum(c or 0 for c in committed)
    finally:
        await group.stop()


async def measure(storage: BrokerStorage, messages: int, awaited: int) -> Figures:
    stack = LocalStack(Path(tempfile.mkdtemp(prefix=f"mentormesh-bench-{storage}-")),
                       broker_storage=storage)  # fmt: skip
    started = time.perf_counter()
    state = await stack.up()
    up_s = time.perf_counter() - started
    bootstrap = state.kafka_bootstrap
    try:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        await admin.create_topics([NewTopic(TOPIC, PARTITIONS, 1)])
        await admin.close()
        produce = await _produce(bootstrap, messages)
        produce_awaited = await _produce_awaited(bootstrap, awaited)
        consume = await _consume(bootstrap, messages + awaited)
        join_s = statistics.median([await _join(bootstrap, f"bench-join-{i}") for i in range(3)])
        commits = await _commits(bootstrap, awaited)
        started = time.perf_counter()
        await stack.restart_broker(kill=True)
        restart_s = time.perf_counter() - started
        kept_messages, kept_offsets = await _kept(bootstrap)
    finally:
        stack.down()
    return Figures(up_s, produce, produce_awaited, consume, join_s, commits, restart_s,
                   kept_messages, kept_offsets)  # fmt: skip


ROWS = (
    ("stack up (s)", "up_s"),
    ("produce, pipelined (msg/s)", "produce"),
    ("produce, each awaited (msg/s)", "produce_awaited"),
    ("consume, one group (msg/s)", "consume"),
    ("group join, median of 3 (s)", "join_s"),
    ("offset commits, awaited (/s)", "commits"),
    ("restart after SIGKILL (s)", "restart_s"),
)


def report(memory: Figures, durable: Figures, messages: int, awaited: int) -> None:
    print(f"\n{'':32s}{'memory':>12s}{'durable':>12s}{'ratio':>8s}")
    for label, name in ROWS:
        mem, dur = getattr(memory, name), getattr(durable, name)
        seconds = name.endswith("_s")
        ratio, shown = (mem / dur, ".2f") if seconds else (dur / mem, ".0f")
        print(f"{label:32s}{mem:>12{shown}}{dur:>12{shown}}{ratio:>8.2f}")
    for label, name in (("messages", "kept_messages"), ("offsets", "kept_offsets")):
        mem, dur = getattr(memory, name), getattr(durable, name)
        print(f"{'after the restart: ' + label:32s}{mem:>12d}{dur:>12d}   of {messages + awaited}")


async def run(messages: int, awaited: int) -> None:
    print(f"embedded broker storage: {messages} pipelined + {awaited} awaited messages of "
          f"{len(PAYLOAD)} B, {PARTITIONS} partitions")  # fmt: skip
    memory = await measure(BrokerStorage.MEMORY, messages, awaited)
    durable = await measure(BrokerStorage.DURABLE, messages, awaited)
    report(memory, durable, messages, awaited)


def main(argv: Sequence[str] = ()) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--awaited", type=int, default=500)
    args = parser.parse_args(argv)
    asyncio.run(run(args.messages, args.awaited))


if __name__ == "__main__":
    main(sys.argv[1:])
