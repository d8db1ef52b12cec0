"""The Mongo store behaves like the memory store: the same history through the same
workflow gives the same nudges, and keeps nothing confidential. Real database."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from services.notifier.report import summarise
from services.notifier.repository import MongoNotifierStore
from services.notifier.simulator import Simulation, nudge_line, simulate
from services.notifier.timers import TimerQueue
from services.notifier.workflow import Notifier
from shared.events import CloudEvent
from tests.notifier import builders as b

pytestmark = pytest.mark.infra


async def replay_on_mongo(
    db: AsyncDatabase[Any], history: list[CloudEvent[Any]], until: datetime
) -> list[str]:
    store, queue, notifier = (
        MongoNotifierStore(db, None),
        TimerQueue(db),
        Notifier(b.books(), b.PSEUDONYMS),
    )
    lines: list[str] = []

    async def settle_before(bound: datetime, inclusive: bool) -> None:
        while (due := await queue.next_due()) is not None and (
            due[0] < bound or (inclusive and due[0] == bound)
        ):
            settlement = await notifier.settle(store, due[1], due[0])
            lines.extend(nudge_line(n) for n in settlement.nudges)

    for event in sorted(history, key=lambda e: e.time):
        await settle_before(event.time, inclusive=False)
        await notifier.absorb(store, event)
    await settle_before(until, inclusive=True)
    return lines


async def test_the_same_history_gives_the_same_nudges_as_in_memory(db: AsyncDatabase[Any]) -> None:
    history = b.busy_history()
    expected = [nudge_line(n) for n in await simulate(history, b.books(), b.day(70))]
    assert len(expected) > 20
    assert sorted(await replay_on_mongo(db, history, b.day(70))) == sorted(expected)


async def test_nothing_stored_holds_a_note_a_rating_or_a_deleted_person(
    db: AsyncDatabase[Any],
) -> None:
    await replay_on_mongo(db, b.busy_history(), b.day(70))
    dump = []
    for name in await db.list_collection_names():
        dump += [repr(doc) async for doc in db[name].find()]
    text = "\n".join(dump)
    assert "m1" in text  # the dump is not empty
    assert b.NOTE not in text and "rating" not in text
    assert "quinn" not in text


async def test_the_report_counts_nudges_by_rule_with_an_example_each(
    db: AsyncDatabase[Any],
) -> None:
    await replay_on_mongo(db, b.busy_history(), b.day(70))
    simulation = Simulation(b.books())
    for event in sorted(b.busy_history(), key=lambda e: e.time):
        await simulation.feed(event)
    await simulation.advance(b.day(70))
    # What is left once the deletion purged the records naming the deleted person.
    expected = Counter(n.data.kind for n in simulation.store.nudges.values())
    lines = await summarise(db)
    assert lines[0].startswith(f"nudges emitted: {sum(expected.values())} to ")
    for kind, count in expected.items():
        (line,) = [line for line in lines if line.split()[0] == kind]
        assert line.split()[1] == str(count)
        assert " to " in line and ": " in line  # an example: who and why


async def test_the_report_says_so_when_nothing_was_sent(db: AsyncDatabase[Any]) -> None:
    assert await summarise(db) == ["no nudges emitted"]
