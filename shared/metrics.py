"""Prometheus metrics every service exposes on `/metrics`.

Besides the counters and histograms below, the registry holds the process and GC
collectors, FastStream's Kafka middleware metrics (`faststream_*`, registered by the
host) and gauges read at scrape time: `gauge_at_scrape(name, doc, read)` registers a
gauge and an async `read` that `refresh()` awaits before a scrape, so a gauge that
needs the database costs one query per refresh, never one per event. Refreshes are
at most `refresh_every_s` apart: several scrapers (Prometheus pairs, a dashboard, the
demo watching its services' counters) must not make the database count its
collections several times a second.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    Histogram,
    ProcessCollector,
)

log = logging.getLogger("mentormesh.metrics")

Refresh = Callable[[], Awaitable[None]]
# A scrape waits at most this long for the gauges it refreshes (a slow database must
# not make `/metrics` time out): a gauge not refreshed in time keeps its last value.
REFRESH_TIMEOUT_S = 2.0


@dataclass
class ServiceMetrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)
    refresh_every_s: float = 0.0
    _refreshes: list[Refresh] = field(default_factory=list)
    _refreshed_at: float | None = None

    def __post_init__(self) -> None:
        ProcessCollector(registry=self.registry)
        GCCollector(registry=self.registry)
        self.consumed = Counter(
            "mentormesh_events_consumed_total",
            "Input events applied, by topic and type.",
            ["topic", "type"],
            registry=self.registry,
        )
        self.duplicates = Counter(
            "mentormesh_events_duplicate_total",
            "Redelivered events skipped because their CloudEvent id was already applied.",
            ["topic"],
            registry=self.registry,
        )
        self.dead_lettered = Counter(
            "mentormesh_events_dead_lettered_total",
            "Messages sent to a dead-letter topic, by reason.",
            ["topic", "reason"],
            registry=self.registry,
        )
        self.unknown_fields = Counter(
            "mentormesh_unknown_data_fields_total",
            "Fields of an input event's `data` that this version does not know, ignored "
            "(producers may add optional fields inside a version), by topic and type.",
            ["topic", "type"],
            registry=self.registry,
        )
        self.published = Counter(
            "mentormesh_events_published_total",
            "Events published, by type.",
            ["type"],
            registry=self.registry,
        )
        self.retries = Counter(
            "mentormesh_handler_retries_total",
            "Failed attempts to apply a message that will be tried again after a backoff.",
            ["topic"],
            registry=self.registry,
        )
        self.outage_retries = Counter(
            "mentormesh_transient_retries_total",
            "Batches tried again after a transient failure (database or broker unreachable).",
            registry=self.registry,
        )
        self.handle_seconds = Histogram(
            "mentormesh_handle_seconds",
            "Time to apply the batch an event came in, commit and publishing included.",
            ["topic"],
            registry=self.registry,
        )
        self.batch_records = Histogram(
            "mentormesh_batch_records",
            "Records fetched from Kafka and settled together (one batch).",
            buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500, 1000),
            registry=self.registry,
        )
        self.batch_events = Histogram(
            "mentormesh_batch_events",
            "Events applied together in one transaction.",
            buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500, 1000),
            registry=self.registry,
        )
        self.nudges = Counter(
            "mentormesh_nudges_emitted_total",
            "Nudges committed for publication (notifier), by rule (the nudge's kind).",
            ["kind"],
            registry=self.registry,
        )
        self.consumer_lag = Gauge(
            "mentormesh_consumer_lag",
            "Records of a partition this process's consumer has not fetched yet (its "
            "position against the partition's end offset), by topic and partition.",
            ["topic", "partition"],
            registry=self.registry,
        )
        self.outbox_backlog = Gauge(
            "mentormesh_outbox_backlog",
            "Committed events waiting in the outbox to be published (estimated count).",
            registry=self.registry,
        )
        self.ledger_size = Gauge(
            "mentormesh_processed_events",
            "Ids in the processed-events ledger (estimated count; the TTL index trims it).",
            registry=self.registry,
        )

    def gauge_at_scrape(
        self, name: str, documentation: str, read: Callable[[], Awaitable[float]]
    ) -> Gauge:
        """A gauge set to `await read()` before each scrape."""
        gauge = Gauge(name, documentation, registry=self.registry)

        async def refresh() -> None:
            gauge.set(await read())

        self.on_scrape(refresh)
        return gauge

    def on_scrape(self, refresh: Refresh) -> None:
        """Await `refresh()` before each scrape (it sets gauges of its own)."""
        self._refreshes.append(refresh)

    async def refresh(self) -> None:
        """Run every scrape-time refresh, concurrently, unless the last round began
        less than `refresh_every_s` ago; one that fails or is late leaves its gauges
        as they were."""
        now = time.monotonic()
        if not self._refreshes or (
            self._refreshed_at is not None and now - self._refreshed_at < self.refresh_every_s
        ):
            return
        self._refreshed_at = now
        tasks = [asyncio.ensure_future(r()) for r in self._refreshes]
        done, pending = await asyncio.wait(tasks, timeout=REFRESH_TIMEOUT_S)
        for task in pending:
            task.cancel()
        for task in done:
            if task.exception() is not None:
                log.debug("a gauge could not be refreshed: %r", task.exception())
