"""The compatibility policy and both content modes, on the real broker: inside a
version an added field is ignored (and counted), never a reason to lose the event; a
missing required field is still dead-lettered; binary mode and any JSON content type
are applied; a poison message is dead-lettered and the valid ones behind it applied."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from cloudevents.core.bindings import kafka
from cloudevents.core.v1.event import CloudEvent as SdkEvent

from shared.dead_letter import HEADER_DETAIL, HEADER_ERROR
from shared.events import (
    CloudEvent,
    NudgeEmitted,
    ProfileDeleted,
    ProfileUpserted,
    make_event,
    parse_event,
)
from shared.runtime import ServiceSpec, UnitOfWork
from shared.settings import Settings
from tests.support import (
    dead_letters,
    mongo_client,
    read_records,
    running_service,
    topic_name,
    wait_for,
)

pytestmark = pytest.mark.infra
Headers = list[tuple[str, bytes]]


async def _record(uow: UnitOfWork, event: CloudEvent[Any]) -> None:
    await uow.db.applied.update_one(
        {"_id": event.id}, {"$inc": {"times": 1}}, upsert=True, session=uow.session
    )


def probe() -> ServiceSpec:
    return ServiceSpec(name="probe", inputs=("profiles",), outputs=(), handle=_record)


async def applied(settings: Settings) -> set[str]:
    client = mongo_client(settings)
    try:
        docs = client[f"{settings.database_prefix}_probe"].applied.find()
        return {d["_id"] async for d in docs}
    finally:
        await client.close()


async def send(settings: Settings, records: list[tuple[bytes | None, bytes, Headers]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=settings.resolved_kafka(), acks="all")
    await producer.start()
    try:
        for key, value, headers in records:
            await producer.send_and_wait(
                topic_name(settings, "profiles"), value, key=key, headers=headers
            )
    finally:
        await producer.stop()


def person(person_id: str, **data: Any) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(
        make_event(ProfileDeleted(person_id=person_id), source="/platform").to_json()
    )
    body["data"].update(data)
    return body


def structured(
    body: dict[str, Any], headers: Headers | None = None
) -> tuple[bytes, bytes, Headers]:
    return (body["data"]["person_id"].encode(), json.dumps(body).encode(), headers or [])


async def test_an_event_with_an_unknown_data_field_is_applied_and_the_field_counted(
    fresh: Callable[..., Awaitable[Settings]],
) -> None:
    settings = await fresh()
    newer = person("p-newer", nickname="Sam", preferences={"digest": "weekly"})
    async with running_service(probe(), settings) as runtime:
        await send(settings, [structured(newer)])
        await wait_for(lambda: _has(settings, newer["id"]))
        counted = runtime.metrics.unknown_fields.labels(
            topic_name(settings, "profiles"), ProfileDeleted.TYPE
        )._value.get()
    assert counted == 2


async def test_an_event_missing_a_required_field_is_still_dead_lettered(
    fresh: Callable[..., Awaitable[Settings]],
) -> None:
    settings = await fresh()
    upsert = json.loads(make_event(ProfileUpserted.example(), source="/platform").to_json())
    del upsert["data"]["timezone"]
    marker = person("p-after")
    async with running_service(probe(), settings):
        await send(settings, [(b"person-4821", json.dumps(upsert).encode(), []),
                              structured(marker)])  # fmt: skip
        await wait_for(lambda: _has(settings, marker["id"]))
    [headers] = dead_letters(await read_records(settings, "profiles.dlq", lambda r: len(r) >= 1))
    assert headers[HEADER_ERROR] == "invalid-data"
    assert "data.timezone: Field required" in headers[HEADER_DETAIL]
    assert upsert["id"] not in await applied(settings)


async def test_binary_mode_and_json_content_types_with_a_charset_are_applied(
    fresh: Callable[..., Awaitable[Settings]],
) -> None:
    settings = await fresh()
    charset = person("p-charset")
    charset["datacontenttype"] = "application/json; charset=utf-8"
    binary = person("p-binary")
    data = binary.pop("data")
    attributes = {**binary, "time": parse_event(json.dumps({**binary, "data": data})).time}
    message = kafka.to_binary_event(SdkEvent(attributes=attributes, data=data),
                                    key_mapper=lambda _: b"p-binary")  # fmt: skip
    cloudevents_json = person("p-structured")
    async with running_service(probe(), settings):
        await send(settings, [
            structured(charset, [("content-type", b"application/json; charset=utf-8")]),
            (b"p-binary", message.value, list(message.headers.items())),
            structured(cloudevents_json,
                       [("content-type", b"application/cloudevents+json; charset=UTF-8")]),
        ])  # fmt: skip
        for body in (charset, binary, cloudevents_json):
            await wait_for(partial(_has, settings, body["id"]))


async def test_a_poison_message_is_dead_lettered_and_the_valid_ones_behind_it_applied(
    fresh: Callable[..., Awaitable[Settings]],
) -> None:
    settings = await fresh(partitions=1)
    poison = json.loads(make_event(ProfileUpserted.example(), source="/platform").to_json())
    poison["data"]["timezone"] = "A" * 300  # once an OSError that stalled the partition
    nested = b'{"data":' + b"[" * 50_000  # once a RecursionError
    after = [person(f"p-after-{i}") for i in range(3)]
    async with running_service(probe(), settings):
        await send(settings, [(b"person-4821", json.dumps(poison).encode(), []),
                              (b"person-4821", nested, []),
                              *[structured(body) for body in after]])  # fmt: skip
        for body in after:
            await wait_for(partial(_has, settings, body["id"]))
    headers = dead_letters(await read_records(settings, "profiles.dlq", lambda r: len(r) >= 2))
    assert sorted(h[HEADER_ERROR] for h in headers) == ["invalid-data", "too-deep"]


async def _has(settings: Settings, event_id: str) -> bool:
    return event_id in await applied(settings)


async def _echo(uow: UnitOfWork, event: CloudEvent[Any]) -> None:
    uow.emit(NudgeEmitted(nudge_id="n-" + event.id, person_id="p", kind="probe",
                          reason="probe", message="probe"))  # fmt: skip


async def test_what_a_service_publishes_is_read_back_by_the_cloudevents_sdk(
    fresh: Callable[..., Awaitable[Settings]],
) -> None:
    settings = await fresh()
    spec = ServiceSpec(name="echo", inputs=("profiles",), outputs=("nudges",), handle=_echo)
    cause = person("p-cause")
    async with running_service(spec, settings):
        await send(settings, [structured(cause)])
        [record] = await read_records(settings, "nudges", lambda r: len(r) >= 1)
    message = kafka.KafkaMessage(headers=dict(record.headers), key=record.key, value=record.value)
    read = kafka.from_kafka_event(message)
    assert read.get_type() == NudgeEmitted.TYPE
    data = read.get_data()
    assert isinstance(data, dict) and data["nudge_id"] == "n-" + cause["id"]
    assert dict(record.headers)["content-type"].startswith(b"application/cloudevents+json")
