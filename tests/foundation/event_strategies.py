"""Hypothesis strategies for events: documents the published schemas describe, and
mutations of valid events of the kinds platforms get wrong (or attackers try)."""

from __future__ import annotations

import json
import math
from functools import cache
from typing import Any
from zoneinfo import available_timezones

from hypothesis import strategies as st
from jsonschema import Draft202012Validator, FormatChecker

from shared.contract_docs import event_schema, example_document
from shared.events import DATA_MODELS, EventData
from shared.languages import is_language
from tests.foundation.schema_strategy import from_schema

Document = dict[str, Any]
TIMEZONES = sorted(available_timezones())
LANGUAGES = ["en", "en-GB", "pt-BR", "zh-Hans", "zh-Hant", "English", "Deutsch", "fr", "ja"]


def format_checker() -> FormatChecker:
    """JSON Schema's formats (date-time through rfc3339-validator) and the
    contract's own, checked the way MentorMesh checks them."""
    checker = FormatChecker()
    # A format applies to strings only; other types are the `type` keyword's business.
    checker.checks("x-iana-time-zone")(lambda v: not isinstance(v, str) or v in TIMEZONES)
    checker.checks("x-language")(lambda v: not isinstance(v, str) or is_language(v))
    return checker


@cache
def validator(model: type[EventData]) -> Draft202012Validator:
    return Draft202012Validator(event_schema(model), format_checker=format_checker())


@cache
def schema_documents(model: type[EventData]) -> st.SearchStrategy[Document]:
    """Documents the published schema of `model` accepts."""
    return from_schema(
        event_schema(model),
        custom_formats={
            "x-iana-time-zone": st.sampled_from(TIMEZONES),
            "x-language": st.sampled_from(LANGUAGES),
        },
    )


# Values of every JSON type, and the awkward ones.
NASTY: st.SearchStrategy[Any] = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.sampled_from([0, -1, 2**31, 2**53 + 1, 2**64, -(2**63), 10**30]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([math.nan, math.inf, -math.inf, 1e308, -1e-308, 0.5]),
    st.text(max_size=20),
    st.sampled_from(["\ud800", "a\udfffb", "\x00", "", " ", "Europe/Berlin", "en-GB"]),
    # Names of directories in the tz database, and paths.
    st.sampled_from(["Europe", "America", "Etc", "../../etc/passwd", "Europe/../UTC"]),
    st.integers(1_000, 100_000).map(lambda n: "x" * n),
    st.integers(1, 200).map(lambda depth: _nested(depth)),
    st.lists(st.text(max_size=5), max_size=5),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
)


# Strings that once broke, or could break, a parser or a lookup behind it.
NASTY_STRINGS: st.SearchStrategy[str] = st.one_of(
    st.sampled_from(
        ["\ud800", "a\udfffb", "\x00", "", " ", "Europe", "America", "Etc", "Europe/../UTC",
         "../../etc/passwd", "/etc/passwd", "und", "x-klingon", "zz-ZZ", "en--GB",
         "1.0", "2026-13-45T99:99:99Z", "NaN", "application/xml"]
    ),
    st.integers(60, 400).map(lambda n: "A" * n),
    st.text(max_size=8),
)  # fmt: skip


def _nested(depth: int) -> Any:
    value: Any = []
    for _ in range(depth):
        value = [value] if depth % 2 else {"k": value}
    return value


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    paths = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            paths += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            paths += _paths(value, (*prefix, index))
    return paths


@st.composite
def mutated(draw: st.DrawFn, base: Document) -> Any:
    """`base` with up to three changes: a value replaced, a field removed, a field
    added."""
    document: Any = json.loads(json.dumps(base))
    for _ in range(draw(st.integers(1, 3))):
        paths = _paths(document)
        path = draw(st.sampled_from(paths))
        action = draw(st.sampled_from(["replace", "replace", "delete", "add"]))
        if not path:
            if action == "replace":
                document = draw(NASTY)
            continue
        parent = document
        for step in path[:-1]:
            parent = parent[step]
        last = path[-1]
        if action == "replace":
            current = parent[last]
            parent[last] = draw(NASTY_STRINGS if isinstance(current, str) else NASTY)
        elif action == "delete":
            del parent[last]
        else:
            target = parent[last]
            if isinstance(target, dict):
                target[draw(st.text(max_size=25))] = draw(NASTY)
            elif isinstance(target, list):
                target.append(draw(NASTY))
    return document


def example_mutations(model: type[EventData]) -> st.SearchStrategy[Any]:
    return mutated(example_document(model))


def all_models() -> list[type[EventData]]:
    return list(DATA_MODELS)
