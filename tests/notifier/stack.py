"""Helpers for notifier tests against the real broker and database."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from services.notifier.engine import Nudge
from shared.events import CloudEvent
from shared.runtime import PROCESSED
from shared.settings import Settings
from tests.support import mongo_client


async def applied(settings: Settings, ids: Sequence[str]) -> bool:
    """Whether the notifier has applied every one of these CloudEvent ids."""
    client = mongo_client(settings)
    try:
        ledger = client[settings.database_name("notifier")][PROCESSED]
        return await ledger.count_documents({"_id": {"$in": list(ids)}}) == len(set(ids))
    finally:
        await client.close()


async def settled_until(settings: Settings, until: datetime) -> bool:
    """Whether no timer due by `until` is still pending."""
    client = mongo_client(settings)
    try:
        timers = client[settings.database_name("notifier")].timers
        return await timers.count_documents({"state": "pending", "at": {"$lte": until}}) == 0
    finally:
        await client.close()


def expected_by_id(nudges: Sequence[Nudge]) -> dict[str, tuple[dict[str, Any], datetime]]:
    return {n.data.nudge_id: (n.data.model_dump(), n.at) for n in nudges}


def emitted_by_id(events: Sequence[CloudEvent[Any]]) -> dict[str, tuple[dict[str, Any], datetime]]:
    return {e.data.nudge_id: (e.data.model_dump(), e.time) for e in events}
