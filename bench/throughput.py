"""End-to-end throughput and latency of the three services, each a real process on the
local broker and database, at several batch sizes.

For each service and batch size (`MENTORMESH_BATCH_MAX_RECORDS`): a fresh process gets
a warm-up event (so its consumer group has formed), then N events published at once;
the rate is N divided by the time from the first publish to the later of the last
applied event (the ledger's `applied_at`) and the last output record on the service's
topic. Next to it, in the same run: the bare rate of MongoDB bulk-writing the same
documents (every document the service left in its database, copied into a scratch
database with one `insert_many` per collection and batch), and the ratio.

Latency: events published at a steady rate (default 100/s) to one process at the
default batch size; p50/p99 from publish to applied (all services) and from publish
to output (the matcher: a mentee's signup to their `match.proposed`).

Scaling: 1, 2 and 3 matcher processes in one group on one broker, same signups.

Workloads: the matcher gets signups (a quarter mentors); the network and the notifier
get a programme's weeks (profiles, mentorships, sessions, feedback, check-ins).

Run: .venv/bin/python bench/throughput.py [--events 1500] [--batches 1,10,100,500]
     [--rate 100] [--seconds 15] [--services matcher,network,notifier]
     [--skip-batches] [--skip-latency] [--skip-scaling]
(uses MENTORMESH_KAFKA_BOOTSTRAP / MENTORMESH_MONGO_URI if set, otherwise starts the
embedded local stack).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import statistics
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aiokafka import AIOKafkaProducer
from pymongo import AsyncMongoClient

from shared.events import CloudEvent, MatchProposed, ProfileDeleted, make_event, parse_event
from shared.local_stack import LocalStack, free_port
from shared.runtime import OUTBOX, PROCESSED
from shared.scenario import population
from shared.settings import Settings
from tests.foundation.workloads import INPUTS
from tests.notifier.scenario import programme_weeks
from tests.support import (
    Stack,
    fresh_settings,
    publish,
    read_to_end,
    service_process,
    topic_name,
)

OUTPUT_OF = {"matcher": "matches", "network": "introductions", "notifier": "nudges"}
DEFAULT_BATCH = 100


def workload(service: str, size: int, seed: int = 23) -> list[CloudEvent[Any]]:
    if service == "matcher":
        cohort = population(mentees=size - size // 4, mentors=size // 4, seed=seed)
        events = [make_event(p, source="/bench") for p in cohort.everyone]
        random.Random(seed).shuffle(events)
        return events
    history = programme_weeks(mentorships=max(1, size // 8), weeks=8, seed=seed)
    return [e for e in history if e.data.TOPIC in INPUTS[service]][:size]


@dataclass
class Running:
    settings: Settings
    ports: list[int]

    def metric(self, name: str) -> float:
        total = 0.0
        for port in self.ports:
            url = f"http://127.0.0.1:{port}/metrics"
            with urllib.request.urlopen(url, timeout=5) as resp:
                for line in resp.read().decode().splitlines():
                    if line.startswith(name + "{") or line.startswith(name + " "):
                        total += float(line.rsplit(" ", 1)[1])
        return total


@contextlib.contextmanager
def services(
    service: str, settings: Settings, processes: int, batch: int, log_dir: Path
) -> Iterator[Running]:
    ports = [free_port() for _ in range(processes)]
    env = {"MENTORMESH_BATCH_MAX_RECORDS": str(batch), "MENTORMESH_LOG_LEVEL": "WARNING"}
    with contextlib.ExitStack() as stack:
        for i, port in enumerate(ports):
            log = log_dir / f"{service}-{batch}-{i}.log"
            stack.enter_context(
                service_process(service, settings, {**env, "MENTORMESH_HTTP_PORT": str(port)}, log)
            )
        yield Running(settings, ports)


async def wait_applied(
    client: AsyncMongoClient[dict[str, Any]],
    db: str,
    events: Sequence[CloudEvent[Any]],
    timeout: float = 900,
) -> None:
    """Until every one of `events` is in the ledger and the outbox is empty. Polls
    cheaply (a count of the ledger) until the count is there: a filtered count of
    every id on each poll would slow the database down under the service's feet."""
    ids = list({e.id for e in events})
    ledger = client[db][PROCESSED]
    deadline = time.monotonic() + timeout
    while (
        await ledger.estimated_document_count() < len(ids)
        or await ledger.count_documents({"_id": {"$in": ids}}) < len(ids)
        or await client[db][OUTBOX].estimated_document_count() > 0
    ):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{db}: not every event applied in {timeout:.0f} s")
        await asyncio.sleep(0.5)


