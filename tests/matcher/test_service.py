"""Three matcher processes in one consumer group on the real broker and database,
120 mentees and 36 mentors signing up while the test plays the platform: it reads
every proposal and answers at random (accept, decline, or let it expire), and ends some
mentorships. Each process must have been alive and consuming (its `/metrics`), and
afterwards the whole history, read to the end of every partition once the matchers
are quiet, must hold the matcher's promises."""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import re
import socket
import time
import urllib.request
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from services.matcher.constraints import violations
from services.matcher.policy import MatchingPolicy
from services.matcher.profiles import Person
from shared.events import (
    CloudEvent,
    EventData,
    MatchAccepted,
    MatchDeclined,
    MatchExpired,
    MatchProposed,
    MatchWithdrawn,
    MentorshipEnded,
    MentorshipStarted,
    ProfileUpserted,
    make_event,
    parse_event,
)
from shared.runtime import PROCESSED
from shared.scenario import population
from shared.settings import Settings
from tests.support import (
    from_the_beginning,
    in_ledger,
    mongo_client,
    publish,
    read_events_to_end,
    read_to_end,
    service_process,
    topic_name,
)

pytestmark = [pytest.mark.infra, pytest.mark.slow]

MENTEES, MENTORS, PROCESSES = 120, 36, 3
TTL_S = 6.0
# The scenario ends when the matchers are quiet; it fails only if nothing moves for this
# long (a loaded machine makes it slower, not stuck).
STALL_S = 180.0


def _bad_capacity(person_id: str) -> bytes:
    data = {"person_id": person_id, "roles": ["mentor"], "goals": [], "passions": [],
            "skills": [], "languages": ["en"], "timezone": "Europe/London", "capacity": -1,
            "open_to_introductions": True, "paused": False, "revision": 1}  # fmt: skip
    return json.dumps(
        {"specversion": "1.0", "id": "bad-capacity", "source": "/platform",
         "type": ProfileUpserted.TYPE, "time": "2026-03-02T09:00:00Z", "data": data}
    ).encode()  # fmt: skip


MALFORMED: list[tuple[str, bytes | None, bytes]] = [
    ("profiles", b"x", b"{not json"),
    ("responses", b"y", json.dumps({"hello": "world"}).encode()),
    ("profiles", b"z", _bad_capacity("z")),
]


class Platform:
    """Plays the mentoring platform: answers each proposal at random."""

    def __init__(self, settings: Settings, seed: int) -> None:
        self.settings = settings
        self.rng = random.Random(seed)
        self.sent: set[str] = set()
        self.proposals: dict[str, MatchProposed] = {}
        self.closed: dict[str, str] = {}
        self.accepted_by: defaultdict[str, set[str]] = defaultdict(set)
        self.started: dict[str, MentorshipStarted] = {}
        self.events: list[CloudEvent[Any]] = []
        self.seen: set[str] = set()
        self.ended: set[str] = set()
        self._outbox: list[CloudEvent[Any]] = []

    def _answer(self, data: EventData) -> None:
        event = make_event(data, source="/platform")
        self.sent.add(event.id)
        self._outbox.append(event)

    def react(self, event: CloudEvent[Any]) -> None:
        if event.id in self.seen:
            return  # at-least-once: a republished event carries the same id
        self.seen.add(event.id)
        self.events.append(event)
        data = event.data
        if isinstance(data, MatchProposed):
            self.proposals[data.match_id] = data
            people = [data.mentee_id, data.mentor_id]
            self.rng.shuffle(people)
            roll = self.rng.random()
            if roll < 0.6:
                for person in people:
                    self.accepted_by[data.match_id].add(person)
                    self._answer(MatchAccepted(match_id=data.match_id, person_id=person))
            elif roll < 0.85:
                if self.rng.random() < 0.5:
                    self._answer(MatchAccepted(match_id=data.match_id, person_id=people[1]))
                self._answer(MatchDeclined(match_id=data.match_id, person_id=people[0]))
                self.closed[data.match_id] = "declined"
            # otherwise nobody answers and the proposal must expire
        elif isinstance(data, MentorshipStarted):
            self.started[data.mentorship_id] = data
            self.closed[data.mentorship_id] = "started"
            if self.rng.random() < 0.1:
                self._answer(MentorshipEnded(mentorship_id=data.mentorship_id, reason="done"))
                self.ended.add(data.mentorship_id)
        elif isinstance(data, MatchExpired | MatchWithdrawn):
            self.closed[data.match_id] = type(data).__name__

    def unresolved(self) -> set[str]:
        return set(self.proposals) - set(self.closed)

    def holding(self) -> list[MatchProposed]:
        """Proposals still holding a slot, by the events alone: open or running."""
        over = {m for m, how in self.closed.items() if how != "started"} | self.ended
        return [p for match_id, p in self.proposals.items() if match_id not in over]

    async def flush(self, producer: AIOKafkaProducer) -> None:
        batch, self._outbox = self._outbox, []
        sends = [
            await producer.send(topic_name(self.settings, e.data.TOPIC), e.to_json(), key=e.key)
            for e in batch
        ]
        await asyncio.gather(*sends)


