"""Log lines a machine can read: one JSON object per line on stdout (plain text when
stdout is a terminal), each carrying the service and, while one event is being
handled, that event's id, type, topic, partition and offset.

The event comes from a context variable that `shared.delivery` sets around each
record it applies or dead-letters (`handling(...)`), so every line logged meanwhile,
by any module, names the event without being passed it.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import sys
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import IO

from pythonjsonlogger.json import JsonFormatter

TEXT_FORMAT = "%(asctime)s %(service)s[%(process)d] %(levelname)s %(name)s: %(message)s%(event)s"
JSON_FIELDS = "%(levelname)s %(name)s %(message)s %(process)d"


@dataclass(frozen=True)
class HandledEvent:
    """The event a log line is about; `id` and `type` are unknown ("") for a record
    that could not be decoded."""

    event_id: str
    event_type: str
    topic: str
    partition: int
    offset: int


_handled: contextvars.ContextVar[HandledEvent | None] = contextvars.ContextVar(
    "mentormesh_handled_event", default=None
)


@contextlib.contextmanager
def handling(event: HandledEvent) -> Iterator[None]:
    """Every line logged inside names `event`."""
    token = _handled.set(event)
    try:
        yield
    finally:
        _handled.reset(token)


def handled_event() -> HandledEvent | None:
    return _handled.get()


class EventContext(logging.Filter):
    """Puts the service and the event being handled onto each record."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def filter(self, record: logging.LogRecord) -> bool:
        record.service = self.service
        event = _handled.get()
        if event is None:
            record.event = ""
        else:
            for name, value in asdict(event).items():
                setattr(record, name, value)
            record.event = f" [{event.event_id} {event.topic}[{event.partition}]@{event.offset}]"
        return True


class EventJsonFormatter(JsonFormatter):
    def __init__(self) -> None:
        super().__init__(
            JSON_FIELDS,
            rename_fields={"levelname": "level", "name": "logger"},
            # `event` is the text form's suffix; JSON has the fields themselves.
            reserved_attrs=[*_RESERVED, "event"],
            timestamp="time",  # ISO 8601, UTC
        )


_RESERVED = list(JsonFormatter().reserved_attrs)


def configure_logging(service: str, level: str = "INFO", stream: IO[str] | None = None) -> None:
    """Route the root logger to `stream` (stdout): JSON lines, or text on a terminal."""
    out = stream or sys.stdout
    handler = logging.StreamHandler(out)
    handler.addFilter(EventContext(service))
    if out.isatty():
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    else:
        handler.setFormatter(EventJsonFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # FastStream gives its own logger a coloured handler of its own: send it through ours.
    framework = logging.getLogger("faststream")
    for old in list(framework.handlers):
        framework.removeHandler(old)
    framework.propagate = True
    framework.setLevel(logging.NOTSET)
