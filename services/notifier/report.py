"""What the notifier did, for the end of `make run`."""

from __future__ import annotations

from collections import Counter

from pymongo.asynchronous.database import AsyncDatabase

from shared.documents import Document


async def summarise(db: AsyncDatabase[Document]) -> list[str]:
    nudges = [doc async for doc in db.nudges.find().sort([("at", 1), ("_id", 1)])]
    if not nudges:
        return ["no nudges emitted"]
    people = {n["person_id"] for n in nudges}
    escalations = sum(1 for n in nudges if n.get("escalation"))
    digests = [n for n in nudges if n["kind"] == "digest"]
    merged = sum(len(n["rules"]) for n in digests)
    lines = [
        f"nudges emitted: {len(nudges)} to {len(people)} people "
        f"({escalations} escalations to admins; {len(digests)} digests merging {merged} "
        "nudges over the weekly limit)"
    ]
    by_kind = Counter(n["kind"] for n in nudges)
    example: dict[str, Document] = {}
    for n in nudges:
        example.setdefault(n["kind"], n)
    for kind, count in by_kind.most_common():
        n = example[kind]
        when = n["at"].strftime("%Y-%m-%d %H:%M UTC")
        lines.append(f"  {kind:22s} {count:5d}  e.g. {when} to {n['person_id']}: {n['reason']}")
    states = Counter(
        [d["state"] async for d in db.timers.find({"state": {"$ne": "sent"}}, {"state": 1})]
    )
    lines.append(
        f"timers: {states.get('pending', 0)} pending, {states.get('dropped', 0)} dropped "
        "(their reason went away before they were due)"
    )
    return lines
