"""Per-pod throughput of each service: the figure behind KEDA's `lagThreshold` in
deploy/kubernetes/base/*/scaledobject.yaml.

For each service, one `python -m services.NAME` process (one pod's worth) on the broker
and database gets a warm-up event (so its consumer group has formed), then a backlog:
N events of its workload published at once. The rate is N over the time from the
first publish to the last of them in the service's ledger, outbox empty. Baseline,
measured in the same run on the same database: N bare MongoDB transactions each
writing one ledger document, the least a handled event costs.

lagThreshold = rate x DRAIN (default 60 s): KEDA then runs one pod per DRAIN seconds
of backlog that one pod works off, up to the partition count.

Run: .venv/bin/python bench/scaling.py [--events 600] [--drain 60]
     [--services matcher,network,notifier]
(uses MENTORMESH_KAFKA_BOOTSTRAP / MENTORMESH_MONGO_URI if set, otherwise starts the
embedded local stack). Re-run it when the handlers get faster (batching) and copy the
printed lagThreshold into each ScaledObject.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pymongo import AsyncMongoClient

from bench.throughput import workload
from shared.events import CloudEvent, ProfileDeleted, make_event
from shared.local_stack import LocalStack, free_port
from shared.runtime import OUTBOX, PROCESSED
from shared.settings import Settings
from tests.support import Stack, fresh_settings, publish, service_process


async def applied(
    client: AsyncMongoClient[dict[str, Any]], db: str, ids: list[str], timeout: float
) -> None:
    deadline = time.monotonic() + timeout
    while (
        await client[db][PROCESSED].count_documents({"_id": {"$in": ids}}) < len(ids)
        or await client[db][OUTBOX].count_documents({}) > 0
    ):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{db}: not every event applied in {timeout:.0f} s")
        await asyncio.sleep(0.2)


async def one_pod(stack: Stack, service: str, events: list[CloudEvent[Any]], logs: Path) -> float:
    """Events/s of one service process working off a backlog of `events`."""
    settings = await fresh_settings(stack)
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        settings.resolved_mongo(), tz_aware=True
    )
    db = settings.database_name(service)
    env = {"MENTORMESH_HTTP_PORT": str(free_port())}
    try:
        with service_process(service, settings, env, logs / f"{service}.log"):
            probe = make_event(ProfileDeleted(person_id="bench-warm-up"), source="/bench")
            await publish(settings, [probe])
            await applied(client, db, [probe.id], timeout=180)
            started = time.monotonic()
            await publish(settings, events)
            await applied(client, db, [e.id for e in events], timeout=1800)
            return len(events) / (time.monotonic() - started)
    finally:
        await client.drop_database(db)
        await client.close()


async def bare_transactions(settings: Settings, count: int) -> float:
    """Transactions/s, each inserting one ledger-like document."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        settings.resolved_mongo(), tz_aware=True
    )
    collection = client["bench_bare_" + str(free_port())][PROCESSED]
    try:
        started = time.monotonic()
        for index in range(count):
            async with client.start_session() as session, await session.start_transaction():
                await collection.insert_one(
                    {"_id": f"e{index}", "applied_at": datetime.now(UTC)}, session=session
                )
        return count / (time.monotonic() - started)
    finally:
        await client.drop_database(collection.database.name)
        await client.close()


async def run(args: argparse.Namespace) -> None:
    configured = Settings()
    local: LocalStack | None = None
    if configured.kafka_bootstrap and configured.mongo_uri:
        stack = Stack(configured.kafka_bootstrap, configured.mongo_uri, configured.kafka_embedded)
    else:
        local = LocalStack(Path(tempfile.mkdtemp(prefix="mentormesh-bench-")))
        state = await local.up()
        stack = Stack(state.kafka_bootstrap, state.mongo_uri)
    logs = Path(tempfile.mkdtemp(prefix="mentormesh-bench-logs-"))
    print(f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {args.events} events per service, "
          f"drain target {args.drain:.0f} s; service logs in {logs}")  # fmt: skip
    print(f"{'service':>9} {'events':>7} {'events/s':>9} {'bare txn/s':>11} {'ratio':>6} "
          f"{'lagThreshold':>13}")  # fmt: skip
    try:
        for service in args.services.split(","):
            events = workload(service, args.events)
            rate = await one_pod(stack, service, events, logs)
            bare = await bare_transactions(stack.settings(), len(events))
            threshold = int(round(rate * args.drain, -1))
            print(f"{service:>9} {len(events):>7} {rate:>9.1f} {bare:>11.1f} "
                  f"{rate / bare:>6.3f} {threshold:>13}", flush=True)  # fmt: skip
    finally:
        if local is not None:
            with contextlib.suppress(Exception):
                local.down()


def main(argv: Sequence[str] = ()) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=600)
    parser.add_argument("--drain", type=float, default=60.0, help="seconds of backlog per pod")
    parser.add_argument("--services", default="matcher,network,notifier")
    asyncio.run(run(parser.parse_args(list(argv))))


if __name__ == "__main__":
    main(sys.argv[1:])
