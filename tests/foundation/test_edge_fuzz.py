"""Fuzzing the edge: whatever bytes, headers and key a record carries, decoding it
gives a typed event or an `InvalidEvent` with a foreseen reason, and nothing else.

Documents come from each type's published schema and from mutations of its example
(wrong types, extreme numbers, NaN and infinities, lone surrogates, long strings,
deep nesting, missing and extra fields) or are random bytes. Each is then read as
many records: in structured and binary mode, whole and truncated or corrupted, with
the right key, a wrong one and none, on every topic."""

from __future__ import annotations

import json
import math
import random
from typing import Any, get_args

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.contract_docs import example_document
from shared.events import EventData, InvalidEvent, TopicKey, example_event
from shared.kafka_binding import decode_record
from tests.foundation.event_strategies import all_models, example_mutations, schema_documents

TOPICS: list[TopicKey] = list(get_args(TopicKey))
# Hypothesis draws a document; each document is read as ~20 records, so a type gets
# a few thousand records at a fraction of Hypothesis's cost per draw.
DOCUMENTS_PER_TYPE = 100
RECORDS_PER_TYPE = 2000
Headers = list[tuple[str, bytes | None]]
Record = tuple[bytes | None, Headers, bytes | None]

RAW = st.one_of(
    st.binary(max_size=200),
    st.none(),
    st.integers(1, 200_000).map(lambda n: b"[" * n),
    st.integers(1, 200_000).map(lambda n: b'{"a":' * n),
    st.integers(1, 300_000).map(lambda n: b'"' + b"x" * n + b'"'),
)
CONTENT_TYPES = [
    b"application/cloudevents+json", b"application/json; charset=utf-8", b"text/json",
    b"application/cloudevents+json; charset=latin-1", b"text/plain", b"\xff\xfe", b"",
]  # fmt: skip


def _bytes(document: Any, ascii_only: bool) -> bytes:
    # Lone surrogates become the bytes a careless encoder would write.
    return json.dumps(document, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")


def _binary(document: dict[str, Any]) -> tuple[bytes, Headers]:
    headers: Headers = []
    for name, attribute in document.items():
        if name != "data":
            text = attribute if isinstance(attribute, str) else json.dumps(attribute)
            headers.append((f"ce_{name}", text.encode("utf-8", "surrogatepass")))
    return _bytes(document["data"], ascii_only=False), headers


def _keys(document: Any, model: type[EventData]) -> list[bytes | None]:
    keys: list[bytes | None] = [None, b"", b"\xff\xfe-not-utf8"]
    if isinstance(document, dict) and isinstance(document.get("data"), dict):
        keys.append(str(document["data"].get(model.KEY, "")).encode("utf-8", "surrogatepass"))
    return keys


def records_of(
    document: Any, raw: bytes | None, model: type[EventData], rng: random.Random
) -> list[Record]:
    values: list[tuple[bytes | None, Headers]] = []
    if raw is not None or document is None:
        values.append((raw, []))
    else:
        structured = _bytes(document, ascii_only=rng.random() < 0.5)
        values.append((structured, []))
        values.append((structured, [("content-type", rng.choice(CONTENT_TYPES))]))
        if isinstance(document, dict) and "data" in document:
            value, headers = _binary(document)
            values.append((value, headers))
            broken = list(headers)
            broken.append((rng.choice(["ce_id", "ce_time", "ce_specversion", "content-type"]),
                           rng.choice([None, b"\xc3\x28", b"1.0", b""])))  # fmt: skip
            values.append((value, broken))
    whole = list(values)
    for whole_value, headers in whole:
        for _ in range(2 if whole_value else 0):
            cut = rng.randrange(len(whole_value) + 1) if whole_value else 0
            cut_value = (whole_value or b"")[:cut] + rng.randbytes(rng.randrange(4))
            values.append((cut_value, headers))
    out: list[Record] = []
    keys = _keys(document, model)
    for record_value, headers in values:
        for key in {keys[-1], rng.choice(keys)}:
            out.append((record_value, headers, key))
    return out


@pytest.mark.parametrize("model", all_models(), ids=lambda m: m.TYPE)
def test_decoding_any_record_gives_an_event_or_a_rejection_and_nothing_else(
    model: type[EventData],
) -> None:
    decoded_records = 0

    @settings(
        max_examples=DOCUMENTS_PER_TYPE,
        deadline=None,
        database=None,
        derandomize=True,  # the same records on every run, so the count below is stable
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(
        source=st.one_of(
            schema_documents(model).map(lambda d: (d, None)),
            example_mutations(model).map(lambda d: (d, None)),
            example_mutations(model).map(lambda d: (d, None)),
            RAW.map(lambda raw: (None, raw)),
        ),
        rng=st.randoms(use_true_random=False),
    )
    def decode(source: tuple[Any, bytes | None], rng: random.Random) -> None:
        nonlocal decoded_records
        document, raw = source
        for value, headers, key in records_of(document, raw, model, rng):
            for topic in {rng.choice(TOPICS), model.TOPIC}:
                decoded_records += 1
                try:
                    decoded = decode_record(value, headers, topic, key=key)
                except InvalidEvent as exc:
                    # `undecodable` is the safety net for what nobody foresaw: the
                    # fuzzer finding one means a failure to understand and name.
                    assert exc.reason != "undecodable", exc.detail
                    assert exc.detail
                    continue
                assert topic == decoded.event.data.TOPIC
                assert decoded.event.key == key

    decode()
    assert decoded_records >= RECORDS_PER_TYPE


def _deep(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


AWKWARD_VALUES: list[Any] = [
    None, True, 0, -1, 2**31, 2**64, -(2**63), 10**30, 1e308, 0.5, math.nan, math.inf,
    -math.inf, "", " ", "\x00", "\ud800", "A" * 300, "x" * 100_000, "Europe", "America",
    "Etc", "Europe/../UTC", "../../etc/passwd", "und", "x-klingon", "en--GB",
    "2026-13-45T99:99:99Z", "application/xml", [], [None], ["\ud800"], {}, {"k": [1]},
    _deep(40), _deep(5000),
]  # fmt: skip


def _fields(document: dict[str, Any]) -> list[tuple[str, ...]]:
    paths: list[tuple[str, ...]] = [(name,) for name in document if name != "data"]
    paths += [("data", name) for name in document["data"]]
    return paths


@pytest.mark.parametrize("model", all_models(), ids=lambda m: m.TYPE)
def test_every_field_set_to_every_awkward_value_is_read_or_rejected_for_a_reason(
    model: type[EventData],
) -> None:
    base = example_document(model)
    key = example_event(model).key
    for path in _fields(base):
        for value in AWKWARD_VALUES:
            document = json.loads(json.dumps(base))
            parent = document if len(path) == 1 else document["data"]
            parent[path[-1]] = value
            try:
                raw = json.dumps(document).encode("utf-8", "surrogatepass")
            except RecursionError:
                raw = b'{"data":' + b"[" * 5000
            try:
                decode_record(raw, [], model.TOPIC, key=key)
            except InvalidEvent as exc:
                assert exc.reason != "undecodable", (path, exc.detail)