async def _play(platform: Platform, quiet: Callable[[], Awaitable[bool]],
                progress: Callable[[], Awaitable[int]]) -> None:  # fmt: skip
    """Answer proposals until the matchers are quiet; fail only when nothing moves."""
    settings = platform.settings
    producer = AIOKafkaProducer(bootstrap_servers=settings.resolved_kafka(), acks="all")
    await producer.start()
    try:
        async with from_the_beginning(settings, "matches") as (consumer, _):
            last_progress, moved_at = -1, time.monotonic()
            idle_polls = 0
            while True:
                batch = await consumer.getmany(timeout_ms=500)
                records = [r for part in batch.values() for r in part]
                for record in records:
                    platform.react(parse_event(record.value, "matches"))
                await platform.flush(producer)
                idle_polls = 0 if records else idle_polls + 1
                if idle_polls >= 4:
                    if await quiet():
                        return
                    now, done = time.monotonic(), await progress()
                    if done != last_progress:
                        last_progress, moved_at = done, now
                    assert now - moved_at < STALL_S, f"the matchers stalled at {done} applied"
    finally:
        await producer.stop()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _consumed(port: int) -> float:
    """Input events the process applied, from its own `/metrics`."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        text = response.read().decode()
    return sum(
        float(value)
        for value in re.findall(r"^mentormesh_events_consumed_total\{[^}]*\} (\S+)$", text, re.M)
    )


def _sweep(intervals: list[tuple[datetime, datetime | None]]) -> int:
    """The most intervals open at one instant (a close at t comes before an open at t)."""
    points = []
    for opened, closed in intervals:
        points.append((opened, 1))
        if closed is not None:
            points.append((closed, -1))
    points.sort(key=lambda p: (p[0], p[1]))
    most = current = 0
    for _, delta in points:
        current += delta
        most = max(most, current)
    return most


def _held_until(doc: dict[str, Any]) -> datetime | None:
    # A started mentorship holds its slot until it ends; any other closed status frees it.
    return None if doc["status"] in ("open", "started") else doc["closed_at"]


async def test_three_matchers_share_a_cohort_without_breaking_any_promise(
    fresh: Callable[..., Awaitable[Settings]], tmp_path: Path
) -> None:
    programmes = tmp_path / "programmes"
    programmes.mkdir()
    (programmes / "default.toml").write_text(f"[matching]\nproposal_ttl_days = {TTL_S / 86400}\n")
    settings = await fresh()
    env = {
        "MENTORMESH_PROGRAMMES_DIR": str(programmes),
        "MENTORMESH_MATCHER_EXPIRY_INTERVAL_S": "0.5",
    }
    cohort = population(MENTEES, MENTORS, seed=11)
    profiles = {p.person_id: p for p in cohort.everyone}
    signups = [make_event(p, source="/platform") for p in cohort.everyone]
    random.Random(3).shuffle(signups)
    platform = Platform(settings, seed=5)
    platform.sent.update(e.id for e in signups)
    client = mongo_client(settings)
    db = client[settings.database_name("matcher")]

    async def ledger_size() -> int:  # progress: it grows with every applied unit
        return await db[PROCESSED].estimated_document_count()

    async def quiet() -> bool:
        if platform.unresolved() or await db["outbox"].count_documents({}) > 0:
            return False
        return await in_ledger(settings, "matcher", platform.sent)

    ports = [_free_port() for _ in range(PROCESSES)]
    try:
        with contextlib.ExitStack() as processes:
            running = [
                processes.enter_context(
                    service_process(
                        "matcher", settings, {**env, "MENTORMESH_HTTP_PORT": str(port)},
                        log=tmp_path / f"matcher-{i}.log",
                    )
                )
                for i, port in enumerate(ports)
            ]  # fmt: skip
            await publish(settings, [*signups, *MALFORMED])
            await _play(platform, quiet, ledger_size)
            # Every process was alive to the end and applied its share of the events.
            assert [p.poll() for p in running] == [None] * PROCESSES
            consumed = [await asyncio.to_thread(_consumed, port) for port in ports]
        proposals = [doc async for doc in db["proposals"].find()]
        loads = {doc["_id"]: doc["load"] async for doc in db["mentors"].find()}
    finally:
        await client.close()
    assert all(n > 0 for n in consumed), consumed
    assert sum(consumed) == len(platform.sent)  # each event applied by exactly one process

    # The matches topic read to its end holds exactly what the platform reacted to (an
    # event published twice carries the same id and the same content).
    history = await read_events_to_end(settings, "matches")
    assert {e.id: e for e in history} == {e.id: e for e in platform.events}

    proposed = [e.data for e in platform.events if isinstance(e.data, MatchProposed)]
    outcomes = Counter(platform.closed.values())
    assert len(proposed) > MENTORS and outcomes["started"] > MENTORS // 2
    assert outcomes["declined"] > 0 and outcomes["MatchExpired"] > 0

    # Every pair is proposed at most once: a declined or expired pair never comes back.
    assert max(Counter((p.mentee_id, p.mentor_id) for p in proposed).values()) == 1

    # Every proposal was allowed when made.
    policy = MatchingPolicy()
    for p in proposed:
        mentee, mentor = (
            Person.from_profile(profiles[p.mentee_id]),
            Person.from_profile(profiles[p.mentor_id]),
        )
        assert violations(mentee, mentor, p.programme_id, policy) == [], p

    # No mentor over capacity at any instant, and the final loads add up.
    by_mentor: defaultdict[str, list[tuple[datetime, datetime | None]]] = defaultdict(list)
    by_seat: defaultdict[tuple[str, str], list[tuple[datetime, datetime | None]]] = defaultdict(
        list
    )
    for doc in proposals:
        interval = (doc["opened_at"], _held_until(doc))
        by_mentor[doc["mentor_id"]].append(interval)
        by_seat[(doc["programme_id"], doc["mentee_id"])].append(interval)
    assert len(proposals) == len(proposed)
    for mentor_id, load in loads.items():
        intervals = by_mentor.get(mentor_id, [])
        assert _sweep(intervals) <= profiles[mentor_id].capacity, mentor_id
        assert load == sum(1 for _, closed in intervals if closed is None), mentor_id

    # No mentee ever held two open proposals or mentorships in one programme.
    assert max(_sweep(intervals) for intervals in by_seat.values()) == 1

    # The published events alone tell the same story as the matcher's records.
    holding = Counter(p.mentor_id for p in platform.holding())
    assert {m: n for m, n in loads.items() if n} == dict(holding)
    assert max(Counter((p.programme_id, p.mentee_id) for p in platform.holding()).values()) == 1

    # A mentorship starts only when both people accepted.
    for mentorship_id, started in platform.started.items():
        assert platform.accepted_by[mentorship_id] == {started.mentee_id, started.mentor_id}

    # Nothing was dead-lettered but the malformed messages the test sent.
    dead: list[Any] = []
    for key in ("profiles", "responses"):
        dead += await read_to_end(settings, f"{key}.dlq")
    assert sorted(r.value for r in dead) == sorted(m[2] for m in MALFORMED)
