"""The delivery path without a broker or a database: FastStream's `TestKafkaBroker`
drives the service's real batch subscriber, and decoding is checked on records."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aiokafka import ConsumerRecord
from faststream.kafka import TestKafkaBroker
from faststream.kafka.annotations import KafkaMessage
from pymongo import AsyncMongoClient

from shared import delivery, kafka_binding
from shared.dead_letter import HEADER_DETAIL, HEADER_ERROR, HEADER_SERVICE, HEADER_TOPIC
from shared.delivery import decode
from shared.events import CloudEvent, Decoded
from shared.runtime import ServiceRuntime, ServiceSpec, UnitOfWork
from shared.service import ServiceHost
from shared.settings import Settings
from shared.topics import Topics

NOWHERE = Settings(kafka_bootstrap="127.0.0.1:9", mongo_uri="mongodb://127.0.0.1:9")


async def _never_called(uow: UnitOfWork, event: CloudEvent[Any]) -> None:
    raise AssertionError("no event of this test may reach a handler")


async def _no_publish(topic: str, key: bytes, value: bytes, headers: dict[str, str]) -> None:
    return None


def record(value: bytes | None, topic: str = "mentormesh.profiles") -> ConsumerRecord[bytes, bytes]:
    return ConsumerRecord(
        topic=topic, partition=2, offset=7, timestamp=0, timestamp_type=0, key=b"k",
        value=value, checksum=None, serialized_key_size=1,
        serialized_value_size=len(value or b""), headers=[("origin", b"\xff\xfe")],
    )  # fmt: skip


async def test_a_record_that_is_not_a_cloudevent_goes_through_the_subscriber_to_the_dlq() -> None:
    spec = ServiceSpec("probe", inputs=("profiles",), outputs=(), handle=_never_called)
    host = ServiceHost(spec, NOWHERE)
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(NOWHERE.mongo_uri, connect=False)
    host.attach(ServiceRuntime("probe", NOWHERE, client, _no_publish))
    profiles = Topics().profiles
    seen: list[KafkaMessage] = []

    @host.broker.subscriber(profiles + ".dlq")
    async def dead_letters(msg: KafkaMessage) -> None:
        seen.append(msg)

    body = json.dumps({"hello": "world"}).encode()
    try:
        async with TestKafkaBroker(host.broker) as broker:
            await broker.publish(body, profiles, key=b"person-1")
    finally:
        await client.close()

    [letter] = seen
    assert letter.body == body
    assert not isinstance(letter.raw_message, tuple)
    assert letter.raw_message.key == b"person-1"
    assert letter.headers[HEADER_ERROR] == "not-cloudevent"
    assert letter.headers[HEADER_SERVICE] == "probe"
    assert letter.headers[HEADER_TOPIC] == profiles
    assert letter.headers[HEADER_DETAIL]


def test_an_exception_nobody_foresaw_while_decoding_becomes_an_undecodable_rejection(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def explode(document: Any, topic: str | None = None) -> Decoded:
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(kafka_binding, "read_document", explode)
    arrival = decode(record(b"[[[[[]]]]]"), "profiles")
    assert arrival.event is None and arrival.rejection is not None
    assert arrival.rejection.reason == "undecodable"
    assert arrival.rejection.detail == "RecursionError: maximum recursion depth exceeded"


def test_a_record_without_a_value_is_rejected_not_raised() -> None:
    arrival = decode(record(None), "profiles")
    assert arrival.rejection is not None and arrival.rejection.reason == "not-json"


def test_dead_letter_headers_keep_a_header_that_is_not_utf8_readable() -> None:
    assert delivery.original_headers(record(b"{}")) == {"origin": "\ufffd\ufffd"}
