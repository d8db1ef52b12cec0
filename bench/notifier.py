"""Notifier benchmark: durable timers on the local database with 100k timers pending,
and the dry-run simulator.

Timers (MongoDB, no Kafka: a no-op publisher, so the figures are the database side):
  preload      100k pending timers, due far in the future, written in bulk;
  scheduling   `mentorship.started` events applied by the notifier's handler through
               the runtime, `--batches` events per transaction (1 is the old way, one
               event per transaction): each schedules 6 timers. Baseline in the same
               run: bare transactions of as many events that insert the same timer
               documents (one `insert_many`, into a collection with the same indexes)
               and the ledger entries, without any of the notifier's logic;
  firing       event time moved so that 2 timers per new mentorship fall due among the
               100k pending. First the old way (one person per transaction, 8 side by
               side) for `--old-nudges`, then claimed groups of `--group` people, one
               transaction per group, for the rest. Baseline: bare transactions of as
               many nudges doing the least exactly-once firing can do (read the timers,
               mark them, ledger and outbox entries).
Simulator: a programme's weeks (500 mentorships) replayed in memory; baseline: parsing
the same events from JSON lines, which any replay has to do.
Rules: the default rules file with one admin (programme files are not read).

Run: .venv/bin/python bench/notifier.py [--pending 100000] [--mentorships 1000]
     [--batches 1,100,500] [--group 100] [--old-nudges 400]
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
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pymongo import AsyncMongoClient

from services.notifier.clock import GivenClock
from services.notifier.engine import Timer, timer_id
from services.notifier.facts import subject_key
from services.notifier.firing import LEASE_GROUP, Firing
from services.notifier.main import build_spec
from services.notifier.repository import MongoNotifierStore, timer_document
from services.notifier.simulator import simulate
from services.notifier.workflow import Notifier
from shared.clock import FixedClock
from shared.events import CloudEvent, parse_event
from shared.local_stack import LocalStack
from shared.runtime import ServiceRuntime, Unit, UnitOfWork
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


def _mentorship_starts(prefix: str, count: int) -> list[CloudEvent[Any]]:
    return [
        b.started(
            b.T0, mentorship=f"{prefix}m-{i}", mentee=f"{prefix}ee-{i}", mentor=f"{prefix}or-{i}"
        ).model_copy(update={"id": f"{prefix}start-{i}"})
        for i in range(count)
    ]


async def _schedule(runtime: ServiceRuntime, mentorships: int, batch: int) -> tuple[float, int]:
    """Timers/s of `mentorship.started` events applied `batch` at a time, each batch in
    one transaction (as the service's consumer does), and timers per event."""
    spec = build_spec(runtime.settings, books=b.books())
    events = _mentorship_starts(f"s{batch}-", mentorships)

    def unit(event: CloudEvent[Any]) -> Unit:
        async def apply(uow: UnitOfWork) -> None:
            await spec.handle(uow, event)

        return Unit(event.id, event.time, apply, event)  # as the consumer gives it

    before = await runtime.db.timers.count_documents({})
    started = time.perf_counter()
    for first in range(0, len(events), batch):
        await runtime.apply_batch([unit(e) for e in events[first : first + batch]])
    seconds = time.perf_counter() - started
    scheduled = await runtime.db.timers.count_documents({}) - before
    return _rate(scheduled, seconds), scheduled // mentorships


async def _bare_scheduling(runtime: ServiceRuntime, events: int, per: int, batch: int) -> float:
    """Timers/s of bare transactions, `batch` events each, that write the same timer
    documents (one `insert_many`) and ledger entries, without the notifier's logic."""
    docs = [timer_document(_parked_timer(i)) for i in range(per)]
    tag = uuid.uuid4().hex[:6]
    # The same indexes as the notifier's timers: they cost the database most of a write.
    await MongoNotifierStore.ensure_indexes(runtime.db.client[runtime.db.name + "_bare"])

    def unit(n: int) -> Unit:
        async def work(uow: UnitOfWork) -> None:
            _bare_buffer(uow, _insert_timers).extend(
                [
                    {**d, "_id": f"bare-{tag}-{n}-{i}", "subject": f"bare-{n}"}
                    for i, d in enumerate(docs)
                ]
            )

        return Unit(f"bare-schedule-{tag}-{n}", b.T0, work)

    started = time.perf_counter()
    for first in range(0, events, batch):
        await runtime.apply_batch([unit(n) for n in range(first, min(first + batch, events))])
    return _rate(events * per, time.perf_counter() - started)


async def _fire(
    runtime: ServiceRuntime, group: int, concurrency: int, limit: int
) -> tuple[float, float, int]:
    """(nudges/s, settlements/s, nudges) of the firing loop claiming `group` people at
    a time, `concurrency` groups side by side, until `limit` nudges or nothing is due."""
    clock = GivenClock(FixedClock(b.T0 + timedelta(days=14, hours=1)))
    firing = Firing(
        runtime,
        Notifier(b.books(), runtime.settings.pseudonyms()),
        clock,
        "bench",
        timedelta(seconds=60),
        batch=max(group, min(500, limit)),
        concurrency=concurrency,
        group=group,
    )
    before = await runtime.db.nudges.count_documents({})
    settled = nudges = 0
    started = time.perf_counter()
    while nudges < limit and (step := await firing.fire_due()):
        settled += step
        nudges = await runtime.db.nudges.count_documents({}) - before
    seconds = time.perf_counter() - started
    return _rate(nudges, seconds), _rate(settled, seconds), nudges


async def _bare_firing(runtime: ServiceRuntime, count: int, batch: int) -> float:
    """Nudges/s of bare transactions, `batch` at a time, doing the least exactly-once
    firing can do: read the timers, mark them, ledger and outbox entries."""
    tag = uuid.uuid4().hex[:6]
    await runtime.db.bare_fire.insert_many(
        [{"_id": f"f-{tag}-{i}", "state": "pending", "at": b.T0} for i in range(count)]
    )

    def unit(i: int) -> Unit:
        async def work(uow: UnitOfWork) -> None:
            _bare_buffer(uow, _mark_fired).append(f"f-{tag}-{i}")

        return Unit(f"bare-fire-{tag}-{i}", b.T0, work)

    started = time.perf_counter()
    for first in range(0, count, batch):
        await runtime.apply_batch([unit(i) for i in range(first, min(first + batch, count))])
    return _rate(count, time.perf_counter() - started)


def _bare_buffer(
    uow: UnitOfWork, write: Callable[[UnitOfWork, list[Any]], Awaitable[None]]
) -> list[Any]:
    """What a bare batch writes, once, before it commits."""

    def build() -> list[Any]:
        items: list[Any] = []
        uow.batch.before_commit(lambda: write(uow, items))
        return items

    return uow.batch.cached("bare", build)


async def _insert_timers(uow: UnitOfWork, docs: list[dict[str, Any]]) -> None:
    bare = uow.db.client[uow.db.name + "_bare"]
    await bare.timers.insert_many(docs, session=uow.session)


async def _mark_fired(uow: UnitOfWork, ids: list[str]) -> None:
    found = [
        d["_id"] async for d in uow.db.bare_fire.find({"_id": {"$in": ids}}, session=uow.session)
    ]
    await uow.db.bare_fire.update_many(
        {"_id": {"$in": found}}, {"$set": {"state": "sent"}}, session=uow.session
    )
    await uow.db.bare_outbox.insert_many([{"_id": f"o-{i}"} for i in found], session=uow.session)


async def bench_timers(
    pending: int, mentorships: int, batches: Sequence[int], group: int, old_nudges: int
) -> None:
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
        await MongoNotifierStore.ensure_indexes(runtime.db)
        print(f"\n== timers on the local database ({pending} pending, "
              f"{mentorships} mentorships per batch size)")  # fmt: skip
        preload = await _preload(runtime, pending)
        print(f"preload, bulk inserts (setup):      {preload:8.0f} timers/s")
        print("scheduling (mentorship.started, events per transaction: timers/s; "
              "bare transactions of the same writes; ratio)")  # fmt: skip
        one = 0.0
        for batch in batches:
            scheduled, per = await _schedule(runtime, mentorships, batch)
            bare = await _bare_scheduling(runtime, mentorships, per, batch)
            one = one or scheduled
            print(f"  batch {batch:4d}: {scheduled:8.0f} timers/s ({per} each)  "
                  f"bare {bare:8.0f}  ratio {scheduled / bare:5.2f}  "
                  f"x{scheduled / one:5.2f} of batch {batches[0]}")  # fmt: skip
        pending_now = await runtime.db.timers.count_documents({"state": "pending"})
        print(f"  ({pending_now} timers pending now)")
        print("firing at day 14 (2 nudges due per mentorship; nudges/s; bare; ratio)")
        old, old_settled, old_count = await _fire(runtime, 1, 8, old_nudges)
        old_bare = await _bare_firing(runtime, old_count, 1)
        print(f"  one person per transaction, 8 side by side (the old way): {old:6.0f} nudges/s "
              f"({old_settled:.0f} settlements/s, {old_count} nudges)  "
              f"bare {old_bare:6.0f}  ratio {old / old_bare:5.2f}")  # fmt: skip
        fired, settlements, count = await _fire(runtime, group, 2, 10**9)
        left = await runtime.db.timers.count_documents({"state": "pending"})
        bare_fired = await _bare_firing(runtime, count, group)
        print(f"  claimed groups of {group}, one transaction each, 2 side by side:  "
              f"{fired:6.0f} nudges/s ({settlements:.0f} settlements/s, {count} nudges, "
              f"{left} pending)  bare {bare_fired:6.0f}  ratio {fired / bare_fired:5.2f}  "
              f"x{fired / old:5.2f} of the old way")  # fmt: skip
    finally:
        await client.drop_database(runtime.db.name)
        await client.drop_database(runtime.db.name + "_bare")
        await client.close()
        if stack is not None:
            stack.down()


def main(argv: Sequence[str] = ()) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pending", type=int, default=100_000)
    parser.add_argument("--mentorships", type=int, default=1000)
    parser.add_argument("--batches", default="1,100,500")
    parser.add_argument("--group", type=int, default=LEASE_GROUP)
    parser.add_argument("--old-nudges", type=int, default=400)
    parser.add_argument("--skip-timers", action="store_true")
    parser.add_argument("--skip-simulator", action="store_true")
    args = parser.parse_args(list(argv))
    if not args.skip_simulator:
        bench_simulator()
    if not args.skip_timers:
        batches = [int(x) for x in args.batches.split(",")]
        asyncio.run(
            bench_timers(args.pending, args.mentorships, batches, args.group, args.old_nudges)
        )


if __name__ == "__main__":
    main(sys.argv[1:])