async def warm_up(
    running: Running, service: str, client: AsyncMongoClient[dict[str, Any]], db: str
) -> None:
    """One event through the service: its consumer group has formed afterwards."""
    probe = make_event(ProfileDeleted(person_id="bench-warm-up"), source="/bench", id="warm-up")
    await publish(running.settings, [probe])
    await wait_applied(client, db, [probe], timeout=120)


async def last_output_time(settings: Settings, service: str) -> float:
    records = await read_to_end(settings, OUTPUT_OF[service])
    return max((r.timestamp / 1000 for r in records), default=0.0)


async def last_applied_time(
    client: AsyncMongoClient[dict[str, Any]], db: str, events: Sequence[CloudEvent[Any]]
) -> float:
    ids = [e.id for e in events]
    latest = await client[db][PROCESSED].find_one({"_id": {"$in": ids}}, sort=[("applied_at", -1)])
    assert latest is not None
    stamp: datetime = latest["applied_at"]
    return stamp.timestamp()


async def bare_bulk_rate(
    client: AsyncMongoClient[dict[str, Any]], db: str, events: int, batch: int
) -> float:
    """Events/s equivalent of bulk-inserting every document the service wrote, in as
    many `insert_many` calls per collection as the service had batches."""
    source = client[db]
    scratch = client["bare_" + uuid.uuid4().hex[:10]]
    names = [n for n in await source.list_collection_names() if not n.startswith("system.")]
    documents = {n: [d async for d in source[n].find()] for n in names}
    chunks = max(1, -(-events // batch))
    try:
        started = time.perf_counter()
        for index in range(chunks):
            for name, docs in documents.items():
                size = -(-len(docs) // chunks)
                part = docs[index * size : (index + 1) * size]
                if part:
                    await scratch[name].insert_many(part, ordered=False)
        elapsed = time.perf_counter() - started
    finally:
        await client.drop_database(scratch.name)
    return events / elapsed


async def end_to_end(
    stack: Stack, service: str, events: list[CloudEvent[Any]], batch: int, processes: int,
    log_dir: Path,
) -> tuple[float, float]:  # fmt: skip
    """(events/s end to end, bare bulk-write events/s of the same documents)."""
    settings = await fresh_settings(stack)
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        settings.resolved_mongo(), tz_aware=True
    )
    db = settings.database_name(service)
    try:
        with services(service, settings, processes, batch, log_dir) as running:
            await warm_up(running, service, client, db)
            started = time.time()
            await publish(settings, events)
            await wait_applied(client, db, events)
        finished = max(
            await last_applied_time(client, db, events), await last_output_time(settings, service)
        )
        rate = len(events) / (finished - started)
        bare = await bare_bulk_rate(client, db, len(events), batch)
        return rate, bare
    finally:
        await client.drop_database(db)
        await client.close()


async def bench_batches(
    stack: Stack, names: Sequence[str], size: int, batches: Sequence[int], log_dir: Path
) -> None:
    print("\n== end to end, one process per service, events/s (bare bulk write, ratio)")
    print(f"{'service':>9} {'events':>7} " + " ".join(f"{'batch ' + str(b):>26}" for b in batches))
    for service in names:
        events = workload(service, size)
        cells = []
        for batch in batches:
            rate, bare = await end_to_end(stack, service, events, batch, 1, log_dir)
            cells.append(f"{rate:7.1f} ({bare:7.0f}, {rate / bare:5.3f})")
        print(f"{service:>9} {len(events):>7} " + " ".join(f"{c:>26}" for c in cells), flush=True)


def _percentiles(values: list[float]) -> str:
    if not values:
        return "n/a"
    ordered = sorted(values)
    p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]
    return f"p50 {1000 * statistics.median(ordered):7.1f} ms  p99 {1000 * p99:7.1f} ms"


async def bench_latency(
    stack: Stack, names: Sequence[str], rate: float, seconds: float, log_dir: Path
) -> None:
    print(f"\n== latency at a steady {rate:.0f} events/s for {seconds:.0f} s "
          f"(batch up to {DEFAULT_BATCH})")  # fmt: skip
    for service in names:
        events = workload(service, int(rate * seconds), seed=31)
        settings = await fresh_settings(stack)
        client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
            settings.resolved_mongo(), tz_aware=True
        )
        db = settings.database_name(service)
        sent_at: dict[str, float] = {}
        try:
            with services(service, settings, 1, DEFAULT_BATCH, log_dir) as running:
                await warm_up(running, service, client, db)
                producer = AIOKafkaProducer(bootstrap_servers=settings.resolved_kafka())
                await producer.start()
                try:
                    began = time.monotonic()
                    for index, event in enumerate(events):
                        await asyncio.sleep(max(0.0, began + index / rate - time.monotonic()))
                        topic = topic_name(settings, event.data.TOPIC)
                        await producer.send_and_wait(topic, event.to_json(), key=event.key)
                        sent_at[event.id] = time.time()
                finally:
                    await producer.stop()
                await wait_applied(client, db, events)
            applied = {
                d["_id"]: d["applied_at"].timestamp()
                async for d in client[db][PROCESSED].find({"_id": {"$in": list(sent_at)}})
            }
            to_applied = [applied[i] - sent_at[i] for i in sent_at]
            line = f"{service:>9}: publish -> applied {_percentiles(to_applied)}"
            if service == "matcher":
                signup_of = {e.data.person_id: e.id for e in events}
                outputs = [
                    (parse_event(r.value, "matches"), r.timestamp / 1000)
                    for r in await read_to_end(settings, "matches")
                ]
                to_output = [
                    at - sent_at[signup_of[e.data.mentee_id]]
                    for e, at in outputs
                    if isinstance(e.data, MatchProposed) and e.data.mentee_id in signup_of
                ]
                line += f"; publish -> match.proposed {_percentiles(to_output)}"
            print(line, flush=True)
        finally:
            await client.drop_database(db)
            await client.close()


