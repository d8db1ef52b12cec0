"""Messages that cannot be applied go, unchanged, to `<topic>.dlq` with headers
that say why and who rejected them."""

from __future__ import annotations

from dataclasses import dataclass

HEADER_ERROR = "x-mentormesh-error"
HEADER_DETAIL = "x-mentormesh-error-detail"
HEADER_SERVICE = "x-mentormesh-service"
HEADER_TOPIC = "x-mentormesh-source-topic"
HEADER_PARTITION = "x-mentormesh-source-partition"
HEADER_OFFSET = "x-mentormesh-source-offset"


@dataclass(frozen=True)
class Rejection:
    # not-json | not-cloudevent | unknown-type | wrong-topic | invalid-data | handler-error
    reason: str
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
