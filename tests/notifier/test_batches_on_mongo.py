"""A batch of events, or of claimed settlements, on MongoDB: the batch's store answers
its reads from what the batch wrote before it is written, writes each collection in
one round trip before the commit, and firing commits once per claimed group. Round
trips are counted with pymongo's command monitoring. Real database."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from typing import Any

import pytest
from pymongo import AsyncMongoClient, monitoring

from services.notifier.clock import GivenClock
from services.notifier.engine import Timer
from services.notifier.facts import subject_key
from services.notifier.firing import Firing
from services.notifier.handlers import NotifierHandlers
from services.notifier.memory_store import MemoryNotifierStore
from services.notifier.repository import MongoNotifierStore, timer_from
from services.notifier.workflow import Notifier
from shared.clock import FixedClock
from shared.events import CloudEvent
from shared.runtime import ServiceRuntime, Unit, UnitOfWork
from shared.settings import Settings
from tests.notifier import builders as b

pytestmark = pytest.mark.infra

WRITES = ("insert", "update", "delete")


class Commands(monitoring.CommandListener):
    """The commands sent to one database, and the commits (sent to `admin`):
    (name, collection)."""

    def __init__(self) -> None:
        self.database = ""
        self.sent: list[tuple[str, str]] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if event.database_name == self.database or event.command_name == "commitTransaction":
            name = event.command_name
            self.sent.append((name, str(event.command.get(name, ""))))

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass

    def writes(self) -> Counter[str]:
        """Write commands by collection."""
        return Counter(collection for name, collection in self.sent if name in WRITES)

    def count(self, name: str) -> int:
        return sum(1 for sent, _ in self.sent if sent == name)


class Recorded:
    def __init__(self, runtime: ServiceRuntime, commands: Commands, sent: list[bytes]) -> None:
        self.runtime = runtime
        self.commands = commands
        self.sent = sent


@pytest.fixture
async def recorded(fresh: Callable[..., Awaitable[Settings]]) -> AsyncIterator[Recorded]:
    """The notifier's runtime on a fresh database, its commands recorded, its
    publications collected."""
    settings = await fresh()
    commands = Commands()
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        settings.resolved_mongo(), tz_aware=True, event_listeners=[commands]
    )
    sent: list[bytes] = []

    async def publish(topic: str, key: bytes, value: bytes, headers: dict[str, str]) -> None:
        sent.append(value)

    runtime = ServiceRuntime("notifier", settings, client, publish)
    await runtime.ensure_indexes()
    await MongoNotifierStore.ensure_indexes(runtime.db)
    commands.database = runtime.db.name
    yield Recorded(runtime, commands, sent)
    await client.drop_database(runtime.db.name)
    await client.close()


def handled(handler: NotifierHandlers, event: CloudEvent[Any]) -> Unit:
    async def work(uow: UnitOfWork) -> None:
        await handler.handle(uow, event)

    return Unit(event.id, event.time, work, event)


def forty_starts() -> list[CloudEvent[Any]]:
    return [
        b.started(b.T0, mentorship=f"m{i}", mentee=f"ana-{i}", mentor=f"bo-{i}") for i in range(40)
    ]


async def stored_timers(recorded: Recorded) -> list[Timer]:
    return sorted(
        [timer_from(d) async for d in recorded.runtime.db.timers.find()], key=lambda t: t.id
    )


async def test_a_batchs_reads_see_its_earlier_writes_before_any_is_written(
    recorded: Recorded,
) -> None:
    notifier = Notifier(b.books(), b.PSEUDONYMS)
    # The session scheduled later in the batch replaces the timers the start planned,
    # which exist only in the batch's buffer when it is applied.
    history = [b.started(b.T0), b.scheduled(b.day(3), starts=b.day(5))]
    key = subject_key("mentorship", "m1")
    seen: dict[str, Any] = {}

    def absorbing(event: CloudEvent[Any]) -> Unit:
        async def work(uow: UnitOfWork) -> None:
            await notifier.absorb(MongoNotifierStore.of_batch(uow), event)

        return Unit(event.id, event.time, work)

    async def look(uow: UnitOfWork) -> None:
        store = MongoNotifierStore.of_batch(uow)
        seen["facts"] = await store.mentorship("m1")
        seen["timers"] = await store.subject_timers(key)
        seen["in the database"] = await uow.db.timers.count_documents({}, session=uow.session)

    units = [absorbing(history[0]), Unit("look-1", b.T0, look), absorbing(history[1])]
    await recorded.runtime.apply_batch(units)

    memory = MemoryNotifierStore()
    await notifier.absorb(memory, history[0])
    assert seen["in the database"] == 0
    assert seen["facts"] == memory.mentorships["m1"]
    assert seen["timers"] == await memory.subject_timers(key)
    assert len(seen["timers"]) > 2
    await notifier.absorb(memory, history[1])
    stored = await stored_timers(recorded)
    assert stored == sorted(memory.timers.values(), key=lambda t: t.id)
    # Some timers planned by the start were removed by the session before being written.
    assert {t.id for t in seen["timers"]} - {t.id for t in stored}


async def test_a_batch_of_events_for_many_mentorships_writes_each_collection_once(
    recorded: Recorded,
) -> None:
    handler = NotifierHandlers(Notifier(b.books(), b.PSEUDONYMS), "process-a")
    starts = forty_starts()
    await recorded.runtime.apply_batch([handled(handler, e) for e in starts])

    writes = recorded.commands.writes()
    assert writes == {
        "timers": 1,
        "mentorships": 1,
        "watermarks": 1,
        "processed_events": 1,  # the runtime's ledger
    }
    assert recorded.commands.count("commitTransaction") == 1
    memory = MemoryNotifierStore()
    for event in starts:
        await Notifier(b.books(), b.PSEUDONYMS).absorb(memory, event)
    assert await stored_timers(recorded) == sorted(memory.timers.values(), key=lambda t: t.id)
    assert len(memory.timers) >= 4 * len(starts)


async def test_a_batch_reads_what_its_events_name_in_one_query_per_collection(
    recorded: Recorded,
) -> None:
    handler = NotifierHandlers(Notifier(b.books(), b.PSEUDONYMS), "process-a")
    starts = forty_starts()
    await recorded.runtime.apply_batch([handled(handler, e) for e in starts])
    later = [b.completed(b.T0 + timedelta(days=1), f"s{i}", f"m{i}") for i in range(40)]
    later += [b.profile(f"ana-{i}", at=b.T0 + timedelta(days=1)) for i in range(40)]
    recorded.commands.sent.clear()

    await recorded.runtime.apply_batch([handled(handler, e) for e in later])

    reads = Counter(c for name, c in recorded.commands.sent if name == "find")
    # The ledger, then mentorships, timers by subject, people and tombstones once each;
    # the flush asks once per collection which new documents are stored already.
    assert reads["mentorships"] == 1 and reads["timers"] <= 2 and reads["people"] <= 2
    assert reads["tombstones"] == 1
    assert sum(reads.values()) <= 8, reads
    memory = MemoryNotifierStore()
    for event in [*starts, *later]:
        await Notifier(b.books(), b.PSEUDONYMS).absorb(memory, event)
    assert await stored_timers(recorded) == sorted(memory.timers.values(), key=lambda t: t.id)


async def test_firing_a_claimed_group_commits_once_and_sends_every_nudge(
    recorded: Recorded,
) -> None:
    notifier = Notifier(b.books(), b.PSEUDONYMS)
    pairs = 15
    starts = [
        b.started(b.T0, mentorship=f"m{i}", mentee=f"ana-{i}", mentor=f"bo-{i}")
        for i in range(pairs)
    ]
    await recorded.runtime.apply_batch(
        [handled(NotifierHandlers(notifier, "a"), e) for e in starts]
    )
    # Day 14: every mentee and mentor is due a no-session reminder.
    clock = GivenClock(FixedClock(b.day(14, hours=1)))
    firing = Firing(
        recorded.runtime, notifier, clock, "process-a", timedelta(seconds=30), group=2 * pairs
    )
    recorded.commands.sent.clear()

    assert await firing.fire_due() == 2 * pairs

    assert recorded.commands.count("commitTransaction") == 1
    writes = recorded.commands.writes()
    for collection in ("timers", "people", "nudges", "processed_events"):
        assert writes[collection] == 1, collection
    # The outbox is written in the transaction, and emptied once its nudges are sent.
    assert writes["outbox"] == 2
    assert writes["leases"] == 3  # expired ones swept, the group taken and given back
    memory = MemoryNotifierStore()
    for event in starts:
        await notifier.absorb(memory, event)
    expected = []
    while (due := memory.next_due()) is not None and due[0] <= b.day(14, hours=1):
        expected += (await notifier.settle(memory, due[1], due[0])).nudges
    assert len(recorded.sent) == len(expected) == 2 * pairs
    assert await recorded.runtime.db.nudges.count_documents({}) == len(expected)
    assert not await firing.fire_due()
