"""The database goes away for half a minute in the middle of a stream and comes back
on the same storage: the three services (real processes) stall without crashing,
report themselves unready meanwhile, back off instead of spinning, and afterwards
nothing is lost, dead-lettered or applied twice."""

from __future__ import annotations

import asyncio
import contextlib
import time
from functools import partial
from pathlib import Path

import pytest

from shared.deployment import ServiceProcess
from shared.local_stack import MongoServer, free_port
from tests.foundation.workloads import applied, backlog, check, finish
from tests.support import Stack, fresh_settings, publish, service_process, wait_for

pytestmark = [pytest.mark.infra, pytest.mark.slow]

OUTAGE_S = 30.0


async def test_services_stall_through_a_database_outage_and_resume_without_loss(
    stack: Stack, tmp_path: Path
) -> None:
    mongo = MongoServer(tmp_path / "mongo-data", log=tmp_path / "mongo.log")
    own = Stack(stack.kafka_bootstrap, await mongo.start())
    try:
        # The matcher apart, so that its proposals do not feed the other two.
        matching, following = await fresh_settings(own), await fresh_settings(own)
        settings = {"matcher": matching, "network": following, "notifier": following}
        works = {name: backlog(name, 300) for name in settings}
        ports = {name: free_port() for name in settings}
        with contextlib.ExitStack() as processes:
            running = {
                name: ServiceProcess(name, ports[name], processes.enter_context(service_process(
                    name, settings[name], {**works[name].env, "MENTORMESH_HTTP_PORT": str(port)},
                    tmp_path / f"{name}.log",
                )), tmp_path / f"{name}.log")
                for name, port in ports.items()
            }  # fmt: skip
            half = {name: len(work.events) // 2 for name, work in works.items()}
            await publish(matching, works["matcher"].events[: half["matcher"]])
            await publish(following, works["network"].events[: half["network"]])
            for name, work in works.items():
                some = work.events[: half[name] // 2]
                await wait_for(partial(applied, settings[name], name, some), 600, 0.5)
            assert await _all_ready(running, 200)

            # Mid-stream: the rest of the first half may be in flight.
            stopped = time.monotonic()
            mongo.stop()
            await publish(matching, works["matcher"].events[half["matcher"] :])
            await publish(following, works["network"].events[half["network"] :])
            await wait_for(lambda: _all_ready(running, 503), timeout=OUTAGE_S)
            await asyncio.sleep(max(0.0, OUTAGE_S - (time.monotonic() - stopped)))
            assert all(p.process.poll() is None for p in running.values()), "nobody crashed"
            await mongo.start()

            await wait_for(lambda: _all_ready(running, 200), timeout=120)
            for name, work in works.items():
                await finish(settings[name], work)
        for name, work in works.items():
            await check(settings[name], work)
        for name in settings:
            lines = (tmp_path / f"{name}.log").read_text().splitlines()
            waits = [line for line in lines if "(transient," in line]
            # Backoff: a few tries spread over the outage, never a spin.
            assert len(waits) <= 20, (name, len(waits))
    finally:
        mongo.stop()


async def _all_ready(running: dict[str, ServiceProcess], status: int) -> bool:
    answers = await asyncio.gather(
        *(asyncio.to_thread(p.get, "/readyz", 5.0) for p in running.values())
    )
    return all(code == status for code, _ in answers)
