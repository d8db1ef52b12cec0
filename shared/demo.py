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
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
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
    IntroductionsOffered,
    IntroductionsRequested,
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
from shared.remembered import remembered
from shared.scenario import PlatformGraph, Population, platform_graph, population
from shared.settings import Settings
from shared.topics import Topics

SOURCE = "/sample-platform"
PRIVATE_NOTE = "PRIVATE: my mentor seemed distracted today"
INPUTS_OF = {
    "matcher": ("profiles", "activity", "responses"),
    "network": ("profiles", "matches", "activity", "responses", "connections"),
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
    accepted: int = 0  # proposals both people accepted
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

    @property
    def sessions(self) -> int:
        return sum(pair.sessions for pair in self.pairs.values())

    def received(self, kind: str) -> int:
        """How many events of a kind (`match.proposed`, ...) MentorMesh sent so far."""
        return self.outputs[f"mentormesh.{kind}.v1"]

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
                self.accepted += 1
            elif isinstance(data, MentorshipStarted) and data.mentorship_id not in self.pairs:
                style = self.rng.choices(["steady", "fading", "silent"], [0.6, 0.25, 0.15])[0]
                self.pairs[data.mentorship_id] = Pair(
                    data.mentorship_id, data.mentee_id, data.mentor_id, style
                )
            elif isinstance(data, IntroductionsOffered) and data.request_id not in self.answered:
                # Someone who asked for introductions takes up the first one, sometimes.
                self.answered.add(data.request_id)
                if data.suggestions and self.rng.random() < 0.5:
                    first = data.suggestions[0]
                    for person in (data.person_id, first.candidate_id):
                        answer = IntroductionAccepted(
                            introduction_id=first.introduction_id, person_id=person
                        )
                        await self.send(answer, now)
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
        """One simulated week of mentoring for every active pair; a few people open
        the platform's "people you may know" page, which asks for introductions."""
        monday = self.start + timedelta(weeks=week)
        mentees = sorted({pair.mentee_id for pair in self.pairs.values()})
        for person in self.rng.sample(mentees, k=min(len(mentees), 5)):
            request = f"week{week}-{person}"
            await self.send(IntroductionsRequested(request_id=request, person_id=person, k=3),
                            monday + timedelta(days=2))  # fmt: skip
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


def _counters(deployment: Deployment, name: str) -> tuple[int, int] | None:
    """(messages a service has taken in, events it has published), or None when its
    metrics do not answer."""
    status, text = deployment.services[name].get("/metrics")
    if status != 200:
        return None
    seen = (
        _metric_sum(text, "mentormesh_events_consumed_total")
        + _metric_sum(text, "mentormesh_events_duplicate_total")
        + _metric_sum(text, "mentormesh_events_dead_lettered_total")
    )
    return int(seen), int(_metric_sum(text, "mentormesh_events_published_total"))


async def settle(
    platform: SamplePlatform,
    deployment: Deployment,
    now: datetime,
    say: Callable[[str], None],
    quiet_s: float = 1.5,
    stalled_s: float = 120.0,
) -> None:
    """Answer outputs until every service has taken in everything sent to it, the
    platform has received everything the services published, and nothing new has come
    for `quiet_s` (longer than the notifier's 1 s firing poll, since timers fall due
    as the event time the services just consumed moves on). Gives up, and says so,
    only when nothing moved for `stalled_s`: a busy machine is slow, not stuck."""
    settled_since: float | None = None
    moved, last = time.monotonic(), None
    shown = 0.0
    while time.monotonic() - moved < stalled_s:
        events = await platform.poll(0.25)
        if events:
            await platform.react(events, now)
        expected = {
            name: sum(platform.published[t] for t in INPUTS_OF[name] if t != "matches")
            + (platform.outputs_of("matches") if "matches" in INPUTS_OF[name] else 0)
            for name in SERVICES
        }
        counters = {n: await asyncio.to_thread(_counters, deployment, n) for n in SERVICES}
        seen = {n: c[0] if c else -1 for n, c in counters.items()}
        published = sum(c[1] for c in counters.values() if c)
        behind = {n for n in SERVICES if seen[n] < expected[n]}
        if (seen, published) != last:
            moved, last = time.monotonic(), (seen, published)
        if events or behind or published > sum(platform.outputs.values()):
            settled_since = None
            if behind and time.monotonic() - shown > 2.0:
                shown = time.monotonic()
                say("  waiting: " + ", ".join(f"{n} {seen[n]}/{expected[n]}" for n in behind))
        elif settled_since is None:
            settled_since = time.monotonic()
        elif time.monotonic() - settled_since > quiet_s:
            return
    say(f"  (nothing moved for {stalled_s:.0f} s; continuing)")


class StoryGap(Exception):
    """A stage of the demo's story did not happen as it should."""

    def __init__(self, stage: str, sentence: str) -> None:
        super().__init__(sentence)
        self.stage = stage

    @classmethod
    def nothing(cls, stage: str, sentence: str) -> StoryGap:
        return cls(stage, f"the {stage} stage produced nothing: {sentence}")


def _log_of(deployment: Deployment, service: str) -> str:
    return f"see {deployment.logs / f'{service}.log'}"


def check_matching(platform: SamplePlatform, people: Population, deployment: Deployment) -> None:
    if platform.received("match.proposed"):
        return
    signups = f"{len(people.everyone)} people signed up but the matcher proposed no match"
    if sum(m.capacity for m in people.mentors) == 0:
        cause = "every mentor has capacity 0, so no mentor has a free seat"
    else:
        cause = (
            "no mentee shares a programme, a language and a close enough time zone with a "
            "mentor who has room, or the matcher did not take in the profiles"
        )
    raise StoryGap.nothing(
        "matching", f"{signups}. Likely cause: {cause} ({_log_of(deployment, 'matcher')})."
    )


def check_mentorships(platform: SamplePlatform, deployment: Deployment) -> None:
    if platform.received("mentorship.started"):
        return
    proposals = platform.received("match.proposed")
    if platform.accepted == 0:
        raise StoryGap.nothing(
            "mentorships",
            f"nobody accepted any of the {proposals} proposals, so no mentorship could start. "
            "Likely cause: too few proposals for the sample platform's 80% acceptance to "
            "show (run with more people).",
        )
    raise StoryGap.nothing(
        "mentorships",
        f"both people accepted {platform.accepted} of {proposals} proposals but no "
        "mentorship started. Likely cause: the matcher did not apply the answers on the "
        f"responses topic ({_log_of(deployment, 'matcher')}).",
    )


def check_introductions(platform: SamplePlatform, deployment: Deployment) -> None:
    if platform.received("introduction.suggested"):
        return
    most = max((pair.sessions for pair in platform.pairs.values()), default=0)
    if most < 2:
        cause = (
            "no mentorship completed the 2 sessions after which the network suggests "
            "introductions (run more weeks)"
        )
    else:
        cause = (
            "the network did not take in the sessions, or found nobody two hops away who is "
            f"open to introductions ({_log_of(deployment, 'network')})"
        )
    raise StoryGap.nothing(
        "introductions",
        f"{platform.sessions} sessions were completed in {len(platform.pairs)} mentorships "
        f"but the network suggested no introduction. Likely cause: {cause}.",
    )


def check_nudges(platform: SamplePlatform, weeks: int, deployment: Deployment) -> None:
    if platform.received("nudge.emitted"):
        return
    quiet = sum(1 for pair in platform.pairs.values() if pair.style != "steady")
    if weeks < 2:
        cause = (
            f"{weeks} simulated week is less than the 14 days of silence the first nudge waits for"
        )
    else:
        cause = (
            "the notifier's rules are switched off for these programmes, or its event-time "
            f"clock did not move on ({_log_of(deployment, 'notifier')})"
        )
    raise StoryGap.nothing(
        "nudges",
        f"{quiet} of {len(platform.pairs)} mentorships went quiet over {weeks} weeks but the "
        f"notifier sent no nudge. Likely cause: {cause}.",
    )


Summariser = Callable[[Any], Awaitable[list[str]]]


def _summarisers() -> dict[str, Summariser]:
    found: dict[str, Summariser] = {}
    for name in SERVICES:
        with contextlib.suppress(ImportError, AttributeError):
            module = __import__(f"services.{name}.report", fromlist=["summarise"])
            found[name] = module.summarise
    return found


def _size(removed: dict[str, int]) -> str:
    return f"{sum(removed.values()) / 1e6:.1f} MB"


async def clean_start(deployment: Deployment, say: Callable[[str], None]) -> None:
    """Give this run a state of its own, and say how. The embedded stack's state
    directory belongs to the demo: stop whatever a previous run left running there and
    delete its storage and logs. Against a configured Kafka and MongoDB, nothing is
    deleted: this run gets topics and databases of its own."""
    if not deployment.embedded:
        run = "demo" + datetime.now(UTC).strftime("%Y%m%d%H%M%S")
        deployment.settings = deployment.settings.model_copy(
            update={"topic_prefix": run, "database_prefix": run}
        )
        say(f"clean start: this run has topics and databases of its own, named {run}.*; "
            "earlier runs' are left as they were")  # fmt: skip
        return
    stack = deployment.local_stack()
    where = deployment.settings.state_dir
    left_running = stack.running()
    stack.down()
    removed = stack.forget(logs=True)
    if left_running:
        say(f"clean start: stopped the stack an earlier run left running in {where} and "
            f"deleted its database and logs ({_size(removed)})")  # fmt: skip
    elif removed:
        say(f"clean start: deleted the previous run's database and logs in {where} "
            f"({_size(removed)})")  # fmt: skip
    else:
        say(f"clean start: first run in {where}")
    say("the broker keeps this run's events in memory; nothing is kept after the demo")


async def run_demo(
    settings: Settings,
    mentees: int = 220,
    mentors: int = 90,
    weeks: int = 10,
    out: Path = Path("out"),
    mentor_capacity: int | None = None,
) -> int:
    say = _printer()
    say(f"MentorMesh demo: {mentees} mentees, {mentors} mentors, {weeks} simulated weeks")
    deployment = Deployment(settings)
    started = time.monotonic()
    try:
        await clean_start(deployment, say)
        say("starting the local Kafka broker, MongoDB and the three services ...")
        await deployment.start_stack()
        before = await remembered(deployment.settings)
        if before.database_remembers or before.broker_remembers:
            raise StoryGap(
                "clean start",
                "the database and the broker were to start empty but hold "
                f"{before.database_line()} and {before.committed} consumed messages",
            )
        await deployment.start_services()
        settings = deployment.settings
        for name, svc in deployment.services.items():
            say(f"  {name}: pid {svc.process.pid}, {svc.base_url}/metrics, log {svc.log}")
        people = population(mentees, mentors)
        if mentor_capacity is not None:
            people = replace(
                people,
                mentors=[
                    m.model_copy(update={"capacity": mentor_capacity}) for m in people.mentors
                ],
            )
        async with SamplePlatform(settings) as platform:
            for profile in people.everyone:
                await platform.send(profile, platform.start)
            for body in (b"{not json", b'{"specversion": "1.0"}'):
                await platform.send_raw("profiles", body)
            say(f"published {len(people.everyone)} profiles (and 2 malformed messages)")
            graph = platform_graph(people, platform.start)
            for connection in graph.connections:
                await platform.send(connection, platform.start)
            kinds = Counter(c.kind for c in graph.connections)
            say(
                f"published the platform's graph: {len(graph.connections)} connections ("
                + ", ".join(f"{n} {k}" for k, n in sorted(kinds.items()))
                + f") among {len(set(graph.company.values()))} companies"
            )
            await settle(platform, deployment, platform.start + timedelta(days=1), say)
            say(f"matching settled: {platform.received('match.proposed')} proposals, "
                f"{platform.received('mentorship.started')} mentorships started")  # fmt: skip
            check_matching(platform, people, deployment)
            check_mentorships(platform, deployment)
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
            check_introductions(platform, deployment)
            check_nudges(platform, weeks, deployment)
        await _summary(settings, deployment, platform, graph, out, say, time.monotonic() - started)
        return 0
    except StoryGap as gap:
        say("")
        say(f"DEMO FAILED: {gap}")
        return 1
    finally:
        say("stopping everything the demo started ...")
        killed = deployment.stop()
        if killed:
            say(f"  had to kill {', '.join(killed)} after the grace period")


async def _summary(
    settings: Settings,
    deployment: Deployment,
    platform: SamplePlatform,
    graph: PlatformGraph,
    out: Path,
    say: Callable[[str], None],
    elapsed: float,
) -> None:
    say("")
    say("=" * 72)
    sent, received = sum(platform.published.values()), sum(platform.outputs.values())
    say(f"SUMMARY of this run: {elapsed:.0f} s, {sent} events published "
        f"({sent / elapsed:.0f} events/s), {received} received")  # fmt: skip
    say(f"the story: {platform.received('match.proposed')} proposals -> "
        f"{platform.received('mentorship.started')} mentorships -> {platform.sessions} sessions "
        f"-> {platform.received('introduction.suggested')} introductions; "
        f"{platform.received('nudge.emitted')} nudges")  # fmt: skip
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
            if name == "network":
                for line in await _crossings(client[settings.database_name(name)], graph, platform):
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


async def _crossings(db: Any, graph: PlatformGraph, platform: SamplePlatform) -> list[str]:
    """How far introductions reached across the platform's own boundaries."""
    mentor_of = {pair.mentee_id: pair.mentor_id for pair in platform.pairs.values()}
    made, accepted = Counter[str](), Counter[str]()
    async for intro in db["introductions"].find({}, {"person": 1, "candidate": 1, "status": 1}):
        a, b = intro["person"], intro["candidate"]
        crossed = {
            "company": not graph.same_company(a, b),
            "group": not graph.share_a_group(a, b),
            "star": mentor_of.get(a) != mentor_of.get(b),
        }
        for what, yes in crossed.items():
            made[what] += yes
            accepted[what] += yes and intro["status"] == "connected"
        made["all"] += 1
        accepted["all"] += intro["status"] == "connected"
    return [
        f"introductions crossing the platform's boundaries (of {made['all']} suggested, "
        f"{accepted['all']} accepted): {made['company']} across companies "
        f"({accepted['company']} accepted), {made['group']} between people with no meetup "
        f"group in common ({accepted['group']} accepted), {made['star']} between "
        f"mentees of different mentors ({accepted['star']} accepted)"
    ]


def _printer() -> Callable[[str], None]:
    def say(line: str) -> None:
        print(re.sub(r"\s+$", "", line), flush=True)

    return say
