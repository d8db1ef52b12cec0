"""Messages that cannot be applied go, unchanged, to `<topic>.dlq` with headers
that say why and who rejected them; `DeadLetter` reads them back."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from shared.events import RejectionReason

HEADER_ERROR = "x-mentormesh-error"
HEADER_DETAIL = "x-mentormesh-error-detail"
HEADER_SERVICE = "x-mentormesh-service"
HEADER_TOPIC = "x-mentormesh-source-topic"
HEADER_PARTITION = "x-mentormesh-source-partition"
HEADER_OFFSET = "x-mentormesh-source-offset"
HEADER_PREFIX = "x-mentormesh-"

# A reason from decoding (`RejectionReason`), or a handler that kept failing.
Reason = RejectionReason | Literal["handler-error"]


@dataclass(frozen=True)
class Rejection:
    reason: Reason
    detail: str

    def headers(
        self, service: str, topic: str, partition: int, offset: int, original: dict[str, str]
    ) -> dict[str, str]:
        headers = dict(original)
        headers.update(
            {
                HEADER_ERROR: self.reason,
                HEADER_DETAIL: self.detail[:2000],
                HEADER_SERVICE: service,
                HEADER_TOPIC: topic,
                HEADER_PARTITION: str(partition),
                HEADER_OFFSET: str(offset),
            }
        )
        return headers


@dataclass(frozen=True)
class DeadLetter:
    """One record of a `.dlq` topic: the original message and why it was rejected."""

    dlq_partition: int
    dlq_offset: int
    dead_lettered_at: datetime
    reason: str
    detail: str
    service: str
    source_topic: str
    source_partition: int
    source_offset: int
    key: bytes | None
    value: bytes
    # The original record's own headers (binary-mode ce_* attributes among them).
    original_headers: tuple[tuple[str, bytes], ...]

    @classmethod
    def from_record(
        cls,
        partition: int,
        offset: int,
        timestamp_ms: int,
        key: bytes | None,
        value: bytes | None,
        headers: Sequence[tuple[str, bytes | None]],
    ) -> DeadLetter:
        ours = {
            k: (v or b"").decode(errors="replace")
            for k, v in headers
            if k.startswith(HEADER_PREFIX)
        }
        return cls(
            dlq_partition=partition,
            dlq_offset=offset,
            dead_lettered_at=datetime.fromtimestamp(timestamp_ms / 1000, UTC),
            reason=ours.get(HEADER_ERROR, "unknown"),
            detail=ours.get(HEADER_DETAIL, ""),
            service=ours.get(HEADER_SERVICE, ""),
            source_topic=ours.get(HEADER_TOPIC, ""),
            source_partition=_int(ours.get(HEADER_PARTITION)),
            source_offset=_int(ours.get(HEADER_OFFSET)),
            key=key,
            value=value or b"",
            original_headers=tuple(
                (k, v or b"") for k, v in headers if not k.startswith(HEADER_PREFIX)
            ),
        )

    @property
    def origin(self) -> tuple[str, int, int]:
        """Where the message was first published: several services may dead-letter
        the same message, and it is the same message."""
        return (self.source_topic, self.source_partition, self.source_offset)


def _int(text: str | None) -> int:
    try:
        return int(text or "-1")
    except ValueError:
        return -1
