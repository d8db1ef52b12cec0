"""A human summary of the matcher's state, for the `make run` demo."""

from __future__ import annotations

from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from .proposals import Status

SHOWN_MENTORSHIPS = 10
SHOWN_REASONS = 4


async def summarise(db: AsyncDatabase[dict[str, Any]]) -> list[str]:
    """Lines describing proposals and started mentorships (with their reasons)."""
    mentors = await db["mentors"].count_documents({"capacity": {"$gt": 0}})
    mentees = len(await db["seats"].distinct("mentee_id"))
    counts = {s.value: 0 for s in Status}
    async for row in await db["proposals"].aggregate(
        [{"$group": {"_id": "$status", "n": {"$sum": 1}}}]
    ):
        counts[row["_id"]] = int(row["n"])
    total = sum(counts.values())
    lines = [
        f"Matcher: {mentees} mentees, {mentors} mentors, {total} proposals "
        + "("
        + ", ".join(f"{n} {status}" for status, n in counts.items())
        + ")",
    ]
    waiting = await db["seats"].count_documents({"seat": "waiting"})
    lines.append(f"Mentees waiting for a mentor: {waiting}")
    started = (
        db["proposals"].find({"status": Status.STARTED.value}).sort([("score", -1), ("_id", 1)])
    )
    shown = 0
    async for doc in started.limit(SHOWN_MENTORSHIPS):
        shown += 1
        lines.append(
            f"Mentorship {doc['_id'][:8]}: {doc['mentee_id']} with mentor {doc['mentor_id']}"
            f" in {doc['programme_id']} (score {doc['score']:.2f})"
        )
        lines.extend(f"    - {reason}" for reason in doc.get("reasons", [])[:SHOWN_REASONS])
    if counts[Status.STARTED.value] > shown:
        lines.append(f"... and {counts[Status.STARTED.value] - shown} more mentorships")
    return lines
