"""Notifier benchmark: durable timers on the local database with 100k timers pending,
and the dry-run simulator.

Timers (MongoDB, no Kafka: a no-op publisher, so the figures are the database side):
  preload      100k pending timers, due far in the future, written in bulk;
  scheduling   `mentorship.started` events applied through the runtime's unit of work
               (transaction, ledger) by the notifier's handler: each schedules 6 timers;
               baseline: bare transactions that write the same timer documents and a
               ledger entry, without any of the notifier's logic;
  firing       event time moved so that 2 timers per new mentorship fall due among the
               100k pending; the firing loop claims (leases), settles and emits them;
               baseline: bare transactions doing the least exactly-once firing can do
               (read the timer, mark it, ledger entry, outbox entry).
Simulator: a programme's weeks (500 mentorships) replayed in memory; baseline: parsing
the same events from JSON lines, which any replay has to do.
Rules: the default rules file with one admin (programme files are not read).

Run: .venv/bin/python bench/notifier.py [--pending 100000] [--mentorships 1000]
     [--skip-timers] [--skip-simulator]
(uses MENTORMESH_MONGO_URI if set, otherwise starts the embedded local stack).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pymongo import AsyncMongoClient

from services.notifier.clock import GivenClock
from services.notifier.engine import Timer, timer_id
from services.notifier.facts import subject_key
from services.notifier.firing import Firing
from services.notifier.main import build_spec
from services.notifier.repository import MongoStore, timer_document
from services.notifier.simulator import simulate
from services.notifier.workflow import Notifier
from shared.clock import FixedClock
from shared.events import CloudEvent, parse_event
from shared.local_stack import LocalStack
from shared.runtime import ServiceRuntime, UnitOfWork
from shared.settings import Settings
from tests.notifier import builders as b
from tests.notifier.scenario import programme_weeks

FAR = b.T0 + timedelta(days=3650)


async def _no_publish(topic: str, key: bytes, value: bytes, headers: dict[str, str]) -> None:
    return None


def _rate(count: int, seconds: float) -> float:
    return count / seconds if seconds > 0 else float("inf")


# --- simulator ----------------------------------------------------------------------


def bench_simulator(mentorships: int = 500, weeks: int = 8) -> None:
    events = programme_weeks(mentorships, weeks)
    lines = [e.to_json().decode() for e in events]
    started = time.perf_counter()
    for line in lines:
        parse_event(line)
    parse_s = time.perf_counter() - started
    started = time.perf_counter()
    nudges = asyncio.run(simulate(events, b.books(), b.T0 + timedelta(weeks=weeks)))
    simulate_s = time.perf_counter() - started
    print(f"\n== simulator ({mentorships} mentorships, {weeks} weeks: {len(events)} events, "
          f"{len(nudges)} nudges)")  # fmt: skip
    print(f"parse only (baseline):   {_rate(len(events), parse_s):9.0f} events/s")
    print(f"simulate:                {_rate(len(events), simulate_s):9.0f} events/s")
    print(f"ratio simulate / parse:  {parse_s / simulate_s:9.3f}")


# --- timers on the database ------------------------------------------------------------


def _parked_timer(index: int) -> Timer:
    """A timer due in ten years: it only has to be there, pending, in the way."""
    recipient = f"parked-{index % 20_000}"
    subject = subject_key("mentorship", f"parked-m{index}")
    return Timer(
        id=timer_id("no-session-reminder", subject, FAR.isoformat(), recipient),
        rule_id="no-session-reminder",
        trigger="no_session",
        subject=subject,
        recipient=recipient,
        audience="mentee",
        programme_id="default",
        mentorship_id=f"parked-m{index}",
        since=FAR - timedelta(days=14),
        due=FAR,
        at=FAR,
        people=(recipient,),
    )


async def _preload(runtime: ServiceRuntime, pending: int) -> float:
    started = time.perf_counter()
    for first in range(0, pending, 2000):
        batch = [timer_document(_parked_timer(i)) for i in range(first, min(first + 2000, pending))]
        await runtime.db.timers.insert_many(batch, ordered=False)
    return _rate(pending, time.perf_counter() - started)


async def _schedule(runtime: ServiceRuntime, mentorships: int) -> tuple[float, int]:
    spec = build_spec(runtime.settings, books=b.books())
    events = [
        b.started(b.T0, mentorship=f"bm-{i}", mentee=f"bee-{i}", mentor=f"bor-{i}").model_copy(
            update={"id": f"bench-start-{i}"}
        )
        for i in range(mentorships)
    ]
    before = await runtime.db.timers.count_documents({})
    started = time.perf_counter()
    for event in events:

        async def apply(uow: UnitOfWork, event: CloudEvent[Any] = event) -> None:
            await spec.handle(uow, event)

        await runtime.run_once(event.id, event.time, apply)
    seconds = time.perf_counter() - started
    scheduled = await runtime.db.timers.count_documents({}) - before
    return _rate(scheduled, seconds), scheduled // mentorships


async def _bare_scheduling(runtime: ServiceRuntime, transactions: int, per: int) -> float:
    docs = [timer_document(_parked_timer(i)) for i in range(per)]
    started = time.perf_counter()
    for n in range(transactions):

        async def work(uow: Any, n: int = n) -> None:
            batch = [
                {**d, "_id": f"bare-{n}-{i}", "subject": f"bare-{n}"} for i, d in enumerate(docs)
            ]
            await uow.db.bare_timers.insert_many(batch, session=uow.session)

        await runtime.run_once(f"bare-schedule-{n}", b.T0, work)
    return _rate(transactions * per, time.perf_counter() - started)


async def _fire(runtime: ServiceRuntime) -> tuple[float, float, int]:
    clock = GivenClock(FixedClock(b.T0 + timedelta(days=14, hours=1)))
    firing = Firing(
        runtime,
        Notifier(b.books(), runtime.settings.pseudonyms()),
        clock,
        "bench",
        timedelta(seconds=60),
    )
    before = await runtime.db.nudges.count_documents({})
    settled = 0
    started = time.perf_counter()
    while step := await firing.fire_due():
        settled += step
    seconds = time.perf_counter() - started
    nudges = await runtime.db.nudges.count_documents({}) - before
    return _rate(nudges, seconds), _rate(settled, seconds), nudges


async def _bare_firing(runtime: ServiceRuntime, count: int) -> float:
    await runtime.db.bare_fire.insert_many(
        [{"_id": f"f-{i}", "state": "pending", "at": b.T0} for i in range(count)]
    )
    started = time.perf_counter()
    for i in range(count):

        async def work(uow: Any, i: int = i) -> None:
            doc = await uow.db.bare_fire.find_one({"_id": f"f-{i}"}, session=uow.session)
            await uow.db.bare_fire.update_one(
                {"_id": doc["_id"]}, {"$set": {"state": "sent"}}, session=uow.session
            )
            await uow.db.bare_outbox.insert_one({"_id": f"o-{i}"}, session=uow.session)

        await runtime.run_once(f"bare-fire-{i}", b.T0, work)
    return _rate(count, time.perf_counter() - started)


async def bench_timers(pending: int, mentorships: int) -> None:
    configured = Settings()
    stack: LocalStack | None = None
    if configured.mongo_uri:
        base = configured
    else:
        stack = LocalStack(Path(tempfile.mkdtemp(prefix="mentormesh-bench-")))
        state = await stack.up()
        base = Settings(
            kafka_bootstrap=state.kafka_bootstrap, mongo_uri=state.mongo_uri, kafka_embedded=True
        )
    tag = "b" + uuid.uuid4().hex[:10]
    settings = base.model_copy(update={"database_prefix": tag})
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        settings.resolved_mongo(), tz_aware=True
    )
    runtime = ServiceRuntime("notifier", settings, client, _no_publish)
    try:
        await runtime.ensure_indexes()
        await MongoStore.ensure_indexes(runtime.db)
        print(f"\n== timers on the local database ({pending} pending, {mentorships} mentorships)")
        preload = await _preload(runtime, pending)
        print(f"preload, bulk inserts (setup):      {preload:8.0f} timers/s")
        scheduled, per = await _schedule(runtime, mentorships)
        pending_now = await runtime.db.timers.count_documents({"state": "pending"})
        bare = await _bare_scheduling(runtime, mentorships, per)
        print(f"scheduled via events ({per} each):      {scheduled:8.0f} timers/s "
              f"({pending_now} pending)")  # fmt: skip
        print(f"bare transactions, same writes:     {bare:8.0f} timers/s")
        print(f"ratio scheduled / bare:             {scheduled / bare:8.2f}")
        fired, settlements, count = await _fire(runtime)
        left = await runtime.db.timers.count_documents({"state": "pending"})
        bare_fired = await _bare_firing(runtime, count)
        print(f"fired (claimed, settled, emitted):  {fired:8.0f} nudges/s "
              f"({settlements:.0f} settlements/s, {count} nudges, {left} pending)")  # fmt: skip
        print(f"bare exactly-once transactions:     {bare_fired:8.0f} /s")
        print(f"ratio fired / bare:                 {fired / bare_fired:8.2f}")
    finally:
        await client.drop_database(runtime.db.name)
        await client.close()
        if stack is not None:
            stack.down()


def main(argv: Sequence[str] = ()) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pending", type=int, default=100_000)
    parser.add_argument("--mentorships", type=int, default=1000)
    parser.add_argument("--skip-timers", action="store_true")
    parser.add_argument("--skip-simulator", action="store_true")
    args = parser.parse_args(list(argv))
    if not args.skip_simulator:
        bench_simulator()
    if not args.skip_timers:
        asyncio.run(bench_timers(args.pending, args.mentorships))


if __name__ == "__main__":
    main(sys.argv[1:])
