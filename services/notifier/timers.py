"""Finding due timers and claiming them across notifier processes.

A claim is a lease on a recipient rather than on one timer: a person's nudges due
together must be decided together (quiet hours, the weekly limit, merging), in
order. The lease is taken with a conditional write (insert, or take over only an
expired lease), so two processes never work on the same person at once; a process
killed while holding one just delays that person until the lease runs out. The
lease is an optimisation, not the guarantee: settling happens in a transaction that
rewrites the timers it settles, so a process whose lease expired mid-way conflicts
and retries instead of sending twice. For the same reason any process may remove a
lease that ran out: a holder that died leaves its leases behind, and nobody would
otherwise take over those of people with nothing due any more.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError

from shared.documents import Document

from .facts import instant

DUPLICATE_KEY = 11000


class TimerQueue:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.timers = db.timers

    async def due_recipients(self, now: datetime, limit: int) -> list[str]:
        """People with a pending timer due by `now`, most overdue first."""
        cursor = (
            self.timers.find({"state": "pending", "at": {"$lte": now}}, {"recipient": 1})
            .sort([("at", ASCENDING), ("_id", ASCENDING)])
            .limit(limit)
        )
        return list(dict.fromkeys([doc["recipient"] async for doc in cursor]))

    async def due_for(self, recipient: str, now: datetime) -> list[tuple[datetime, str]]:
        """(instant, timer id) of the recipient's pending timers due by `now`, in order."""
        cursor = self.timers.find(
            {"recipient": recipient, "state": "pending", "at": {"$lte": now}}, {"at": 1}
        ).sort([("at", ASCENDING), ("_id", ASCENDING)])
        return [(instant(doc["at"]), doc["_id"]) async for doc in cursor]

    async def due_of(
        self, recipients: Sequence[str], now: datetime
    ) -> dict[str, list[tuple[datetime, str]]]:
        """`due_for` of several recipients, in one query: each of `recipients` is a key."""
        due: dict[str, list[tuple[datetime, str]]] = {r: [] for r in recipients}
        cursor = self.timers.find(
            {"recipient": {"$in": list(recipients)}, "state": "pending", "at": {"$lte": now}},
            {"at": 1, "recipient": 1},
        ).sort([("at", ASCENDING), ("_id", ASCENDING)])
        async for doc in cursor:
            due[doc["recipient"]].append((instant(doc["at"]), doc["_id"]))
        return due

    async def next_due(self) -> tuple[datetime, str] | None:
        """The earliest (instant, recipient) with a pending timer."""
        doc = await self.timers.find_one(
            {"state": "pending"},
            {"at": 1, "recipient": 1},
            sort=[("at", ASCENDING), ("_id", ASCENDING)],
        )
        return (instant(doc["at"]), doc["recipient"]) if doc else None

    async def pending(self) -> int:
        return await self.timers.count_documents({"state": "pending"})


class Leases:
    """Wall-clock leases on recipients: liveness of processes, not event time. Taken
    and given back a group of people at a time, to spare round trips."""

    def __init__(self, db: AsyncDatabase[Document], owner: str, duration: timedelta) -> None:
        self.leases = db.leases
        self.owner = owner
        self.duration = duration

    async def acquire(self, recipients: Sequence[str]) -> list[str]:
        """The ones of `recipients` now leased to this owner, in the given order."""
        if not recipients:
            return []
        now = datetime.now(UTC)
        lease = {"owner": self.owner, "until": now + self.duration}
        try:
            await self.leases.insert_many([{"_id": r, **lease} for r in recipients], ordered=False)
            return list(recipients)
        except BulkWriteError as exc:
            errors = exc.details["writeErrors"]
            if any(e["code"] != DUPLICATE_KEY for e in errors):
                raise
            held = {recipients[e["index"]] for e in errors}
        # Held by someone: take over only leases that ran out (a process died).
        await self.leases.update_many(
            {"_id": {"$in": sorted(held)}, "until": {"$lt": now}}, {"$set": lease}
        )
        cursor = self.leases.find({"_id": {"$in": sorted(held)}, "owner": self.owner}, {"_id": 1})
        taken = {doc["_id"] async for doc in cursor}
        return [r for r in recipients if r not in held or r in taken]

    async def release(self, recipients: Sequence[str]) -> None:
        if recipients:
            await self.leases.delete_many({"_id": {"$in": list(recipients)}, "owner": self.owner})

    async def clear_expired(self) -> int:
        """Remove every lease that ran out, whoever took it; how many."""
        result = await self.leases.delete_many({"until": {"$lt": datetime.now(UTC)}})
        return result.deleted_count
