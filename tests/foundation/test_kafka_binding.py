"""The CloudEvents Kafka binding: records in either content mode become typed events,
checked against what the CloudEvents SDK writes and reads."""

from __future__ import annotations

import json
from typing import Any

import pytest
from cloudevents.core.bindings import kafka
from cloudevents.core.v1.event import CloudEvent as SdkEvent

from shared.events import (
    DATA_MODELS,
    EventData,
    InvalidEvent,
    ProfileDeleted,
    ProfileUpserted,
    example_event,
)
from shared.kafka_binding import STRUCTURED_CONTENT_TYPE, decode_record, structured_headers


def sdk_event(model: type[EventData], **changes: Any) -> SdkEvent:
    """The example of `model` as the CloudEvents SDK holds it."""
    ours = example_event(model)
    attributes: dict[str, Any] = json.loads(ours.to_json())
    data = attributes.pop("data")
    attributes["time"] = ours.time
    attributes.update(changes)
    return SdkEvent(attributes=attributes, data=data)


def key_of(model: type[EventData]) -> bytes:
    return example_event(model).key


@pytest.mark.parametrize("model", DATA_MODELS, ids=lambda m: m.TYPE)
def test_the_sdk_s_binary_mode_is_read_as_the_same_event(model: type[EventData]) -> None:
    message = kafka.to_binary_event(sdk_event(model), key_mapper=lambda _: key_of(model))
    assert any(name.startswith("ce_") for name in message.headers)
    decoded = decode_record(message.value, list(message.headers.items()), model.TOPIC,
                            key=key_of(model))  # fmt: skip
    assert decoded.event == example_event(model)


@pytest.mark.parametrize("model", DATA_MODELS, ids=lambda m: m.TYPE)
def test_the_sdk_s_structured_mode_is_read_as_the_same_event(model: type[EventData]) -> None:
    message = kafka.to_structured_event(sdk_event(model), key_mapper=lambda _: key_of(model))
    decoded = decode_record(message.value, list(message.headers.items()), model.TOPIC,
                            key=key_of(model))  # fmt: skip
    assert decoded.event == example_event(model)


@pytest.mark.parametrize(
    "content_type",
    [b"application/cloudevents+json", b"application/cloudevents+json; charset=UTF-8",
     b"application/json; charset=utf-8", b"application/json"],
)  # fmt: skip
def test_structured_mode_takes_any_json_content_type(content_type: bytes) -> None:
    event = example_event(ProfileDeleted)
    decoded = decode_record(event.to_json(), [("content-type", content_type)], "profiles",
                            key=event.key)  # fmt: skip
    assert decoded.event == event


def test_binary_mode_with_a_json_data_content_type_and_charset_is_read() -> None:
    event = sdk_event(ProfileDeleted, datacontenttype="application/json; charset=utf-8")
    message = kafka.to_binary_event(event, key_mapper=lambda _: key_of(ProfileDeleted))
    decoded = decode_record(message.value, list(message.headers.items()), "profiles",
                            key=key_of(ProfileDeleted))  # fmt: skip
    assert decoded.event.datacontenttype == "application/json; charset=utf-8"


def test_what_mentormesh_writes_is_read_back_by_the_sdk() -> None:
    event = example_event(ProfileUpserted)
    assert dict(structured_headers()) == {"content-type": STRUCTURED_CONTENT_TYPE.encode()}
    message = kafka.KafkaMessage(
        headers=dict(structured_headers()), key=event.key, value=event.to_json()
    )
    read = kafka.from_kafka_event(message)
    assert (read.get_id(), read.get_type(), read.get_source()) == (
        event.id, event.type, event.source,
    )  # fmt: skip
    assert read.get_data() == json.loads(event.to_json())["data"]


def _binary_headers(model: type[EventData]) -> list[tuple[str, bytes | None]]:
    message = kafka.to_binary_event(sdk_event(model))
    return list(message.headers.items())


