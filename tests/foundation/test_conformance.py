"""The published JSON Schemas and the code agree, both ways.

- Every schema is a 2020-12 schema with an `$id` and the type's generated example,
  which validates against it and parses.
- What a schema accepts, the code accepts (documents generated from the schema).
- What the code rejects, the schema rejects (mutations of the examples), and what
  the code accepts, the schema accepts. Message-level limits that JSON Schema cannot
  state (bytes, nesting depth, finite numbers, well-formed Unicode) are left out of
  the comparison: they are stated in docs/events.md and tested in test_limits.py.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from jsonschema import Draft202012Validator

from shared.contract_docs import JSON_SCHEMA_DIALECT, event_schema, example_document
from shared.events import EventData, InvalidEvent, load_json, parse_event
from tests.foundation.event_strategies import (
    all_models,
    example_mutations,
    schema_documents,
    validator,
)

SCHEMA_LEVEL = {"not-cloudevent", "unknown-type", "invalid-data"}


def fast(examples: int) -> settings:
    return settings(
        max_examples=examples,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


@pytest.mark.parametrize("model", all_models(), ids=lambda m: m.TYPE)
def test_each_schema_is_a_2020_12_schema_with_an_id_and_its_example(
    model: type[EventData],
) -> None:
    schema = event_schema(model)
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == JSON_SCHEMA_DIALECT
    assert schema["$id"].endswith(model.TYPE.removeprefix("mentormesh."))
    [example] = schema["examples"]
    assert example == example_document(model)
    validator(model).validate(example)
    assert parse_event(json.dumps(example), model.TOPIC).type == model.TYPE


@pytest.mark.parametrize("model", all_models(), ids=lambda m: m.TYPE)
def test_what_the_schema_accepts_the_code_accepts(model: type[EventData]) -> None:
    @fast(60)
    @given(document=schema_documents(model))
    def check(document: dict[str, Any]) -> None:
        validator(model).validate(document)  # the generator keeps to the schema
        parse_event(json.dumps(document), model.TOPIC)

    check()


def _verdict_of_the_code(document: Any) -> str | None:
    """None if accepted; the reason if rejected; "message-level" if a limit JSON
    Schema cannot state was what failed."""
    try:
        raw = json.dumps(document).encode("utf-8")
        load_json(raw)
    except (InvalidEvent, UnicodeEncodeError, ValueError):
        return "message-level"
    try:
        parse_event(raw)
    except InvalidEvent as exc:
        assert exc.reason in SCHEMA_LEVEL, exc
        return exc.reason
    return None


@pytest.mark.parametrize("model", all_models(), ids=lambda m: m.TYPE)
def test_what_the_code_rejects_the_schema_rejects_and_the_other_way_round(
    model: type[EventData],
) -> None:
    @fast(150)
    @given(document=example_mutations(model))
    def check(document: Any) -> None:
        verdict = _verdict_of_the_code(document)
        if verdict == "message-level":
            return
        errors = [e.message[:200] for e in validator(model).iter_errors(document)]
        if verdict is None:
            assert not errors, f"the code accepts what the schema rejects: {errors}"
        else:
            assert errors, f"the code rejects ({verdict}) what the schema accepts"

    check()
