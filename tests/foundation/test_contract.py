"""The event contract as a platform sees it."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from shared.contract_docs import check_docs, event_schema
from shared.events import (
    DATA_MODELS,
    FeedbackSubmitted,
    InvalidEvent,
    ProfileUpserted,
    SessionCompleted,
    example_event,
    make_event,
    parse_event,
)

ROOT = Path(__file__).resolve().parents[2]


def profile(**changes: object) -> ProfileUpserted:
    fields: dict[str, object] = dict(
        person_id="p1", roles=["mentee"], goals=["Rust"], passions=["chess"], skills=[],
        languages=["en"], timezone="Europe/Berlin", capacity=0, open_to_introductions=True,
        paused=False, revision=1,
    )  # fmt: skip
    fields.update(changes)
    return ProfileUpserted.model_validate(fields)


def test_an_event_survives_a_round_trip_through_json() -> None:
    event = make_event(profile(), source="/test")
    assert parse_event(event.to_json(), "profiles") == event


def test_the_kafka_key_is_the_partition_field_of_the_data() -> None:
    completed = SessionCompleted(
        mentorship_id="m-7", session_id="s1", occurred_at=datetime(2026, 3, 1, tzinfo=UTC),
        duration_minutes=45,
    )  # fmt: skip
    assert make_event(completed, source="/t").key == b"m-7"


def test_programmes_default_to_the_default_programme() -> None:
    assert profile().programmes == ["default"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"revision": "1"}, "revision"),
        ({"roles": ["admin"]}, "roles"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"capacity": -1}, "capacity"),
        ({"languages": ["Elvish-ish"]}, "languages"),
        ({"roles": ["mentee", "mentee"]}, "roles"),
    ],
)
def test_invalid_data_is_rejected_naming_the_field(change: dict[str, object], field: str) -> None:
    body = json.loads(make_event(profile(), source="/t").to_json())
    body["data"].update(change)
    with pytest.raises(InvalidEvent) as info:
        parse_event(json.dumps(body))
    assert info.value.reason == "invalid-data"
    assert field in info.value.detail


def test_every_type_has_an_example_that_is_a_valid_event_of_its_topic() -> None:
    for model in DATA_MODELS:
        event = example_event(model)
        assert parse_event(event.to_json(), model.TOPIC) == event, model.TYPE


def test_a_time_without_offset_is_not_a_valid_cloudevent_time() -> None:
    body = json.loads(make_event(profile(), source="/t").to_json())
    body["time"] = "2026-03-01T10:00:00"
    with pytest.raises(InvalidEvent) as info:
        parse_event(json.dumps(body))
    assert info.value.reason == "not-cloudevent"


def test_a_type_published_on_the_wrong_topic_is_rejected() -> None:
    with pytest.raises(InvalidEvent) as info:
        parse_event(make_event(profile(), source="/t").to_json(), "activity")
    assert info.value.reason == "wrong-topic"


def test_every_type_name_is_versioned_and_unique() -> None:
    types = [m.TYPE for m in DATA_MODELS]
    assert len(set(types)) == len(types)
    assert all(t.startswith("mentormesh.") and t.endswith(".v1") for t in types)


def test_the_private_note_is_marked_confidential_in_the_schema() -> None:
    schema = FeedbackSubmitted.model_json_schema()
    assert schema["properties"]["private_note"]["x-confidential"] is True


def test_docs_match_the_code() -> None:
    stale = check_docs(ROOT / "docs")
    assert not stale, f"run `mentormesh docs` to regenerate: {stale}"


def test_the_asyncapi_documents_carry_the_event_schemas() -> None:
    paths = sorted((ROOT / "docs" / "asyncapi").glob("*.json"))
    assert [p.stem for p in paths] == ["matcher", "network", "notifier"]
    for path in paths:
        document = json.loads(path.read_text())
        payloads = [m["payload"] for m in document["components"]["messages"].values()]
        assert any("oneOf" in p and p["oneOf"] for p in payloads), path


@pytest.mark.parametrize(
    "time", ["2026-03-01T10:00Z", "1772359200", "2026-03-01", "2026-03-01T10:00:00+0100"]
)
def test_a_time_that_is_not_rfc_3339_is_not_a_valid_cloudevent_time(time: str) -> None:
    body = json.loads(make_event(profile(), source="/t").to_json())
    body["time"] = time
    with pytest.raises(InvalidEvent) as info:
        parse_event(json.dumps(body))
    assert info.value.reason == "not-cloudevent"
    assert "RFC 3339" in info.value.detail


def test_specversion_is_required_by_the_schema_and_the_code_alike() -> None:
    body = json.loads(make_event(profile(), source="/t").to_json())
    del body["specversion"]
    with pytest.raises(InvalidEvent) as info:
        parse_event(json.dumps(body))
    assert info.value.reason == "not-cloudevent"
    assert "specversion" in event_schema(ProfileUpserted)["required"]


@pytest.mark.parametrize(
    "content_type", ["application/json", "application/json; charset=utf-8", "text/json",
                     "application/cloudevents+json"]
)  # fmt: skip
def test_any_json_data_content_type_is_accepted(content_type: str) -> None:
    body = json.loads(make_event(profile(), source="/t").to_json())
    body["datacontenttype"] = content_type
    assert parse_event(json.dumps(body)).datacontenttype == content_type


def test_a_data_content_type_that_is_not_json_is_rejected() -> None:
    body = json.loads(make_event(profile(), source="/t").to_json())
    body["datacontenttype"] = "application/xml"
    with pytest.raises(InvalidEvent) as info:
        parse_event(json.dumps(body))
    assert info.value.reason == "not-cloudevent"


def test_extension_attributes_are_kept_and_badly_named_ones_rejected() -> None:
    body = json.loads(make_event(profile(), source="/t").to_json())
    body["traceparent"] = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    assert parse_event(json.dumps(body)).model_extra == {"traceparent": body["traceparent"]}
    body["Trace-Parent"] = "x"
    with pytest.raises(InvalidEvent) as info:
        parse_event(json.dumps(body))
    assert info.value.reason == "not-cloudevent"
