"""The CloudEvents Kafka protocol binding: Kafka records to typed events and back.

Reading accepts both content modes of the binding:
- structured: the record value is the whole CloudEvent as JSON; the `content-type`
  header, if any, is `application/cloudevents+json` or another JSON media type
  (`application/json; charset=utf-8`, ...);
- binary: the attributes are `ce_<name>` headers, the `content-type` header is the
  `datacontenttype`, and the value is the `data`, as JSON.

Either way the event then passes the same strict envelope and `data` models
(`shared/events.py`), and the record key must be the field the type is keyed by.
MentorMesh writes structured mode with `content-type: application/cloudevents+json;
charset=utf-8`, which any CloudEvents SDK reads back.

The header mapping is done here rather than by the CloudEvents SDK's `from_binary`:
the SDK fills a missing `ce_id` with a fresh UUID and a missing `ce_time` with the
current time (fatal for de-duplication by id and for event time), and parses `data`
without the contract's limits. Tests check this reader against the SDK's writer and
the SDK's reader against what MentorMesh writes.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from shared.events import (
    JSON_MEDIA_TYPE,
    Decoded,
    InvalidEvent,
    TopicKey,
    load_json,
    read_document,
    rejecting_the_unforeseen,
)
from shared.limits import MAX_MESSAGE_BYTES

CE_PREFIX = "ce_"
CONTENT_TYPE = "content-type"
STRUCTURED_CONTENT_TYPE = "application/cloudevents+json; charset=utf-8"

RecordHeaders = Sequence[tuple[str, bytes | None]]


def decode_record(
    value: bytes | None, headers: RecordHeaders, topic: TopicKey, *, key: bytes | None
) -> Decoded:
    """One Kafka record of `topic` as a typed event (with the `data` fields it
    ignored), in either content mode. Raises `InvalidEvent` and nothing else."""
    with rejecting_the_unforeseen():
        named = _header_map(headers)
        if any(name.startswith(CE_PREFIX) for name in named):
            document = _binary_document(value, named)
        else:
            _check_structured_content_type(named.get(CONTENT_TYPE))
            if not value:
                raise InvalidEvent("not-json", "the message is empty")
            document = load_json(value)
        decoded = read_document(document, topic)
        expected = decoded.event.key
        if key != expected:
            raise InvalidEvent(
                "wrong-key",
                f"the Kafka key of {decoded.event.type} must be data."
                f"{decoded.event.data.KEY} ({expected[:200]!r}), not {_shown(key)}",
            )
        return decoded


def structured_headers() -> list[tuple[str, bytes]]:
    """Headers of a record MentorMesh writes (structured mode)."""
    return [(CONTENT_TYPE, STRUCTURED_CONTENT_TYPE.encode())]


def _shown(key: bytes | None) -> str:
    return "no key" if key is None else repr(key[:200])


def _header_map(headers: RecordHeaders) -> dict[str, bytes]:
    """Header names in lower case (CloudEvents attribute names are), values as bytes;
    a CloudEvents header given twice with different values is ambiguous."""
    total = sum(len(name) + len(value or b"") for name, value in headers)
    if total > MAX_MESSAGE_BYTES:
        raise InvalidEvent(
            "too-large", f"{total} bytes of headers; a message holds at most {MAX_MESSAGE_BYTES}"
        )
    named: dict[str, bytes] = {}
    for name, value in headers:
        lowered = name.lower()
        if not (lowered.startswith(CE_PREFIX) or lowered == CONTENT_TYPE):
            continue  # not ours to read (tracing, the DLQ's own headers, ...)
        raw = value or b""
        if lowered == CONTENT_TYPE and not raw.strip():
            continue  # an empty content type says nothing (some clients always send one)
        if named.get(lowered, raw) != raw:
            raise InvalidEvent("not-cloudevent", f"header {name[:60]!r} given twice")
        named[lowered] = raw
    return named


def _text(name: str, raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidEvent("not-cloudevent", f"header {name[:60]!r} is not UTF-8") from None


def _media_type(raw: bytes) -> str:
    content_type = _text(CONTENT_TYPE, raw).strip()
    charset = re.search(r";\s*charset\s*=\s*\"?([^\";\s]+)", content_type, re.IGNORECASE)
    if charset and charset.group(1).lower() not in ("utf-8", "utf8"):
        raise InvalidEvent("not-json", f"charset {charset.group(1)[:40]!r}: only UTF-8 is read")
    return content_type


def _check_structured_content_type(raw: bytes | None) -> None:
    if raw is None:
        return  # a bare JSON CloudEvent, as MentorMesh has always accepted
    content_type = _media_type(raw)
    if not re.match(JSON_MEDIA_TYPE, content_type.lower()):
        raise InvalidEvent(
            "not-cloudevent",
            f"content-type {content_type[:100]!r}: structured mode must be "
            "application/cloudevents+json (or binary mode with ce_ headers)",
        )


def _binary_document(value: bytes | None, named: dict[str, bytes]) -> dict[str, object]:
    document: dict[str, object] = {}
    for name, raw in named.items():
        if name.startswith(CE_PREFIX):
            attribute = name.removeprefix(CE_PREFIX)
            if attribute in ("data", "data_base64", "datacontenttype"):
                raise InvalidEvent(
                    "not-cloudevent", f"header {name!r}: {attribute} is not a header attribute"
                )
            document[attribute] = _text(name, raw)
    if CONTENT_TYPE in named:
        content_type = _media_type(named[CONTENT_TYPE])
        if not re.match(JSON_MEDIA_TYPE, content_type):
            raise InvalidEvent(
                "not-cloudevent",
                f"content-type {content_type[:100]!r}: binary-mode data must be JSON",
            )
        document["datacontenttype"] = content_type
    if value:
        document["data"] = load_json(value)
    return document