@pytest.mark.parametrize("missing", ["ce_id", "ce_time", "ce_specversion", "ce_source"])
def test_a_binary_event_missing_a_required_header_is_not_a_cloudevent(missing: str) -> None:
    # The SDK would invent a fresh id or the current time; the contract does not.
    headers = [(n, v) for n, v in _binary_headers(ProfileDeleted) if n != missing]
    value = json.dumps({"person_id": "person-4821"}).encode()
    with pytest.raises(InvalidEvent) as info:
        decode_record(value, headers, "profiles", key=b"person-4821")
    assert info.value.reason == "not-cloudevent"
    assert missing.removeprefix("ce_") in info.value.detail


@pytest.mark.parametrize(
    ("header", "value", "reason"),
    [
        ("ce_id", b"\xff\xfe", "not-cloudevent"),
        ("content-type", b"text/plain", "not-cloudevent"),
        ("content-type", b"application/json; charset=latin-1", "not-json"),
        ("ce_time", b"yesterday", "not-cloudevent"),
        ("ce_data", b"{}", "not-cloudevent"),
    ],
)
def test_bad_binary_headers_are_rejected_with_a_reason(
    header: str, value: bytes, reason: str
) -> None:
    headers = [(n, v) for n, v in _binary_headers(ProfileDeleted) if n != header]
    headers.append((header, value))
    body = json.dumps({"person_id": "person-4821"}).encode()
    with pytest.raises(InvalidEvent) as info:
        decode_record(body, headers, "profiles", key=b"person-4821")
    assert info.value.reason == reason


def test_a_header_given_twice_with_two_values_is_ambiguous() -> None:
    headers = [*_binary_headers(ProfileDeleted), ("ce_id", b"another-id")]
    with pytest.raises(InvalidEvent) as info:
        decode_record(b'{"person_id": "person-4821"}', headers, "profiles", key=b"person-4821")
    assert info.value.reason == "not-cloudevent"


def test_structured_mode_with_a_content_type_that_is_not_json_is_rejected() -> None:
    event = example_event(ProfileDeleted)
    with pytest.raises(InvalidEvent) as info:
        decode_record(event.to_json(), [("content-type", b"application/cloudevents+avro")],
                      "profiles", key=event.key)  # fmt: skip
    assert info.value.reason == "not-cloudevent"


@pytest.mark.parametrize("key", [None, b"someone-else", b"\xff"])
def test_a_record_not_keyed_by_its_type_s_key_field_is_rejected(key: bytes | None) -> None:
    event = example_event(ProfileDeleted)
    with pytest.raises(InvalidEvent) as info:
        decode_record(event.to_json(), [], "profiles", key=key)
    assert info.value.reason == "wrong-key"
    assert "data.person_id" in info.value.detail


def test_an_empty_record_is_not_json() -> None:
    with pytest.raises(InvalidEvent) as info:
        decode_record(None, [], "profiles", key=None)
    assert info.value.reason == "not-json"


def test_headers_of_other_systems_are_left_alone() -> None:
    event = example_event(ProfileDeleted)
    headers = [("traceparent", b"00-abc-01"), ("x-mentormesh-error", b"\xff")]
    assert decode_record(event.to_json(), headers, "profiles", key=event.key).event == event


def test_a_failure_nobody_foresaw_is_undecodable_with_its_type_and_message(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(raw: str) -> str:
        raise RuntimeError("a bug in a validator")

    monkeypatch.setattr("shared.events._valid_timezone", broken)
    monkeypatch.setattr("shared.events.load_json", lambda raw: 1 / 0)
    monkeypatch.setattr("shared.kafka_binding.load_json", lambda raw: 1 / 0)
    event = example_event(ProfileDeleted)
    with pytest.raises(InvalidEvent) as info:
        decode_record(event.to_json(), [], "profiles", key=event.key)
    assert info.value.reason == "undecodable"
    assert info.value.detail == "ZeroDivisionError: division by zero"


def test_an_empty_content_type_header_counts_as_none() -> None:
    # FastStream and other clients send `content-type: ""` when none was given.
    event = example_event(ProfileDeleted)
    decoded = decode_record(event.to_json(), [("content-type", b"")], "profiles", key=event.key)
    assert decoded.event == event
