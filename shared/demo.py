"""`make run`: the whole system on the embedded stack, fed by a sample platform.

The platform signs up a few hundred people, answers the matcher's proposals the
way people do (most accept, some decline, a few never answer), and then lives
through simulated weeks of mentoring: steady pairs meet and give feedback, some
fade out, some never start; mentees check in on goals; people answer the
introductions their mentors pass on. Each service runs as its own process.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import re
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from pymongo import AsyncMongoClient

from shared.deployment import SERVICES, Deployment
from shared.events import (
    CloudEvent,
    EventData,
    FeedbackSubmitted,
    GoalCheckedIn,
    IntroductionAccepted,
    IntroductionDeclined,
    IntroductionSuggested,
    MatchAccepted,
    MatchDeclined,
    MatchProposed,
    MentorshipEnded,
    MentorshipStarted,
    SessionCompleted,
    SessionScheduled,
    make_event,
    parse_event,
)
from shared.scenario import population
from shared.settings import Settings
from shared.topics import Topics

SOURCE = "/sample-platform"
PRIVATE_NOTE = "PRIVATE: my mentor seemed distracted today"
INPUTS_OF = {
    "matcher": ("profiles", "responses"),
    "network": ("profiles", "matches", "activity", "responses"),
    "notifier": ("profiles", "matches", "activity", "responses"),
}


@dataclass
class Pair:
    mentorship_id: str
    mentee_id: str
    mentor_id: str
    style: str  # steady | fading | silent
    sessions: int = 0
    ended: bool = False


@dataclass
class SamplePlatform:
    settings: Settings
    seed: int = 11
    start: datetime = field(default_factory=lambda: datetime.now(UTC).replace(microsecond=0))
    rng: random.Random = field(init=False)
    published: Counter[str] = field(default_factory=Counter)
    outputs: Counter[str] = field(default_factory=Counter)
    pairs: dict[str, Pair] = field(default_factory=dict)
    answered: set[str] = field(default_factory=set)
    output_bodies: list[bytes] = field(default_factory=list)
    _producer: AIOKafkaProducer | None = None
    _consumer: AIOKafkaConsumer | None = None

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.topics = Topics(self.settings.topic_prefix)

    async def __aenter__(self) -> SamplePlatform:
        bootstrap = self.settings.resolved_kafka()
        self._producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
        await self._producer.start()
        self._consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
        await self._consumer.start()
        parts = [
            TopicPartition(t, p)
            for t in self.topics.outputs
            for p in range(self.settings.partitions)
        ]
        self._consumer.assign(parts)
        await self._consumer.seek_to_beginning(*parts)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._producer:
            await self._producer.stop()
        if self._consumer:
            await self._consumer.stop()

    async def send(self, data: EventData, at: datetime) -> None:
        assert self._producer is not None
        event = make_event(data, source=SOURCE, time=at)
        topic = getattr(self.topics, data.TOPIC)
        await self._producer.send(topic, event.to_json(), key=event.key)
        self.published[data.TOPIC] += 1

    async def send_raw(self, topic_key: str, body: bytes) -> None:
        assert self._producer is not None
        await self._producer.send(getattr(self.topics, topic_key), body, key=b"demo")
        self.published[topic_key] += 1

    def outputs_of(self, topic_key: str) -> int:
        """How many events MentorMesh published on an output topic so far."""
        kinds = {"matches": ("mentormesh.match.", "mentormesh.mentorship.started")}
        return sum(n for t, n in self.outputs.items() if t.startswith(kinds[topic_key]))

    async def poll(self, seconds: float) -> list[CloudEvent[Any]]:
        assert self._consumer is not None
        events: list[CloudEvent[Any]] = []
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            batch = await self._consumer.getmany(timeout_ms=200)
            for records in batch.values():
                for record in records:
                    self.output_bodies.append(record.value)
                    event = parse_event(record.value)
                    self.outputs[event.type] += 1
                    events.append(event)
        return events

    async def react(self, events: list[CloudEvent[Any]], now: datetime) -> None:
        """Answer what the services sent, as the people on the platform would."""
        for event in events:
            data = event.data
            if isinstance(data, MatchProposed) and data.match_id not in self.answered:
                self.answered.add(data.match_id)
                roll = self.rng.random()
                if roll < 0.05:
                    continue  # nobody answers: the notifier will remind them
                if roll < 0.2:
                    await self.send(MatchDeclined(match_id=data.match_id,
                                                  person_id=data.mentee_id), now)  # fmt: skip
                    continue
                for person in (data.mentee_id, data.mentor_id):
                    await self.send(MatchAccepted(match_id=data.match_id, person_id=person), now)
            elif isinstance(data, MentorshipStarted) and data.mentorship_id not in self.pairs:
                style = self.rng.choices(["steady", "fading", "silent"], [0.6, 0.25, 0.15])[0]
                self.pairs[data.mentorship_id] = Pair(
                    data.mentorship_id, data.mentee_id, data.mentor_id, style
                )
            elif (
                isinstance(data, IntroductionSuggested)
                and data.introduction_id not in self.answered
            ):
                self.answered.add(data.introduction_id)
                if self.rng.random() < 0.7:
                    for person in (data.person_id, data.candidate_id):
                        await self.send(
                            IntroductionAccepted(introduction_id=data.introduction_id,
                                                 person_id=person), now)  # fmt: skip
                else:
                    await self.send(
                        IntroductionDeclined(introduction_id=data.introduction_id,
                                             person_id=data.person_id), now)  # fmt: skip

    async def live_week(self, week: int) -> None:
        """One simulated week of mentoring for every active pair."""
        monday = self.start + timedelta(weeks=week)
        for pair in list(self.pairs.values()):
            if pair.ended:
                continue
            meets = {
                "steady": self.rng.random() < 0.7,
                "fading": week < 3 and self.rng.random() < 0.6,
                "silent": False,
            }[pair.style]
            if meets:
                await self._session(pair, monday + timedelta(days=self.rng.randint(0, 4)))
            if pair.style == "steady" and week % 3 == 2:
                await self.send(
                    GoalCheckedIn(mentorship_id=pair.mentorship_id, person_id=pair.mentee_id,
                                  goal="main goal", progress=min(100, 20 * week)),
                    monday + timedelta(days=5),
                )  # fmt: skip
            if pair.style == "fading" and week == 7 and self.rng.random() < 0.5:
                pair.ended = True
                await self.send(
                    MentorshipEnded(mentorship_id=pair.mentorship_id, reason="drifted apart"),
                    monday + timedelta(days=6),
                )

    async def _session(self, pair: Pair, day: datetime) -> None:
        pair.sessions += 1
        session_id = f"{pair.mentorship_id}-s{pair.sessions}"
        starts = day.replace(hour=17, minute=0, second=0)
        await self.send(SessionScheduled(mentorship_id=pair.mentorship_id, session_id=session_id,
                                         starts_at=starts), day)  # fmt: skip
        await self.send(
            SessionCompleted(mentorship_id=pair.mentorship_id, session_id=session_id,
                             occurred_at=starts + timedelta(hours=1), duration_minutes=60),
            starts + timedelta(hours=1),
        )  # fmt: skip
        for person in (pair.mentee_id, pair.mentor_id):
            if self.rng.random() < 0.75:
                await self.send(
                    FeedbackSubmitted(
                        mentorship_id=pair.mentorship_id, session_id=session_id,
                        from_person_id=person, rating=self.rng.randint(3, 5),
                        private_note=PRIVATE_NOTE if self.rng.random() < 0.3 else None,
                    ),
                    starts + timedelta(hours=self.rng.randint(2, 12)),
                )  # fmt: skip


def _metric_sum(text: str, name: str) -> float:
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            total += float(line.rsplit(" ", 1)[1])
    return total


def _seen_by(deployment: Deployment, name: str) -> int:
    status, text = deployment.services[name].get("/metrics")
    if status != 200:
        return -1
    return int(
        _metric_sum(text, "mentormesh_events_consumed_total")
        + _metric_sum(text, "mentormesh_events_duplicate_total")
        + _metric_sum(text, "mentormesh_events_dead_lettered_total")
    )


async def settle(
    platform: SamplePlatform,
    deployment: Deployment,
    now: datetime,
    say: Callable[[str], None],
    quiet_s: float = 2.5,
    limit_s: float = 120.0,
) -> None:
    """Answer outputs until every service has consumed everything sent to it and
    nothing new comes out for `quiet_s`."""
    deadline = time.monotonic() + limit_s
    quiet_since = time.monotonic()
    while time.monotonic() < deadline:
        events = await platform.poll(0.5)
        if events:
            quiet_since = time.monotonic()
            await platform.react(events, now)
        expected = {
            name: sum(platform.published[t] for t in INPUTS_OF[name] if t != "matches")
            + (platform.outputs_of("matches") if "matches" in INPUTS_OF[name] else 0)
            for name in SERVICES
        }
        seen = {name: await asyncio.to_thread(_seen_by, deployment, name) for name in SERVICES}
        behind = {n: expected[n] - seen[n] for n in SERVICES if seen[n] < expected[n]}
        if behind:
            quiet_since = time.monotonic()
            say("  waiting: " + ", ".join(f"{n} {seen[n]}/{expected[n]}" for n in behind))
        elif time.monotonic() - quiet_since > quiet_s:
            return
    say("  (gave up waiting; continuing)")


Summariser = Callable[[Any], Awaitable[list[str]]]


def _summarisers() -> dict[str, Summariser]:
    found: dict[str, Summariser] = {}
    for name in SERVICES:
        with contextlib.suppress(ImportError, AttributeError):
            module = __import__(f"services.{name}.report", fromlist=["summarise"])
            found[name] = module.summarise
    return found


async def run_demo(
    settings: Settings,
    mentees: int = 220,
    mentors: int = 90,
    weeks: int = 10,
    out: Path = Path("out"),
) -> int:
    say = _printer()
    say(f"MentorMesh demo: {mentees} mentees, {mentors} mentors, {weeks} simulated weeks")
    deployment = Deployment(settings)
    started = time.monotonic()
    try:
        say("starting the local Kafka broker, MongoDB and the three services ...")
        await deployment.start()
        settings = deployment.settings
        for name, svc in deployment.services.items():
            say(f"  {name}: pid {svc.process.pid}, {svc.base_url}/metrics")
        async with SamplePlatform(settings) as platform:
            people = population(mentees, mentors)
            for profile in people.everyone:
                await platform.send(profile, platform.start)
            for body in (b"{not json", b'{"specversion": "1.0"}'):
                await platform.send_raw("profiles", body)
            say(f"published {len(people.everyone)} profiles (and 2 malformed messages)")
            await settle(platform, deployment, platform.start + timedelta(days=1), say)
            say(f"matching settled: {platform.outputs['mentormesh.mentorship.started.v1']} "
                f"mentorships started")  # fmt: skip
            for week in range(weeks):
                await platform.live_week(week)
                now = platform.start + timedelta(weeks=week + 1)
                await settle(platform, deployment, now, say)
                received = ", ".join(
                    f"{n} {t.removeprefix('mentormesh.').removesuffix('.v1')}"
                    for t, n in sorted(platform.outputs.items())
                )
                say(f"week {week + 1:2d}: published {sum(platform.published.values())} events; "
                    f"received {received}")  # fmt: skip
        await _summary(settings, deployment, platform, out, say, time.monotonic() - started)
        return 0
    finally:
        say("stopping everything the demo started ...")
        deployment.stop()


async def _summary(
    settings: Settings,
    deployment: Deployment,
    platform: SamplePlatform,
    out: Path,
    say: Callable[[str], None],
    elapsed: float,
) -> None:
    say("")
    say("=" * 72)
    say(f"SUMMARY after {elapsed:.0f} s")
    for name in SERVICES:
        _, text = await asyncio.to_thread(deployment.services[name].get, "/metrics")
        consumed = int(_metric_sum(text, "mentormesh_events_consumed_total"))
        dup = int(_metric_sum(text, "mentormesh_events_duplicate_total"))
        dead = int(_metric_sum(text, "mentormesh_events_dead_lettered_total"))
        published = int(_metric_sum(text, "mentormesh_events_published_total"))
        say(f"{name:9s} consumed {consumed}, skipped {dup} duplicates, "
            f"dead-lettered {dead}, published {published}")  # fmt: skip
    leaked = sum(PRIVATE_NOTE.encode() in body for body in platform.output_bodies)
    say(f"private feedback notes found in any published event: {leaked}")
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        settings.resolved_mongo(), tz_aware=True
    )
    try:
        for name, summarise in _summarisers().items():
            say("")
            say(f"--- {name} ---")
            for line in await summarise(client[settings.database_name(name)]):
                say(line)
        with contextlib.suppress(ImportError, AttributeError):
            from services.network.report import draw_network

            await asyncio.to_thread(out.mkdir, parents=True, exist_ok=True)
            network_db = client[settings.database_name("network")]
            path = await draw_network(network_db, out / "network.png")
            say(f"\nnetwork picture: {path}")
    finally:
        await client.close()
    say("=" * 72)


def _printer() -> Callable[[str], None]:
    def say(line: str) -> None:
        print(re.sub(r"\s+$", "", line), flush=True)

    return say


def main(settings: Settings | None = None) -> int:
    settings = settings or Settings(state_dir=Path(".mentormesh/demo"))
    try:
        return asyncio.run(run_demo(settings))
    except KeyboardInterrupt:
        return 130
    except RuntimeError as exc:
        print(f"demo failed: {exc}", file=sys.stderr)
        return 1
