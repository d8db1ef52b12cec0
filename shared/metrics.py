"""Prometheus metrics every service exposes on `/metrics`."""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Histogram


@dataclass
class ServiceMetrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
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
        self.published = Counter(
            "mentormesh_events_published_total",
            "Events published, by type.",
            ["type"],
            registry=self.registry,
        )
        self.retries = Counter(
            "mentormesh_handler_retries_total",
            "Messages handed back to Kafka for redelivery after a failure.",
            ["topic"],
            registry=self.registry,
        )
        self.handle_seconds = Histogram(
            "mentormesh_handle_seconds",
            "Time to apply one event, commit included.",
            ["topic"],
            registry=self.registry,
        )
