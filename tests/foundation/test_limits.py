"""Every limit of the contract holds at its value, is rejected one past it, and is
stated in the published JSON Schema."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from shared import limits
from shared.contract_docs import LIMIT_NAMES, event_schema, limits_markdown
from shared.events import (
    DATA_BY_TYPE,
    FeedbackSubmitted,
    InvalidEvent,
    MatchProposed,
    MentorshipEnded,
    ProfileDeleted,
    ProfileUpserted,
    example_event,
    parse_event,
)

Document = dict[str, Any]


def document(model: type[Any]) -> Document:
    body: Document = json.loads(example_event(model).to_json())
    return body


@dataclass(frozen=True)
class Limit:
    name: str
    model: type[Any]
    # Sets a field to a value of size n (characters or items).
    resize: Callable[[Document, int], None]
    # Where the limit sits in the schema: (path from the root, keyword).
    schema_at: tuple[tuple[str, ...], str] | None
    reason: str = "invalid-data"


def _data(field: str, make: Callable[[int], Any]) -> Callable[[Document, int], None]:
    def resize(body: Document, n: int) -> None:
        body["data"][field] = make(n)

    return resize


def _envelope(field: str) -> Callable[[Document, int], None]:
    def resize(body: Document, n: int) -> None:
        body[field] = "s" * n

    return resize


def _language(n: int) -> list[str]:
    # A private-use tag is well formed at any length: "en-x-aaaaaaaa-aaaaaaaa-...".
    tag = ("en-x-" + "-".join(["abcdefgh"] * 10))[:n]
    return [tag[:-1] + "z" if tag.endswith("-") else tag]


def _data_prop(field: str) -> tuple[str, ...]:
    return ("data", field)


LIMITS = [
    Limit("MAX_ID_LENGTH", ProfileDeleted, _data("person_id", lambda n: "p" * n),
          (_data_prop("person_id"), "maxLength")),
    Limit("MAX_TAG_LENGTH", ProfileUpserted, _data("goals", lambda n: ["g" * n]),
          ((*_data_prop("goals"), "items"), "maxLength")),
    Limit("MAX_LANGUAGE_LENGTH", ProfileUpserted, _data("languages", _language),
          ((*_data_prop("languages"), "items"), "maxLength")),
    Limit("MAX_ATTRIBUTE_LENGTH", ProfileDeleted, _envelope("source"),
          (("source",), "maxLength"), "not-cloudevent"),
    Limit("MAX_TEXT_LENGTH", MentorshipEnded, _data("reason", lambda n: "r" * n),
          (_data_prop("reason"), "maxLength")),
    Limit("MAX_NOTE_LENGTH", FeedbackSubmitted, _data("private_note", lambda n: "n" * n),
          (_data_prop("private_note"), "maxLength")),
    Limit("MAX_TAGS", ProfileUpserted, _data("skills", lambda n: [f"s{i}" for i in range(n)]),
          (_data_prop("skills"), "maxItems")),
    Limit("MAX_LANGUAGES", ProfileUpserted,
          _data("languages", lambda n: [f"en-x-{i:04d}" for i in range(n)]),
          (_data_prop("languages"), "maxItems")),
    Limit("MAX_PROGRAMMES", ProfileUpserted,
          _data("programmes", lambda n: [f"p{i}" for i in range(n)]),
          (_data_prop("programmes"), "maxItems")),
    Limit("MAX_REASONS", MatchProposed, _data("reasons", lambda n: ["why"] * n),
          (_data_prop("reasons"), "maxItems")),
    Limit("MAX_COMPONENTS", MatchProposed,
          _data("components", lambda n: {f"c{i}": 0.1 for i in range(n)}),
          (_data_prop("components"), "maxProperties")),
]  # fmt: skip


def _schema_value(model: type[Any], path: tuple[str, ...], keyword: str) -> Any:
    schema = event_schema(model)
    node: Any = schema
    for step in path:
        node = node["properties"][step] if "properties" in node else node[step]
        if "$ref" in node:
            node = schema["$defs"][node["$ref"].rsplit("/", 1)[1]]
        if "anyOf" in node:  # optional fields: the non-null branch
            node = next(branch for branch in node["anyOf"] if branch.get("type") != "null")
    return node[keyword]


@pytest.mark.parametrize("limit", LIMITS, ids=lambda limit: limit.name)
def test_a_value_at_the_limit_is_accepted_and_one_past_it_rejected(limit: Limit) -> None:
    value = getattr(limits, limit.name)
    at, past = document(limit.model), document(limit.model)
    limit.resize(at, value)
    limit.resize(past, value + 1)
    parse_event(json.dumps(at))
    with pytest.raises(InvalidEvent) as info:
        parse_event(json.dumps(past))
    assert info.value.reason == limit.reason


@pytest.mark.parametrize("limit", [lim for lim in LIMITS if lim.schema_at], ids=lambda x: x.name)
def test_the_json_schema_states_the_limit(limit: Limit) -> None:
    assert limit.schema_at is not None
    path, keyword = limit.schema_at
    assert _schema_value(limit.model, path, keyword) == getattr(limits, limit.name)


def test_a_time_zone_name_past_its_limit_is_rejected_without_looking_it_up() -> None:
    body = document(ProfileUpserted)
    body["data"]["timezone"] = "A" * 300  # once an OSError from the file system
    with pytest.raises(InvalidEvent) as info:
        parse_event(json.dumps(body))
    assert info.value.reason == "invalid-data"
    assert "timezone" in info.value.detail
    assert _schema_value(ProfileUpserted, _data_prop("timezone"), "maxLength") == (
        limits.MAX_TIMEZONE_LENGTH
    )


def test_a_type_past_its_limit_is_not_a_cloudevent() -> None:
    body = document(ProfileDeleted)
    body["type"] = "t" * (limits.MAX_TYPE_LENGTH + 1)
    with pytest.raises(InvalidEvent) as info:
        parse_event(json.dumps(body))
    assert info.value.reason == "not-cloudevent"


def test_a_message_of_the_maximum_size_is_read_and_one_byte_more_is_too_large() -> None:
    raw = example_event(ProfileDeleted).to_json()
    at = raw + b" " * (limits.MAX_MESSAGE_BYTES - len(raw))
    parse_event(at)
    with pytest.raises(InvalidEvent) as info:
        parse_event(at + b" ")
    assert info.value.reason == "too-large"


def _nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


def test_json_nested_to_the_maximum_depth_is_read_and_one_level_more_is_too_deep() -> None:
    # The envelope is level 1 and `data` level 2; an unknown field adds the rest.
    body = document(ProfileDeleted)
    body["data"]["nested"] = _nested(limits.MAX_JSON_DEPTH - 2)
    parse_event(json.dumps(body))
    body["data"]["nested"] = _nested(limits.MAX_JSON_DEPTH - 1)
    with pytest.raises(InvalidEvent) as info:
        parse_event(json.dumps(body))
    assert info.value.reason == "too-deep"


def test_nesting_deep_enough_to_exhaust_the_parser_is_too_deep_not_a_crash() -> None:
    with pytest.raises(InvalidEvent) as info:
        parse_event(b"[" * 100_000 + b"]" * 100_000)
    assert info.value.reason == "too-deep"


def test_every_limit_is_listed_in_the_docs() -> None:
    listed = "\n".join(limits_markdown())
    names = {n for n in dir(limits) if n.startswith("MAX_")}
    assert names == set(LIMIT_NAMES)
    assert all(f"`{name}` | {getattr(limits, name)} |" in listed for name in names)


def test_every_type_s_schema_bounds_every_string_and_list_it_carries() -> None:
    unbounded = []
    for model in DATA_BY_TYPE.values():
        schema = event_schema(model)
        for name, prop in schema["$defs"][model.__name__]["properties"].items():
            for node in [prop, *prop.get("anyOf", [])]:
                # A date-time has its own bounded form; an enum or a constant is a choice.
                bounded_format = node.get("format") == "date-time" or "enum" in node
                bounded_format = bounded_format or "const" in node
                if node.get("type") == "string" and "maxLength" not in node and not bounded_format:
                    unbounded.append(f"{model.TYPE}.{name}")
                if node.get("type") == "array" and "maxItems" not in node:
                    unbounded.append(f"{model.TYPE}.{name}")
                if node.get("type") == "object" and "maxProperties" not in node:
                    unbounded.append(f"{model.TYPE}.{name}")
    assert not unbounded
