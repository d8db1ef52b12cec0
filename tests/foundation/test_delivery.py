"""At-least-once delivery made safe: dead letters, idempotency, the outbox.
Against the real broker and database."""

from __future__ import annotations

import asyncio
import itertools
import json
import random
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from pymongo.errors import AutoReconnect

from shared.dead_letter import HEADER_DETAIL, HEADER_ERROR, HEADER_SERVICE
from shared.events import CloudEvent, NudgeEmitted, ProfileDeleted, make_event, parse_event
from shared.metrics import ServiceMetrics
from shared.runtime import ServiceSpec, UnitOfWork
from shared.settings import Settings
from tests.support import (
    dead_letters,
    mongo_client,
    publish,
    read_to_end,
    running_service,
    topic_name,
    wait_for,
)

pytestmark = pytest.mark.infra


async def _record_and_echo(uow: UnitOfWork, event: CloudEvent[Any]) -> None:
    """A minimal service: counts each applied event and answers with one nudge."""
    await uow.db.applied.update_one({"_id": event.id}, {"$inc": {"times": 1}}, upsert=True,
                                session=uow.session)  # fmt: skip
    uow.emit(
        NudgeEmitted(
            nudge_id="n-" + event.id, person_id=event.subject or "?", kind="probe",
            reason="probe", message="probe",
        )
    )  # fmt: skip


def probe_spec() -> ServiceSpec:
    return ServiceSpec(
        name="probe", inputs=("profiles",), outputs=("nudges",), handle=_record_and_echo
    )


def deleted(person: str, event_id: str | None = None) -> CloudEvent[Any]:
    return make_event(ProfileDeleted(person_id=person), source="/test", id=event_id)


async def applied_times(settings: Settings) -> dict[str, int]:
    client = mongo_client(settings)
    try:
        docs = client[f"{settings.database_prefix}_probe"].applied.find()
        return {d["_id"]: d["times"] async for d in docs}
    finally:
        await client.close()


def _envelope(type_: str, data: dict[str, Any]) -> bytes:
    envelope = {"specversion": "1.0", "id": type_, "source": "/t", "type": type_,
                "time": "2026-01-01T00:00:00Z", "data": data}  # fmt: skip
    return json.dumps(envelope).encode()


MALFORMED: list[tuple[str, bytes]] = [
    ("not-json", b"{this is not json"),
    ("not-cloudevent", json.dumps({"hello": "world"}).encode()),
    (
        "unknown-type",
        json.dumps(
            {
                "specversion": "1.0",
                "id": "u1",
                "source": "/t",
                "type": "mentormesh.nope.v1",
                "time": "2026-01-01T00:00:00Z",
                "data": {},
            }
        ).encode(),
    ),
    (
        "invalid-data",
        json.dumps(
            {
                "specversion": "1.0",
                "id": "u2",
                "source": "/t",
                "type": "mentormesh.profile.deleted.v1",
                "time": "2026-01-01T00:00:00Z",
                "data": {"person_id": 42},
            }
        ).encode(),
    ),
    ("wrong-topic", deleted("x").to_json().replace(b"profile.deleted", b"match.accepted")),
]


async def test_each_kind_of_malformed_message_is_dead_lettered_and_consumption_goes_on(
    fresh: Callable[..., Awaitable[Settings]],
) -> None:
    settings = await fresh()
    good = deleted("after-the-bad-ones")
    async with running_service(probe_spec(), settings):
        await publish(settings, [("profiles", b"k", body) for _, body in MALFORMED])
        await publish(settings, [good])
        await wait_for(lambda: _has(settings, good.id), timeout=60)
    records = await read_to_end(settings, "profiles.dlq")
    headers = dead_letters(records)
    assert sorted(h[HEADER_ERROR] for h in headers) == sorted(r for r, _ in MALFORMED)
    assert all(h[HEADER_SERVICE] == "probe" and h[HEADER_DETAIL] for h in headers)
    # Unchanged: the dead-lettered bodies are exactly what was sent.
    assert sorted(r.value for r in records) == sorted(body for _, body in MALFORMED)


async def _has(settings: Settings, event_id: str) -> bool:
    return event_id in await applied_times(settings)


async def test_a_redelivered_cloudevent_id_is_applied_once_and_answered_with_one_id(
    fresh: Callable[..., Awaitable[Settings]],
) -> None:
    settings = await fresh()
    event = deleted("p-dup", event_id="same-id")
    marker = deleted("p-marker")
    async with running_service(probe_spec(), settings):
        await publish(settings, [event, event, event, marker])
        await wait_for(lambda: _has(settings, marker.id), timeout=60)
    assert (await applied_times(settings))["same-id"] == 1
    nudges = [parse_event(r.value, "nudges") for r in await read_to_end(settings, "nudges")]
    assert len({n.id for n in nudges}) == len(nudges) == 2


