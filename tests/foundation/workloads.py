"""A backlog for each service and what must hold once it is applied, for the tests
that stop, kill or starve real service processes: every event applied (in the
ledger), nothing dead-lettered, and the service's own state and outputs exactly what
the inputs imply, each read to the end of every partition."""

from __future__ import annotations

import asyncio
import math
import random
import urllib.error
import urllib.request
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from services.matcher.handlers import HANDLERS as MATCHER_HANDLERS
from services.network.handlers import HANDLERS as NETWORK_HANDLERS
from services.network.ties import pair_key, session_boost
from services.notifier.config import NotifierSettings
from services.notifier.simulator import simulate
from services.notifier.workflow import ABSORBS
from shared.events import (
    CloudEvent,
    MatchProposed,
    MentorshipEnded,
    MentorshipStarted,
    SessionCompleted,
    make_event,
    parse_event,
)
from shared.runtime import OUTBOX, topics_read
from shared.scenario import population
from shared.settings import Settings
from tests.notifier import builders as b
from tests.notifier.scenario import programme_weeks
from tests.notifier.stack import emitted_by_id, expected_by_id, settled_until
from tests.support import in_ledger, mongo_client, publish, read_to_end, wait_for

# What each service reads, from its own dispatch table (where its dead letters go).
INPUTS = {
    "matcher": topics_read(MATCHER_HANDLERS),
    "network": topics_read(NETWORK_HANDLERS),
    "notifier": topics_read(ABSORBS),
}
WEEKS = 7
# Nothing fires while the backlog is applied; the closing event moves event time on.
NOTIFIER_GRACE = timedelta(days=3650)
ENV = {
    "notifier": {
        "MENTORMESH_NOTIFIER_GRACE": "3650d",
        "MENTORMESH_NOTIFIER_LEASE_S": "5",
        "MENTORMESH_NOTIFIER_POLL_S": "0.2",
    },
}


@dataclass
class Backlog:
    service: str
    events: list[CloudEvent[Any]]
    # Published once the backlog is applied (the notifier's clock), not counted in it.
    closing: list[CloudEvent[Any]] = field(default_factory=list)

    @property
    def env(self) -> dict[str, str]:
        return ENV.get(self.service, {})


