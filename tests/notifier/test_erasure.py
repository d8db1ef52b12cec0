"""After `profile.deleted`, no document of the notifier's database holds the person's
id, in any field or text: facts, timers, nudges, send logs, leases, tombstones,
watermarks, the runtime's ledger and outbox. Events about them from before the
deletion that arrive after it bring nothing back. The service's own path on a real
database (`harness.mongo_harness`)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from bson import json_util
from pymongo.asynchronous.database import AsyncDatabase

from services.notifier.timers import Leases
from tests.notifier import builders as b
from tests.notifier.harness import mongo_harness
from tests.support import Stack

pytestmark = pytest.mark.infra

ERASED = "quinn-erased-41"
HOUR = timedelta(hours=1)


async def everything(db: AsyncDatabase[Any]) -> str:
    """Every document of every collection, as JSON text."""
    lines = []
    for name in sorted(await db.list_collection_names()):
        lines += [f"{name} {json_util.dumps(doc)}" async for doc in db[name].find()]
    return "\n".join(lines)


def before_the_deletion() -> list[Any]:
    """The person everywhere: zones, a proposal answered and one unanswered, a mentorship
    with a session and feedback, feedback on a mentorship whose start is not in yet,
    and nudges sent to them and about them."""
    return [
        b.profile(ERASED, "Asia/Tokyo"), b.profile("bo"),
        b.proposed(b.T0, match="x", mentee=ERASED, mentor="bo"),
        b.accepted(b.T0 + HOUR, "bo", match="x"),
        b.accepted(b.T0 + 2 * HOUR, ERASED, match="x"),
        b.started(b.T0 + 2 * HOUR, mentorship="x", mentee=ERASED, mentor="bo"),
        b.proposed(b.day(1), match="p2", mentee=ERASED, mentor="fay"),
        b.completed(b.day(3), mentorship="x"),
        b.feedback(b.day(3, 1), ERASED, mentorship="x", note=b.NOTE),
        b.feedback(b.day(4), ERASED, session="s9", mentorship="y"),
        b.profile("clock", at=b.day(50)),
    ]  # fmt: skip


def late_about_them() -> list[Any]:
    """Events from before the deletion, delivered after it."""
    return [
        b.profile(ERASED, "Europe/Berlin", at=b.day(10), revision=2),
        b.accepted(b.day(2), ERASED, match="p2"),
        b.expired(b.day(8), match="p2", mentee=ERASED, mentor="fay"),
        b.started(b.day(5), mentorship="w", mentee="cy", mentor=ERASED),
        b.feedback(b.day(6), ERASED, session="s8", mentorship="v"),
        b.feedback(b.day(7), ERASED, mentorship="x"),
    ]


async def test_after_a_deletion_no_document_of_the_notifier_holds_the_persons_id(
    stack: Stack,
) -> None:
    async with mongo_harness(stack, b.books(), HOUR) as harness:
        for event in before_the_deletion():
            await harness.apply(event)
        # A process that died holding the person's lease.
        assert await Leases(harness.db, "dead-process", timedelta(hours=1)).acquire([ERASED])
        held = await everything(harness.db)
        for collection in ("people", "mentorships", "proposals", "timers", "nudges", "leases"):
            assert any(
                line.startswith(f"{collection} ") and ERASED in line for line in held.splitlines()
            ), collection
        assert any(n.data.person_id == ERASED for n in harness.nudges())

        await harness.apply(b.deleted(ERASED, b.day(51)))
        for event in late_about_them():
            await harness.apply(event)
        await harness.apply(b.profile("clock", at=b.day(100), revision=2))

        left = await everything(harness.db)
        tombstones = [doc async for doc in harness.db.tombstones.find()]
    assert ERASED not in left
    assert b.NOTE not in left
    assert [t["_id"] for t in tombstones] == [
        harness.settings.pseudonyms().tombstone("person", ERASED)
    ]
