"""What the network service did, for the `make run` summary: introductions with
their reasons, and a picture of the network."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

from pymongo.asynchronous.database import AsyncDatabase

from services.network.picture import NetworkPicture, draw
from services.network.repository import INTRODUCTIONS, MENTORSHIPS, TIES, Document

SHOWN = 8


async def summarise(db: AsyncDatabase[Document]) -> list[str]:
    ties: Counter[str] = Counter()
    async for doc in db[TIES].find({}, {"active": 1, "ended": 1, "introduced": 1}):
        ties.update(_kinds(doc))
    intros = [d async for d in db[INTRODUCTIONS].find({}).sort("suggested_at", 1)]
    status = Counter(d["status"] for d in intros)
    lines = [
        f"ties: {ties['mentorship']} mentorships, {ties['alumni']} alumni, "
        f"{ties['introduced']} accepted introductions",
        f"introductions suggested: {len(intros)} ({status['connected']} accepted by both, "
        f"{status['declined']} declined, {status['suggested']} open)",
    ]
    introducers = Counter(d["introducer"] for d in intros if d.get("introducer"))
    if introducers:
        busiest = ", ".join(f"{p} ({n})" for p, n in introducers.most_common(3))
        lines.append(f"most asked introducers: {busiest}")
    for d in intros[:SHOWN]:
        lines.append(
            f"- {d.get('introducer') or '(introducer left)'}: introduce {d['person']} to "
            f"{d['candidate']} (score {d['score']:.2f}, {d['status']})"
        )
        lines.extend(f"    {reason}" for reason in d.get("reasons", []))
    if len(intros) > SHOWN:
        lines.append(f"  ... and {len(intros) - SHOWN} more")
    return lines


def _kinds(doc: Document) -> list[str]:
    kinds = []
    if doc.get("active"):
        kinds.append("mentorship")
    elif doc.get("ended"):
        kinds.append("alumni")
    if doc.get("introduced"):
        kinds.append("introduced")
    return kinds


async def draw_network(db: AsyncDatabase[Document], path: Path) -> Path:
    mentors, mentees = set(), set()
    async for m in db[MENTORSHIPS].find({"started": True}, {"mentor": 1, "mentee": 1}):
        mentors.add(m["mentor"])
        mentees.add(m["mentee"])
    edges: list[tuple[str, str, str]] = []
    async for doc in db[TIES].find({}):
        kinds = _kinds(doc)
        if kinds:
            # An accepted introduction is the news; otherwise the mentorship state.
            edges.append((doc["a"], doc["b"], "introduced" if "introduced" in kinds else kinds[0]))
    statuses: Counter[str] = Counter()
    async for d in db[INTRODUCTIONS].find({}, {"person": 1, "candidate": 1, "status": 1}):
        statuses[d["status"]] += 1
        if d["status"] in ("suggested", "declined"):
            edges.append((d["person"], d["candidate"], d["status"]))
    people = {n for a, b, _ in edges for n in (a, b)}
    title = (
        f"MentorMesh network: {len(people)} people, {len(mentors)} mentors; "
        f"{sum(statuses.values())} introductions suggested, {statuses['connected']} accepted"
    )
    picture = NetworkPicture(frozenset(mentors), frozenset(mentees), edges, title)
    return await asyncio.to_thread(draw, picture, path)