def backlog(service: str, size: int, seed: int = 5) -> Backlog:
    """About `size` events the service consumes, in an order a platform would publish."""
    if service == "matcher":
        cohort = population(mentees=size - size // 4, mentors=size // 4, seed=seed)
        signups = [make_event(p, source="/platform") for p in cohort.everyone]
        random.Random(seed).shuffle(signups)
        return Backlog(service, signups)
    history = programme_weeks(mentorships=max(1, size // 6), weeks=WEEKS, seed=seed)
    closing = []
    if service == "notifier":
        until = b.T0 + timedelta(weeks=WEEKS)
        closing = [b.profile("clock", at=until + NOTIFIER_GRACE)]
    return Backlog(service, history, closing)


async def applied(settings: Settings, service: str, events: Sequence[CloudEvent[Any]]) -> bool:
    """Every event is in the service's ledger and its outbox is empty."""
    if not await in_ledger(settings, service, [e.id for e in events]):
        return False
    client = mongo_client(settings)
    try:
        return await client[settings.database_name(service)][OUTBOX].estimated_document_count() == 0
    finally:
        await client.close()


async def finish(settings: Settings, work: Backlog, timeout: float = 600) -> None:
    """Wait until the backlog is applied, then publish and apply its closing events."""
    await wait_for(lambda: applied(settings, work.service, work.events), timeout, 0.5)
    if work.closing:
        await publish(settings, work.closing)
        await wait_for(lambda: applied(settings, work.service, work.closing), timeout, 0.5)
    if work.service == "notifier":
        until = b.T0 + timedelta(weeks=WEEKS)
        await wait_for(lambda: settled_until(settings, until), timeout, 0.5)


async def dead_lettered(settings: Settings, service: str) -> list[Any]:
    records = []
    for key in INPUTS[service]:
        records += await read_to_end(settings, f"{key}.dlq")
    return records


async def check(settings: Settings, work: Backlog) -> None:
    """Nothing dead-lettered, nothing lost, nothing applied twice."""
    assert await dead_lettered(settings, work.service) == []
    assert await applied(settings, work.service, work.events)
    await {
        "matcher": _check_matcher,
        "network": _check_network,
        "notifier": _check_notifier,
    }[work.service](settings, work)


async def _check_matcher(settings: Settings, work: Backlog) -> None:
    """Every proposal published once, as stored; each mentor's load counts exactly its
    open proposals (nobody answers here) and never passes its capacity; each mentee
    holds at most one proposal per programme."""
    records = await read_to_end(settings, "matches")
    outputs = [parse_event(r.value, "matches") for r in records]
    proposed = [e for e in outputs if isinstance(e.data, MatchProposed)]
    assert len({e.id for e in proposed}) == len({e.data.match_id for e in proposed})
    client = mongo_client(settings)
    try:
        db = client[settings.database_name("matcher")]
        proposals = [doc async for doc in db["proposals"].find()]
        loads = {doc["_id"]: (doc["load"], doc["capacity"]) async for doc in db["mentors"].find()}
    finally:
        await client.close()
    assert {p["_id"] for p in proposals} == {e.data.match_id for e in proposed}
    assert proposals, "the backlog should lead to proposals"
    held = Counter(p["mentor_id"] for p in proposals if p["status"] == "open")
    for mentor, (load, capacity) in loads.items():
        assert load == held[mentor] <= capacity, mentor
    assert max(Counter((p["programme_id"], p["mentee_id"]) for p in proposals).values()) == 1


async def _check_network(settings: Settings, work: Backlog) -> None:
    """Each mentorship's tie holds it once, as active or ended, with the credit of each
    of its completed sessions counted once."""
    started: dict[str, MentorshipStarted] = {}
    ended: set[str] = set()
    sessions: dict[str, dict[str, Any]] = defaultdict(dict)
    for event in work.events:
        data = event.data
        if isinstance(data, MentorshipStarted):
            started[data.mentorship_id] = data
        elif isinstance(data, MentorshipEnded):
            ended.add(data.mentorship_id)
        elif isinstance(data, SessionCompleted):
            sessions[data.mentorship_id][data.session_id] = data.occurred_at
    expected: dict[str, tuple[set[str], set[str], float]] = {}
    for mid, data in started.items():
        pair = pair_key(data.mentee_id, data.mentor_id)
        active, gone, boost = expected.get(pair, (set(), set(), 0.0))
        (gone if mid in ended else active).add(mid)
        boost += sum(session_boost(at) for at in sessions[mid].values())
        expected[pair] = (active, gone, boost)
    client = mongo_client(settings)
    try:
        found = client[settings.database_name("network")]["ties"].find()
        ties = {doc["_id"]: doc async for doc in found}
    finally:
        await client.close()
    assert set(ties) == set(expected)
    for key, (active, gone, boost) in expected.items():
        tie = ties[key]
        assert sorted(tie.get("active", [])) == sorted(active), key
        assert sorted(tie.get("ended", [])) == sorted(gone), key
        assert math.isclose(tie.get("boost", 0.0), boost, rel_tol=1e-9, abs_tol=1e-9), key


async def _check_notifier(settings: Settings, work: Backlog) -> None:
    """Exactly the simulator's nudges for the same history, each under one id."""
    books = NotifierSettings(admins="").rulebooks(settings)
    expected = expected_by_id(await simulate(work.events, books, b.T0 + timedelta(weeks=WEEKS)))
    nudges = [parse_event(r.value, "nudges") for r in await read_to_end(settings, "nudges")]
    ids: dict[str, set[str]] = defaultdict(set)
    for event in nudges:
        ids[event.data.nudge_id].add(event.id)
    assert all(len(v) == 1 for v in ids.values())
    assert expected, "the backlog should lead to nudges"
    assert emitted_by_id(nudges) == expected


def consumed(port: int) -> float:
    """Events this process applied, from its `/metrics` (0 if it does not answer)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
            text = resp.read().decode()
    except (urllib.error.URLError, OSError):
        return 0.0
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("mentormesh_events_consumed_total{")
    )


async def wait_consumed(port: int, at_least: float, timeout: float = 120) -> None:
    async def enough() -> bool:
        return await asyncio.to_thread(consumed, port) >= at_least

    await wait_for(enough, timeout, 0.2)
