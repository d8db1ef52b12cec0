"""The durable embedded broker (`mentormesh up`): a broker restart in the middle of a
stream loses no event, and the services go on from the offsets they had committed."""

from __future__ import annotations

import asyncio
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from shared.events import CloudEvent, make_event, parse_event
from shared.local_stack import BrokerStorage, LocalStack, free_port
from shared.remembered import committed
from shared.scenario import population
from shared.settings import Settings
from tests.support import Stack, fresh_settings, publish, read_records, service_process, wait_for

pytestmark = [pytest.mark.infra, pytest.mark.slow]


CONSUMED = "mentormesh_events_consumed_total"


def _metric(port: int, name: str) -> int:
    """A counter summed over its labels; 0 while the service does not answer yet."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
            text = resp.read().decode()
    except OSError:
        return 0
    return int(
        sum(
            float(line.rsplit(" ", 1)[1])
            for line in text.splitlines()
            if line.startswith((name + "{", name + " "))
        )
    )


async def _committed(settings: Settings, service: str) -> int:
    """The sum of the offsets the service's group committed on its profiles topic."""
    offsets = await committed(settings, service, [f"{settings.topic_prefix}.profiles"])
    return sum(offsets.values())


def _signups(mentees: int, mentors: int) -> list[CloudEvent[Any]]:
    people = population(mentees, mentors, seed=3)
    return [make_event(p, source="/test") for p in people.everyone]


async def test_a_broker_killed_mid_stream_loses_nothing_and_the_matcher_resumes_from_its_offsets(
    tmp_path: Path,
) -> None:
    stack = LocalStack(tmp_path / "stack", broker_storage=BrokerStorage.DURABLE)
    state = await stack.up()
    try:
        settings = await fresh_settings(Stack(state.kafka_bootstrap, state.mongo_uri))
        signups = _signups(mentees=160, mentors=80)
        before, after = signups[:160], signups[160:]
        port = free_port()
        env = {"MENTORMESH_HTTP_PORT": str(port)}
        with service_process("matcher", settings, env, log=tmp_path / "matcher.log"):
            await publish(settings, before)

            async def halfway() -> bool:
                consumed = await asyncio.to_thread(_metric, port, CONSUMED)
                return consumed >= len(before) // 2 and await _committed(settings, "matcher") > 0

            await wait_for(halfway, timeout=180)
            committed_before = await _committed(settings, "matcher")
            await stack.restart_broker(kill=True)
            # The group's offsets were kept: none went back, let alone to the start.
            assert await _committed(settings, "matcher") >= committed_before
            await publish(settings, after)

            async def applied_all() -> bool:
                consumed = await asyncio.to_thread(_metric, port, CONSUMED)
                return consumed >= len(signups)

            await wait_for(applied_all, timeout=300)
            consumed = await asyncio.to_thread(_metric, port, CONSUMED)
            duplicates = await asyncio.to_thread(_metric, port, "mentormesh_events_duplicate_total")
            dead = await asyncio.to_thread(_metric, port, "mentormesh_events_dead_lettered_total")
        ids = {e.id for e in signups}
        records = await read_records(settings, "profiles", lambda rs: len(rs) >= len(signups))
        on_topic = [parse_event(r.value, "profiles").id for r in records]
    finally:
        stack.down()
    assert sorted(on_topic) == sorted(ids), "the broker lost or doubled messages"
    assert (consumed, dead) == (len(signups), 0), "an event was lost, doubled or dead-lettered"
    # Resuming from offset 0 would have redelivered every event committed before the
    # restart; resuming from the committed offsets redelivers at most the few in flight.
    assert duplicates < committed_before, (duplicates, committed_before)
