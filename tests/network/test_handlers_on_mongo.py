"""The network's handlers on the real database, for what needs MongoDB itself:
no deleted id left in any collection, a rebuild from the database, and two
processes following each other's commits through the change stream."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from services.network.report import draw_network, summarise
from services.network.repository import MongoNetworkStore
from services.network.state import NetworkState
from shared.settings import Settings
from tests.network.factories import (
    T0,
    checked_in,
    completed,
    days,
    declined,
    deleted,
    ended,
    event,
    mentor_with_two_mentees,
    profile,
    started,
)
from tests.network.harness import MongoHarness, mongo_harness
from tests.support import wait_for

pytestmark = pytest.mark.infra


async def dump_every_collection(db: Any) -> str:
    """Every document of every collection of the service's database, as JSON text."""
    parts = []
    for name in sorted(await db.list_collection_names()):
        docs = [doc async for doc in db[name].find({})]
        parts.append(f"{name}: {json.dumps(docs, default=str)}")
    return "\n".join(parts)


async def test_after_deletions_no_document_in_any_collection_holds_a_deleted_id(
    mongo_net: MongoHarness,
) -> None:
    # Ids that no other text contains, so a substring search finds only them.
    mentor, leaver, stayer, other = "mentor-xq7", "mentee-leaver-k2", "mentee-stays-p9", "c-zz4"
    await mongo_net.apply_all(
        event(profile(leaver, skills=["embedded rust"])),
        event(profile(stayer, goals=["Embedded Rust"])),
        event(profile(other)),
        event(profile(mentor)),
        event(started("m-leaver", leaver, mentor)),
        event(started("m-stayer", stayer, mentor)),
        event(started("m-other", other, mentor)),
    )
    await mongo_net.apply_all(event(completed("m-stayer", 1)), event(completed("m-stayer", 2)))
    made = mongo_net.suggestions()
    assert {s.candidate_id for s in made} == {leaver, other}
    [kept] = [s for s in made if s.candidate_id == other]
    assert any(mentor in r for r in kept.reasons)  # the introducer is named in the reasons
    await mongo_net.apply(event(declined(kept.introduction_id, other)))

    await mongo_net.apply_all(event(deleted(leaver)), event(deleted(mentor)))
    # Late events about them are not applied.
    late = [profile(leaver, revision=9), started("m-leaver", leaver, mentor)]
    await mongo_net.apply_all(*(event(e) for e in [*late, completed("m-leaver", 3)]))

    text = await dump_every_collection(mongo_net.db)
    assert "introductions:" in text and "erased:" in text
    for gone in (mentor, leaver, "m-leaver"):
        assert gone not in text, gone
    assert leaver not in mongo_net.service.state.graph
    assert mentor not in mongo_net.service.state.graph
    intro = await mongo_net.db.introductions.find_one({"_id": kept.introduction_id})
    assert intro["status"] == "declined" and intro["introducer"] is None
    assert any("someone who has left" in r for r in intro["reasons"])


async def test_a_rebuild_from_the_database_gives_the_same_graph(mongo_net: MongoHarness) -> None:
    await mentor_with_two_mentees(mongo_net)
    await mongo_net.apply_all(event(completed("mb", 1)), event(completed("mb", 2), at=T0 + days(3)),
                        event(ended("ma")))  # fmt: skip
    rebuilt = NetworkState()
    await rebuilt.load(MongoNetworkStore(mongo_net.db))
    live = mongo_net.service.state
    assert sorted(rebuilt.graph.ties()) == sorted(live.graph.ties())
    assert sorted(p.id for p in rebuilt.graph.people()) == sorted(p.id for p in live.graph.people())
    assert rebuilt.history.suggested("a", "b") == live.history.suggested("a", "b")


async def test_a_second_process_sees_what_the_first_committed(db_settings: Settings) -> None:
    async with mongo_harness(db_settings) as one, mongo_harness(db_settings) as two:
        await mentor_with_two_mentees(one)

        async def caught_up() -> bool:
            return two.service.state.graph.tie_count == 2 and "b" in two.service.state.graph

        await wait_for(caught_up, timeout=10)
        # The trigger reaches the second process, which ranks on ties it never handled.
        await two.apply_all(event(completed("mb", 1)), event(completed("mb", 2)))
        assert [(s.person_id, s.candidate_id) for s in two.suggestions()] == [("b", "a")]


async def test_two_processes_never_suggest_the_same_pair_twice(db_settings: Settings) -> None:
    async with mongo_harness(db_settings) as one, mongo_harness(db_settings) as two:
        await mentor_with_two_mentees(one)
        await wait_for(lambda: _ready(two), timeout=10)
        # Each is the other's best candidate; both processes rank at the same moment.
        await asyncio.gather(
            one.apply(event(checked_in("ma", "a"))), two.apply(event(checked_in("mb", "b")))
        )
        pairs = [
            frozenset((s.person_id, s.candidate_id)) for s in one.suggestions() + two.suggestions()
        ]
        assert pairs == [frozenset({"a", "b"})]


async def _ready(h: MongoHarness) -> bool:
    return h.service.state.graph.tie_count == 2


async def test_the_report_lists_introductions_with_reasons_and_draws_the_network(
    mongo_net: MongoHarness, tmp_path: Path
) -> None:
    await mentor_with_two_mentees(mongo_net)
    await mongo_net.apply_all(
        event(profile("c")), event(started("mc", "c", "m")), event(ended("mc"))
    )
    await mongo_net.apply_all(event(completed("mb", 1)), event(completed("mb", 2)))
    lines = await summarise(mongo_net.db)
    text = "\n".join(lines)
    assert "introductions suggested: 2" in text
    assert "m: introduce b to a" in text
    assert "embedded rust" in text
    png = await draw_network(mongo_net.db, tmp_path / "network.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


async def test_an_erasure_reaches_the_other_process_even_without_a_profile(
    db_settings: Settings,
) -> None:
    async with mongo_harness(db_settings) as one, mongo_harness(db_settings) as two:
        await one.apply(event(started("ma", "a", "m")))  # neither has a profile yet
        await wait_for(lambda: _has_person(two, "a"), timeout=10)
        await one.apply(event(deleted("a")))
        await wait_for(lambda: _lacks_person(two, "a"), timeout=10)
        assert two.service.state.graph.tie_count == 0


async def _has_person(h: MongoHarness, pid: str) -> bool:
    return pid in h.service.state.graph


async def _lacks_person(h: MongoHarness, pid: str) -> bool:
    return pid not in h.service.state.graph