async def test_a_crash_between_commit_and_publish_republishes_the_same_event(
    fresh: Callable[..., Awaitable[Settings]],
) -> None:
    settings = await fresh()
    event = deleted("p-crash", event_id="crash-id")
    async with running_service(probe_spec(), settings) as runtime:
        real = runtime.publisher
        calls: list[str] = []

        async def dying(topic: str, key: bytes, value: bytes, headers: dict[str, str]) -> None:
            calls.append(topic)
            raise ConnectionError("broker went away")

        runtime.publisher = dying
        with pytest.raises(ConnectionError):
            await runtime.run_once(
                event.id, datetime.now(UTC), lambda u: _record_and_echo(u, event)
            )
        runtime.publisher = real
        # The redelivery finds the id applied and flushes what the crash left behind.
        again = await runtime.run_once(
            event.id, datetime.now(UTC), lambda u: _record_and_echo(u, event)
        )
    assert calls and again is False
    assert (await applied_times(settings))["crash-id"] == 1
    nudges = [parse_event(r.value, "nudges") for r in await read_to_end(settings, "nudges")]
    assert [n.data.nudge_id for n in nudges] == ["n-crash-id"]


class PoisonCounter:
    """A handler that fails on the person called "poison" and counts its attempts."""

    def __init__(self, error: Exception | None = None) -> None:
        self.error = error or ValueError("cannot apply this one")
        self.attempts: list[float] = []

    async def __call__(self, uow: UnitOfWork, event: CloudEvent[Any]) -> None:
        if event.subject == "poison":
            self.attempts.append(time.monotonic())
            raise self.error
        await _record_and_echo(uow, event)


async def test_an_event_whose_handler_keeps_failing_is_dead_lettered_after_its_attempts(
    fresh: Callable[..., Awaitable[Settings]],
) -> None:
    settings = await fresh(partitions=1, max_attempts=3)
    handler = PoisonCounter()
    spec = ServiceSpec(name="probe", inputs=("profiles",), outputs=("nudges",), handle=handler)
    poison, after = deleted("poison"), deleted("after-poison")
    async with running_service(spec, settings) as runtime:
        await publish(settings, [poison, after])
        await wait_for(lambda: _has(settings, after.id), timeout=60)
        retries = runtime.metrics.retries.labels(topic_name(settings, "profiles"))._value.get()
    [headers] = dead_letters(await read_to_end(settings, "profiles.dlq"))
    assert headers[HEADER_ERROR] == "handler-error"
    assert "after 3 attempts" in headers[HEADER_DETAIL]
    assert "cannot apply this one" in headers[HEADER_DETAIL]
    assert len(handler.attempts) == 3 and retries == 2
    assert poison.id not in await applied_times(settings)


@pytest.mark.parametrize(
    "error",
    [ValueError("a bug in the handler"), AutoReconnect("the database went away")],
    ids=["handler-error", "transient-error"],
)
async def test_a_message_that_keeps_failing_is_tried_no_more_than_a_few_times_a_second(
    fresh: Callable[..., Awaitable[Settings]], error: Exception
) -> None:
    settings = await fresh(partitions=1, max_attempts=1000)
    handler = PoisonCounter(error)
    spec = ServiceSpec(name="probe", inputs=("profiles",), outputs=(), handle=handler)
    async with running_service(spec, settings):
        await publish(settings, [deleted("poison")])
        await wait_for(lambda: _true(bool(handler.attempts)), timeout=60)
        await asyncio.sleep(6)
    gaps = [b - a for a, b in itertools.pairwise(handler.attempts)]
    # Backoff from 0.1-0.2 s, doubling: about six attempts in six seconds, never a spin.
    assert 4 <= len(handler.attempts) <= 10
    assert min(gaps) >= 0.09
    assert gaps[-1] > gaps[0]


async def _true(value: bool) -> bool:
    return value


async def test_a_batch_with_a_poison_in_the_middle_applies_every_other_event_once(
    fresh: Callable[..., Awaitable[Settings]],
) -> None:
    settings = await fresh(partitions=1, batch_max_records=50)
    handler = PoisonCounter()
    spec = ServiceSpec(name="probe", inputs=("profiles",), outputs=("nudges",), handle=handler)
    before = [deleted(f"before-{i}") for i in range(10)]
    after = [deleted(f"after-{i}") for i in range(10)]
    # Published before the service starts, so they are fetched together.
    await publish(settings, [*before, deleted("poison"), *after])
    async with running_service(spec, settings) as runtime:
        await wait_for(lambda: _has(settings, after[-1].id), timeout=60)
        largest = _largest_batch(runtime.metrics)
    times = await applied_times(settings)
    assert times == {e.id: 1 for e in [*before, *after]}
    [headers] = dead_letters(await read_to_end(settings, "profiles.dlq"))
    assert headers[HEADER_ERROR] == "handler-error"
    nudges = [parse_event(r.value, "nudges") for r in await read_to_end(settings, "nudges")]
    assert sorted(n.data.nudge_id for n in nudges) == sorted("n-" + e.id for e in [*before, *after])
    assert largest > 10, "the events should have come in one batch"


