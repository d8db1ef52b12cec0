"""At-least-once delivery made safe: dead letters, idempotency, the outbox.
Against the real broker and database."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from shared.dead_letter import HEADER_DETAIL, HEADER_ERROR, HEADER_SERVICE
from shared.events import CloudEvent, NudgeEmitted, ProfileDeleted, make_event
from shared.runtime import ServiceSpec, UnitOfWork
from shared.settings import Settings
from tests.support import (
    consume_until,
    dead_letters,
    mongo_client,
    publish,
    read_records,
    running_service,
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
    records = await read_records(settings, "profiles.dlq", lambda r: len(r) >= len(MALFORMED))
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
    nudges = await consume_until(settings, "nudges", lambda e: len(e) >= 2)
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
    nudges = await consume_until(settings, "nudges", lambda e: len(e) >= 1)
    assert [n.data.nudge_id for n in nudges] == ["n-crash-id"]


async def _fail_on_poison(uow: UnitOfWork, event: CloudEvent[Any]) -> None:
    if event.subject == "poison":
        raise ValueError("cannot apply this one")
    await _record_and_echo(uow, event)


async def test_an_event_whose_handler_keeps_failing_is_dead_lettered_after_retries(
    fresh: Callable[..., Awaitable[Settings]],
) -> None:
    settings = await fresh(partitions=1)
    spec = ServiceSpec(name="probe", inputs=("profiles",), outputs=("nudges",),
                       handle=_fail_on_poison)  # fmt: skip
    poison, after = deleted("poison"), deleted("after-poison")
    async with running_service(spec, settings):
        await publish(settings, [poison, after])
        await wait_for(lambda: _has(settings, after.id), timeout=60)
    records = await read_records(settings, "profiles.dlq", lambda r: len(r) >= 1)
    [headers] = dead_letters(records)
    assert headers[HEADER_ERROR] == "handler-error"
    assert "cannot apply this one" in headers[HEADER_DETAIL]
    assert poison.id not in await applied_times(settings)
