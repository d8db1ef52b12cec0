"""Helpers for notifier tests against the real broker and database."""

from __future__ import annotations

import asyncio
import urllib.request
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from services.notifier.engine import Nudge
from shared.events import CloudEvent
from shared.runtime import OUTBOX, PROCESSED
from shared.settings import Settings
from tests.support import in_ledger, mongo_client


async def applied(settings: Settings, ids: Sequence[str]) -> bool:
    """Whether the notifier has applied every one of these CloudEvent ids."""
    return await in_ledger(settings, "notifier", ids)


async def settled_until(settings: Settings, until: datetime) -> bool:
    """Whether no timer due by `until` is still pending."""
    client = mongo_client(settings)
    try:
        timers = client[settings.database_name("notifier")].timers
        return await timers.count_documents({"state": "pending", "at": {"$lte": until}}) == 0
    finally:
        await client.close()


async def progress(settings: Settings) -> tuple[int, int]:
    """What moves while the notifier works: its ledger grows as it applies events, its
    nudge records as it fires. Estimated counts only: counting pending timers reads
    every one of them, and the embedded server serves nobody else meanwhile (polled
    twice a second, it slowed the notifiers under test to a crawl)."""
    client = mongo_client(settings)
    try:
        db = client[settings.database_name("notifier")]
        applied = await db[PROCESSED].estimated_document_count()
        return applied, await db.nudges.estimated_document_count()
    finally:
        await client.close()


async def quiet(settings: Settings, ids: Sequence[str], until: datetime) -> bool:
    """Whether the notifier is done: every id applied, no timer due by `until` pending,
    nothing left in the outbox. Then its output topic can be read to the end."""
    if not (await applied(settings, ids) and await settled_until(settings, until)):
        return False
    client = mongo_client(settings)
    try:
        return await client[settings.database_name("notifier")][OUTBOX].count_documents({}) == 0
    finally:
        await client.close()


def expected_by_id(nudges: Sequence[Nudge]) -> dict[str, tuple[dict[str, Any], datetime]]:
    return {n.data.nudge_id: (n.data.model_dump(), n.at) for n in nudges}


def emitted_by_id(events: Sequence[CloudEvent[Any]]) -> dict[str, tuple[dict[str, Any], datetime]]:
    return {e.data.nudge_id: (e.data.model_dump(), e.time) for e in events}


def event_ids_per_nudge(events: Sequence[CloudEvent[Any]]) -> dict[str, set[str]]:
    """The CloudEvent ids each nudge went out under: exactly one each, or it was doubled."""
    ids: dict[str, set[str]] = defaultdict(set)
    for event in events:
        ids[event.data.nudge_id].add(event.id)
    return dict(ids)


async def consumed(port: int) -> float:
    """How many input events the process serving `/metrics` on `port` has applied."""

    def get() -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as reply:
            return str(reply.read().decode())

    text = await asyncio.to_thread(get)
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        if family.name == "mentormesh_events_consumed"
        for sample in family.samples
        if sample.name == "mentormesh_events_consumed_total"
    )
