"""What the network service did, for the `make run` summary: introductions with
their reasons, and a picture of the network."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

from pymongo.asynchronous.database import AsyncDatabase

from services.network.documents import Document
from services.network.picture import EDGE_STYLES, NetworkPicture, Week, draw
from services.network.repository import INTRODUCTIONS, MENTORSHIPS, TIES

SHOWN = 8


async def summarise(db: AsyncDatabase[Document]) -> list[str]:
    ties: Counter[str] = Counter()
    async for doc in db[TIES].find({}, {"active": 1, "ended": 1, "introduced": 1,
                                        "connections": 1}):  # fmt: skip
        ties.update(_kinds(doc))
    intros = [d async for d in db[INTRODUCTIONS].find({}).sort("suggested_at", 1)]
    status = Counter(d["status"] for d in intros)
    lines = [
        f"ties: {ties['mentorship']} mentorships, {ties['alumni']} alumni, "
        f"{ties['introduced']} accepted introductions; platform connections: "
        f"{ties['colleague']} colleagues, {ties['same_group']} same meetup group, "
        f"{ties['follows']} follows, {ties['connection']} other",
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
    """The kinds of a stored pair, the programme's first (mentorship state, then an
    accepted introduction), then the platform's connections."""
    kinds = []
    if doc.get("active"):
        kinds.append("mentorship")
    elif doc.get("ended"):
        kinds.append("alumni")
    if doc.get("introduced"):
        kinds.append("introduced")
    for connection in (doc.get("connections") or {}).values():
        if not connection.get("removed"):
            kind = connection["kind"]
            kinds.append(kind if kind in EDGE_STYLES else "connection")
    return kinds


def _week(at: datetime, start: datetime) -> int:
    return max(0, (at - start) // timedelta(weeks=1))


async def draw_network(db: AsyncDatabase[Document], path: Path) -> Path:
    mentors, mentees = set(), set()
    started: list[datetime] = []
    async for m in db[MENTORSHIPS].find({"started": True}):
        mentors.add(m["mentor"])
        mentees.add(m["mentee"])
        if m.get("started_at"):
            started.append(m["started_at"])
    edges: list[tuple[str, str, str]] = []
    connections_at_start = 0
    async for doc in db[TIES].find({}):
        kinds = _kinds(doc)
        if not kinds:
            continue
        connections_at_start += any(k not in ("mentorship", "alumni", "introduced") for k in kinds)
        # One line per pair: an accepted introduction is the news, then the mentorship
        # state, then the platform's connection.
        shown = "introduced" if "introduced" in kinds else kinds[0]
        edges.append((doc["a"], doc["b"], shown))
    statuses: Counter[str] = Counter()
    introducers: Counter[str] = Counter()
    accepted: list[datetime] = []
    async for d in db[INTRODUCTIONS].find({}):
        statuses[d["status"]] += 1
        if d.get("introducer"):
            introducers[d["introducer"]] += 1
        if d["status"] in ("suggested", "declined"):
            edges.append((d["person"], d["candidate"], d["status"]))
        elif d["status"] == "connected" and d.get("settled_at"):
            accepted.append(d["settled_at"])
    weeks = _weeks(started, accepted, connections_at_start)
    people = {n for a, b, _ in edges for n in (a, b)}
    title = (
        f"MentorMesh network: {len(people)} people, {len(mentors)} mentors; "
        f"{sum(statuses.values())} introductions suggested, {statuses['connected']} accepted"
    )
    picture = NetworkPicture(
        frozenset(mentors), frozenset(mentees), edges, title, introducers, weeks
    )
    return await asyncio.to_thread(draw, picture, path)


def _weeks(started: list[datetime], accepted: list[datetime], connections: int) -> list[Week]:
    """Mentorships started and introductions accepted per week from the first start,
    and the ties there were at each week's end (the platform's connections, which
    the demo makes before the programme starts, from week 0)."""
    if not started:
        return []
    start = min(started)
    last = max(_week(t, start) for t in started + accepted)
    new_mentorships = Counter(_week(t, start) for t in started)
    new_intros = Counter(_week(t, start) for t in accepted)
    weeks, total = [], connections
    for i in range(last + 1):
        total += new_mentorships[i] + new_intros[i]
        weeks.append(Week(i, new_mentorships[i], new_intros[i], total))
    return weeks
