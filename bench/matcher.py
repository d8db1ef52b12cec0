"""Matcher benchmark: ranking one mentee against 1k, 10k and 100k mentors (domain code
alone), and the signups per second the matcher service sustains on the local broker
and database. Then the cohort solver's benchmark (bench/matcher_solve.py), if present.

Ranking: the vectorised `MentorIndex` (sparse tag matrices + numpy) against a naive
pure-Python ranking of the same model (hard constraints, then the score of every
allowed mentor), both run here on the same people; the ratio is naive / vectorised.

Service throughput: the same signups applied (a) by the handlers on the in-memory store
(the domain's own cost: ranking, rules, moves; no database); (b) through the runtime's
`apply_batch` on MongoDB (transaction, ledger, outbox; no Kafka) in batches of 1, 10,
100 and 500, next to the baseline of the same run: the store as it was before batches
(every read and write its own round trip, one event per transaction), and next to the
bare rate of bulk-writing the documents the run left (one `insert_many` per collection
and batch), as a ratio; (c) the running service consuming them from Kafka, its rate
measured between the first and the last applied event (the consumer group's join time
is left out). `bench/throughput.py` measures the service end to end per batch size.

Run: .venv/bin/python bench/matcher.py [--sizes 1000,10000,100000] [--mentees 600]
     [--mentors 200] [--batches 1,10,100,500] [--skip-service] [--skip-solve]
(uses MENTORMESH_KAFKA_BOOTSTRAP / MENTORMESH_MONGO_URI if set, otherwise starts the
embedded local stack).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import logging
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pymongo import AsyncMongoClient

from bench.throughput import bare_bulk_rate
from services.matcher.constraints import allowed
from services.matcher.handlers import MatcherHandlers
from services.matcher.main import MatcherSettings, MongoStores, build_spec, matcher_spec
from services.matcher.policy import COMPONENTS, MatchingPolicy, policy_book
from services.matcher.profiles import MentorStanding, Person
from services.matcher.ranking import MentorIndex
from services.matcher.repository import MongoMatcherStore
from services.matcher.scoring import component_values
from shared.events import CloudEvent, make_event
from shared.local_stack import LocalStack
from shared.runtime import ServiceRuntime, Unit, UnitOfWork
from shared.scenario import population
from shared.service import ServiceHost, ensure_topics
from shared.settings import Settings
from shared.topics import Topics

PROGRAMME = "default"


# --- ranking ----------------------------------------------------------------------------


def naive_rank(mentee: Person, mentors: Sequence[Person], policy: MatchingPolicy) -> str | None:
    """The baseline: a Python loop over every mentor, same constraints and score."""
    weights = policy.weights.as_dict()
    total = policy.weights.total()
    standing = MentorStanding()
    best: tuple[float, str] | None = None
    for mentor in mentors:
        if not allowed(mentee, mentor, PROGRAMME, policy):
            continue
        values = component_values(mentee, mentor, policy, standing)
        score = sum(weights[name] * values[name] / total for name in COMPONENTS)
        if best is None or (-score, mentor.person_id) < (-best[0], best[1]):
            best = (score, mentor.person_id)
    return None if best is None else best[1]


def bench_ranking(sizes: Sequence[int]) -> None:
    print("== ranking one mentee (domain code alone)")
    policy = MatchingPolicy()
    largest = max(sizes)
    cohort = population(mentees=30, mentors=largest, seed=17)
    everyone = [Person.from_profile(p) for p in cohort.mentors]
    mentees = [Person.from_profile(p) for p in cohort.mentees]
    print(
        f"{'mentors':>8} {'build ms':>9} {'rank ms':>8} {'p95 ms':>7} {'naive ms':>9} {'ratio':>7}"
    )
    for size in sizes:
        mentors = everyone[:size]
        started = time.perf_counter()
        index = MentorIndex(mentors, policy)
        build_ms = 1000 * (time.perf_counter() - started)
        timings = []
        for mentee in mentees:
            started = time.perf_counter()
            ranked = index.rank(mentee, PROGRAMME, limit=1)
            timings.append(1000 * (time.perf_counter() - started))
        naive_timings = []
        for mentee in mentees[:3]:
            started = time.perf_counter()
            expected = naive_rank(mentee, mentors, policy)
            naive_timings.append(1000 * (time.perf_counter() - started))
            ranked = index.rank(mentee, PROGRAMME, limit=1)
            got = ranked[0].mentor.person_id if ranked else None
            assert got == expected, f"vectorised chose {got}, naive chose {expected}"
        median = statistics.median(timings)
        p95 = sorted(timings)[int(0.95 * (len(timings) - 1))]
        naive = statistics.median(naive_timings)
        print(
            f"{size:>8} {build_ms:>9.1f} {median:>8.2f} {p95:>7.2f} {naive:>9.1f}"
            f" {naive / median:>6.0f}x"
        )
    print("(rank: median over 30 mentees; naive: median over 3; same best mentor checked)")


# --- service throughput ---------------------------------------------------------------


def signups(mentees: int, mentors: int) -> list[CloudEvent[Any]]:
    cohort = population(mentees=mentees, mentors=mentors, seed=23)
    events = [make_event(p, source="/bench") for p in cohort.everyone]
    random.Random(5).shuffle(events)
    return events


async def applied_rate(client: AsyncMongoClient[dict[str, Any]], database: str) -> float:
    """Events per second between the first and the last applied one."""
    ledger = client[database]["processed_events"]
    times = [doc["applied_at"] async for doc in ledger.find({}, {"applied_at": 1})]
    span = (max(times) - min(times)).total_seconds()
    return (len(times) - 1) / span if span > 0 else float("nan")


class WriteThroughStores(MongoStores):
    """The store as it was before batches: every read and write its own round trip."""

    def bound(self, unit: UnitOfWork) -> MongoMatcherStore:
        return MongoMatcherStore(unit.db, unit.session, self.pseudonyms)


async def direct(
    settings: Settings, events: list[CloudEvent[Any]], batch: int, *, write_through: bool = False
) -> tuple[float, float]:
    """(signups/s applied in batches of `batch` through the runtime, no Kafka; the bare
    bulk-write rate of the same documents)."""
    stores = (WriteThroughStores if write_through else MongoStores)(settings.pseudonyms())
    matcher = MatcherHandlers(policy_book(settings.programmes_dir), stores)
    spec = matcher_spec(matcher, stores, MatcherSettings())
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        settings.resolved_mongo(), tz_aware=True
    )

    async def publisher(topic: str, key: bytes, value: bytes, headers: dict[str, str]) -> None:
        return None

    runtime = ServiceRuntime("matcher", settings, client, publisher)
    database = settings.database_name("matcher")
    try:
        await runtime.ensure_indexes()
        assert spec.prepare is not None
        await spec.prepare(runtime)

        def work(event: CloudEvent[Any]) -> Callable[[UnitOfWork], Awaitable[None]]:
            return lambda uow: spec.handle(uow, event)

        started = time.perf_counter()
        for start in range(0, len(events), batch):
            units = [Unit(e.id, e.time, work(e), e) for e in events[start : start + batch]]
            await runtime.apply_batch(units)
            # What the service's background loop does between batches.
            await matcher.directory.refresh(stores.unbound())
        rate = len(events) / (time.perf_counter() - started)
        bare = await bare_bulk_rate(client, database, len(events), batch)
        return rate, bare
    finally:
        await client.drop_database(database)
        await client.close()


async def in_memory(events: list[CloudEvent[Any]]) -> float:
    from tests.matcher.harness import MemoryUnit, memory_harness

    async with memory_harness() as h:
        started = time.perf_counter()
        for event in events:

            async def apply(unit: MemoryUnit, event: CloudEvent[Any] = event) -> None:
                await h.matcher.handle(unit, event)

            await h.runner.run_once(event.id, event.time, apply)
        return len(events) / (time.perf_counter() - started)


async def through_kafka(settings: Settings, events: list[CloudEvent[Any]]) -> float:
    from aiokafka import AIOKafkaProducer

    await ensure_topics(settings)
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        settings.resolved_mongo(), tz_aware=True
    )
    ledger = client[settings.database_name("matcher")]["processed_events"]
    try:
        async with ServiceHost(build_spec(settings), settings).running():
            producer = AIOKafkaProducer(bootstrap_servers=settings.resolved_kafka())
            await producer.start()
            try:
                topic = Topics(settings.topic_prefix).profiles
                sent = [await producer.send(topic, e.to_json(), key=e.key) for e in events]
                await asyncio.gather(*sent)
            finally:
                await producer.stop()
            deadline = time.monotonic() + 600
            while await ledger.count_documents({}) < len(events):
                if time.monotonic() > deadline:
                    raise TimeoutError("the service did not apply every signup in 10 minutes")
                await asyncio.sleep(0.5)
        return await applied_rate(client, settings.database_name("matcher"))
    finally:
        await client.drop_database(settings.database_name("matcher"))
        await client.close()


async def bench_service(mentees: int, mentors: int, batches: Sequence[int]) -> None:
    print(f"\n== service throughput ({mentors} mentors + {mentees} mentees signing up)")
    configured = Settings()
    stack: LocalStack | None = None
    if configured.kafka_bootstrap and configured.mongo_uri:
        base = configured
    else:
        stack = LocalStack(Path(tempfile.mkdtemp(prefix="mentormesh-bench-")))
        state = await stack.up()
        base = Settings(
            kafka_bootstrap=state.kafka_bootstrap, mongo_uri=state.mongo_uri, kafka_embedded=True
        )
    try:
        events = signups(mentees, mentors)

        def fresh() -> Settings:
            tag = "b" + uuid.uuid4().hex[:10]
            return base.model_copy(update={"topic_prefix": tag, "database_prefix": tag})

        memory = await in_memory(events)
        print(f"handlers on the in-memory store: {memory:7.1f} signups/s")
        print("\napplied through the runtime, no Kafka: signups/s (bare bulk write of the same")
        print("documents in as many insert_many per collection as batches, ratio)")
        old, old_bare = await direct(fresh(), events, 1, write_through=True)
        print(f"  before batches (a write-through store, one event per transaction): "
              f"{old:7.1f} ({old_bare:6.0f}, {old / old_bare:5.3f})", flush=True)  # fmt: skip
        for batch in batches:
            rate, bare = await direct(fresh(), events, batch)
            print(f"  batch {batch:>4}: {rate:7.1f} ({bare:6.0f}, {rate / bare:5.3f})"
                  f"  x{rate / old:5.1f} the write-through store", flush=True)  # fmt: skip
        service = await through_kafka(fresh(), events)
        print(f"\nservice, 1 process, from Kafka (batch up to {base.batch_max_records}): "
              f"{service:7.1f} signups/s")  # fmt: skip
    finally:
        if stack is not None:
            stack.down()


def run_solve_bench(argv: Sequence[str]) -> None:
    path = Path(__file__).resolve().parent / "matcher_solve.py"
    if not path.exists():
        return
    spec = importlib.util.spec_from_file_location("matcher_solve", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    print("\n== cohort solver (bench/matcher_solve.py)")
    module.main(argv)


def main(argv: Sequence[str] = ()) -> None:
    # FastStream logs every message at INFO (and resets its logger's level when the
    # broker starts): a filter keeps the figures readable.
    logging.getLogger("faststream.access.kafka").addFilter(
        lambda record: record.levelno >= logging.WARNING
    )
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--mentees", type=int, default=600)
    parser.add_argument("--mentors", type=int, default=200)
    parser.add_argument("--batches", default="1,10,100,500")
    parser.add_argument("--skip-service", action="store_true")
    parser.add_argument("--skip-solve", action="store_true")
    args = parser.parse_args(list(argv))
    bench_ranking([int(s) for s in args.sizes.split(",")])
    if not args.skip_service:
        batches = [int(b) for b in args.batches.split(",")]
        asyncio.run(bench_service(args.mentees, args.mentors, batches))
    if not args.skip_solve:
        run_solve_bench([])


if __name__ == "__main__":
    main(sys.argv[1:])
