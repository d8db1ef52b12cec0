"""What a stack remembers from earlier runs, read before the services start.

The services keep their state in MongoDB; the broker keeps the events and the offsets
each service's consumer group committed. The two must tell the same story: when the
database remembers people but the broker starts empty (the in-memory broker after a
restart), the services still hold the earlier run's state while the events behind it
are gone, and an event published again (the same person, the same revision) is
ignored as already seen. When the broker remembers but the database is empty, the
services resume at their committed offsets and never see the earlier events again.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from pymongo import AsyncMongoClient

from shared.deployment import SERVICES
from shared.runtime import PROCESSED
from shared.service import group_id
from shared.settings import Settings
from shared.topics import Topics


@dataclass(frozen=True)
class Remembered:
    people: int  # profiles the matcher holds
    mentorships: int  # started, not ended
    timers: int  # the notifier's pending nudges
    applied: int  # events applied, over every service's ledger
    topics: int  # MentorMesh topics on the broker
    committed: int  # offsets committed by the services' consumer groups, summed

    @property
    def database_remembers(self) -> bool:
        return self.applied > 0 or self.people > 0

    @property
    def broker_remembers(self) -> bool:
        return self.committed > 0

    def database_line(self) -> str:
        return (
            f"{self.people} people, {self.mentorships} mentorships, {self.timers} pending "
            f"timers ({self.applied} events applied)"
        )

    def describe(self, fresh_hint: str) -> list[str]:
        """What `up` says at start: plainly what is remembered, and whether the database
        and the broker agree. `fresh_hint` tells how to start clean."""
        if not self.database_remembers and not self.broker_remembers:
            return ["state: nothing from an earlier run; the database and the broker start empty"]
        if self.database_remembers and self.broker_remembers:
            return [
                f"state: resuming an earlier run. The database remembers {self.database_line()};"
                f" the broker kept its topics and the services' committed offsets"
                f" ({self.committed} messages consumed).",
            ]
        if self.database_remembers:
            return [
                f"WARNING: the database remembers an earlier run: {self.database_line()}.",
                "The broker starts empty: the events of that run and the services' offsets "
                "are gone. The services keep their state; an event of that run published "
                "again (same person, same revision) is ignored as already applied.",
                fresh_hint,
            ]
        return [
            f"WARNING: the broker remembers an earlier run ({self.topics} topics, "
            f"{self.committed} messages consumed by the services) but the database is empty.",
            "The services resume at their committed offsets and will not apply the earlier "
            "events again, so their state misses them.",
            fresh_hint,
        ]


async def remembered(settings: Settings) -> Remembered:
    databases = await _databases(settings)
    topics, committed = await _broker(settings)
    return Remembered(**databases, topics=topics, committed=committed)


async def _databases(settings: Settings) -> dict[str, int]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        settings.resolved_mongo(), serverSelectionTimeoutMS=10_000
    )
    try:
        matcher = client[settings.database_name("matcher")]
        notifier = client[settings.database_name("notifier")]
        applied = 0
        for service in SERVICES:
            applied += await client[settings.database_name(service)][
                PROCESSED
            ].estimated_document_count()
        return {
            "people": await matcher["people"].estimated_document_count(),
            "mentorships": await matcher["proposals"].count_documents({"status": "started"}),
            "timers": await notifier["timers"].count_documents({"state": "pending"}),
            "applied": applied,
        }
    finally:
        await client.close()


async def _broker(settings: Settings) -> tuple[int, int]:
    ours = Topics(settings.topic_prefix).all()
    present: set[str] = set()
    total = 0
    for service in SERVICES:
        offsets = await committed(settings, service, ours)
        present |= set(offsets)
        total += sum(offsets.values())
    return len(present), total


async def committed(settings: Settings, service: str, topics: Iterable[str]) -> dict[str, int]:
    """The offsets the service's consumer group committed, summed per topic, for each
    of `topics` that the broker has."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.resolved_kafka(),
        group_id=group_id(settings, service),
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        offsets: dict[str, int] = {}
        for topic in sorted(set(topics) & await consumer.topics()):
            offsets[topic] = 0
            for partition in sorted(consumer.partitions_for_topic(topic) or ()):
                with contextlib.suppress(Exception):
                    offset = await consumer.committed(TopicPartition(topic, partition))
                    offsets[topic] += offset or 0
        return offsets
    finally:
        await consumer.stop()