def _largest_batch(metrics: ServiceMetrics) -> float:
    """The upper bound of the largest bucket of `mentormesh_batch_records` with a batch."""
    [family] = [m for m in metrics.registry.collect() if m.name == "mentormesh_batch_records"]
    buckets = [s for s in family.samples if s.name.endswith("_bucket")]
    counts = [(float(s.labels["le"]), s.value) for s in buckets]
    previous, largest = 0.0, 0.0
    for bound, count in sorted(counts):
        if count > previous:
            largest = bound
        previous = count
    return largest


async def _record_order(uow: UnitOfWork, event: CloudEvent[Any]) -> None:
    """Appends each event's sequence number to its person's list."""
    person, _, number = (event.subject or "").partition("#")
    if number == "poison":
        raise ValueError("poison")
    await uow.db.order.update_one({"_id": person}, {"$push": {"seen": int(number)}}, upsert=True,
                                  session=uow.session)  # fmt: skip


async def test_the_events_of_one_key_are_applied_in_their_order_across_batches_and_poisons(
    fresh: Callable[..., Awaitable[Settings]],
) -> None:
    settings = await fresh(batch_max_records=7, max_attempts=2)
    rng = random.Random(4)
    people = [f"person-{i}" for i in range(12)]
    # Each event's `subject` carries its person's sequence number (the Kafka key and
    # `person_id` must agree, so the number cannot ride in the id).
    streams = {p: [f"{p}#{n}" for n in range(15)] for p in people}
    for person in people[:3]:  # a poison in the middle of three people's streams
        streams[person].insert(7, f"{person}#poison")
    interleaved: list[CloudEvent[Any]] = []
    cursors = dict.fromkeys(people, 0)
    while cursors:
        person = rng.choice(sorted(cursors))
        label = streams[person][cursors[person]]
        event = make_event(ProfileDeleted(person_id=person), source="/test")
        interleaved.append(event.model_copy(update={"subject": label}))
        cursors[person] += 1
        if cursors[person] == len(streams[person]):
            del cursors[person]
    spec = ServiceSpec(name="probe", inputs=("profiles",), outputs=(), handle=_record_order)
    # Keyed by the person, so each person's events share a partition; some are waiting
    # when the service starts, the rest arrive while it runs.
    keyed = [("profiles", e.key, e.to_json()) for e in interleaved]
    await publish(settings, keyed[:60])
    async with running_service(spec, settings):
        await publish(settings, keyed[60:])

        async def all_seen() -> bool:
            return sum(map(len, (await _orders(settings)).values())) == 15 * len(people)

        await wait_for(all_seen, timeout=90)
    seen = await _orders(settings)
    assert seen == {p: list(range(15)) for p in people}
    assert len(await read_to_end(settings, "profiles.dlq")) == 3


async def _orders(settings: Settings) -> dict[str, list[int]]:
    client = mongo_client(settings)
    try:
        docs = client[f"{settings.database_prefix}_probe"].order.find()
        return {d["_id"]: d["seen"] async for d in docs}
    finally:
        await client.close()


async def test_a_message_with_a_header_that_is_not_utf8_is_applied_not_stuck(
    fresh: Callable[..., Awaitable[Settings]],
) -> None:
    settings = await fresh()
    event, bad = deleted("odd-header"), b'{"not": "a cloudevent"}'
    producer = AIOKafkaProducer(bootstrap_servers=settings.resolved_kafka())
    await producer.start()
    try:
        topic = topic_name(settings, "profiles")
        odd = [("origin", b"\xff\xfe")]
        # One key, one partition: the rejected one is settled before the event.
        await producer.send_and_wait(topic, bad, key=event.key, headers=odd)
        await producer.send_and_wait(topic, event.to_json(), key=event.key, headers=odd)
    finally:
        await producer.stop()
    async with running_service(probe_spec(), settings):
        await wait_for(lambda: _has(settings, event.id), timeout=60)
    [letter] = await read_to_end(settings, "profiles.dlq")
    assert letter.value == bad
    assert dead_letters([letter])[0]["origin"] == "\ufffd\ufffd"