async def bench_scaling(stack: Stack, size: int, log_dir: Path) -> None:
    print(f"\n== matcher processes in one group, one broker (batch up to {DEFAULT_BATCH})")
    events = workload("matcher", size)
    first = 0.0
    for processes in (1, 2, 3):
        rate, _ = await end_to_end(stack, "matcher", events, DEFAULT_BATCH, processes, log_dir)
        first = first or rate
        print(f"{processes} process(es): {rate:7.1f} signups/s  (x{rate / first:4.2f})", flush=True)


async def run(args: argparse.Namespace) -> None:
    configured = Settings()
    local: LocalStack | None = None
    if configured.kafka_bootstrap and configured.mongo_uri:
        stack = Stack(configured.kafka_bootstrap, configured.mongo_uri)
    else:
        local = LocalStack(Path(tempfile.mkdtemp(prefix="mentormesh-bench-")))
        state = await local.up()
        stack = Stack(state.kafka_bootstrap, state.mongo_uri)
    log_dir = Path(tempfile.mkdtemp(prefix="mentormesh-bench-logs-"))
    names = args.services.split(",")
    print(f"started {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; service logs in {log_dir}")
    try:
        if not args.skip_batches:
            batches = [int(b) for b in args.batches.split(",")]
            await bench_batches(stack, names, args.events, batches, log_dir)
        if not args.skip_latency:
            await bench_latency(stack, names, args.rate, args.seconds, log_dir)
        if not args.skip_scaling:
            await bench_scaling(stack, 2 * args.events, log_dir)
    finally:
        if local is not None:
            local.down()


def main(argv: Sequence[str] = ()) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1500)
    parser.add_argument("--batches", default="1,10,100,500")
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--services", default="matcher,network,notifier")
    parser.add_argument("--skip-batches", action="store_true")
    parser.add_argument("--skip-latency", action="store_true")
    parser.add_argument("--skip-scaling", action="store_true")
    asyncio.run(run(parser.parse_args(list(argv))))


if __name__ == "__main__":
    main(sys.argv[1:])
