"""The network's handlers on the real database: what each event changes, when
suggestions are made, the double opt-in, erasure, and two processes sharing state."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from services.network.report import draw_network, summarise
from services.network.repository import NetworkStore, introduction_id
from services.network.state import NetworkState
from services.network.ties import TieKind
from shared.settings import Settings
from tests.network.conftest import Harness, harness
from tests.network.factories import (
    T0,
    accepted,
    checked_in,
    completed,
    days,
    declined,
    deleted,
    ended,
    event,
    profile,
    started,
)
from tests.support import wait_for

pytestmark = pytest.mark.infra


async def mentor_with_two_mentees(net: Harness) -> None:
    """m mentors a and b; b wants to learn what a knows."""
    await net.apply_all(
        event(profile("a", skills=["embedded rust"])),
        event(profile("b", goals=["Embedded Rust"])),
        event(profile("m")),
        event(started("ma", "a", "m")),
        event(started("mb", "b", "m")),
    )


async def test_the_second_completed_session_suggests_introductions_for_the_mentee(
    net: Harness,
) -> None:
    await mentor_with_two_mentees(net)
    await net.apply(event(completed("mb", 1)))
    assert net.suggestions() == []
    await net.apply(event(completed("mb", 2), at=T0 + days(7)))
    [s] = net.suggestions()
    assert (s.person_id, s.candidate_id, s.introducer_id) == ("b", "a", "m")
    assert s.introduction_id == introduction_id("a", "b")
    assert any("embedded rust" in r for r in s.reasons)


async def test_sessions_that_arrive_before_the_mentorship_is_known_count_once_it_is(
    net: Harness,
) -> None:
    await net.apply_all(event(profile("a")), event(profile("b")), event(profile("m")),
                        event(started("ma", "a", "m")))  # fmt: skip
    await net.apply_all(event(completed("mb", 1)), event(completed("mb", 2)))
    assert net.suggestions() == []
    await net.apply(event(started("mb", "b", "m")))
    assert [(s.person_id, s.candidate_id) for s in net.suggestions()] == [("b", "a")]
    tie = net.service.state.graph.tie("b", "m")
    assert tie is not None and tie.boost > 0


async def test_a_redelivered_session_strengthens_the_tie_only_once(net: Harness) -> None:
    await mentor_with_two_mentees(net)
    await net.apply(event(completed("ma", 1)))
    once = net.service.state.graph.tie("a", "m")
    await net.apply(event(completed("ma", 1)))  # same session, new event id
    assert net.service.state.graph.tie("a", "m") == once


async def test_suggestions_come_at_most_once_per_period_of_event_time(net: Harness) -> None:
    await mentor_with_two_mentees(net)
    for other in "cdefg":  # more mentees of m than one run suggests
        await net.apply_all(event(profile(other)), event(started(f"m{other}", other, "m")))
    await net.apply_all(event(completed("mb", 1)), event(completed("mb", 2)))
    first = len(net.suggestions())
    assert first == 3
    await net.apply(event(checked_in("mb", "b"), at=T0 + days(13)))
    assert len(net.suggestions()) == first
    await net.apply(event(checked_in("mb", "b"), at=T0 + days(15)))
    assert len(net.suggestions()) > first


async def test_an_introduction_ties_the_two_only_when_both_accepted(net: Harness) -> None:
    await mentor_with_two_mentees(net)
    await net.apply_all(event(completed("mb", 1)), event(completed("mb", 2)))
    [s] = net.suggestions()
    await net.apply(event(accepted(s.introduction_id, "b")))
    await net.apply(event(accepted(s.introduction_id, "m")))  # the introducer's yes is not enough
    assert net.service.state.graph.tie("a", "b") is None
    await net.apply(event(accepted(s.introduction_id, "a")))
    tie = net.service.state.graph.tie("a", "b")
    assert tie is not None and TieKind.INTRODUCTION in tie.kinds
    assert await net.db.ties.count_documents({"introduced": True}) == 1


async def test_a_declined_pair_is_never_suggested_again(net: Harness) -> None:
    await mentor_with_two_mentees(net)
    await net.apply_all(event(completed("mb", 1)), event(completed("mb", 2)))
    [s] = net.suggestions()
    await net.apply(event(declined(s.introduction_id, "a")))
    await net.apply(event(accepted(s.introduction_id, "b")))
    for month in range(1, 4):
        await net.apply(event(checked_in("mb", "b"), at=T0 + days(30 * month)))
        await net.apply(event(checked_in("ma", "a"), at=T0 + days(30 * month + 1)))
    assert len(net.suggestions()) == 1
    assert net.service.state.graph.tie("a", "b") is None


async def test_an_ended_mentorship_leaves_a_weaker_alumni_tie(net: Harness) -> None:
    await mentor_with_two_mentees(net)
    await net.apply(event(ended("ma")))
    tie = net.service.state.graph.tie("a", "m")
    assert tie is not None and tie.kinds == {TieKind.ALUMNI}


async def test_an_end_that_arrives_before_the_start_is_applied_with_it(net: Harness) -> None:
    await net.apply_all(event(ended("ma")), event(started("ma", "a", "m")))
    tie = net.service.state.graph.tie("a", "m")
    assert tie is not None and tie.kinds == {TieKind.ALUMNI}


async def test_an_older_profile_revision_never_overwrites_a_newer_one(net: Harness) -> None:
    await net.apply(event(profile("a", revision=2, paused=True)))
    await net.apply(event(profile("a", revision=1, paused=False)))
    person = net.service.state.graph.person("a")
    assert person is not None and person.paused


async def test_paused_people_get_no_suggestions(net: Harness) -> None:
    await mentor_with_two_mentees(net)
    await net.apply(event(profile("b", revision=2, paused=True, goals=["embedded rust"])))
    await net.apply_all(event(completed("mb", 1)), event(completed("mb", 2)))
    assert net.suggestions() == []


async def test_deleting_a_profile_erases_every_trace_and_late_events_do_not_revive_it(
    net: Harness,
) -> None:
    await mentor_with_two_mentees(net)
    await net.apply_all(event(completed("mb", 1)), event(completed("mb", 2)))
    await net.apply(event(deleted("a")))
    await net.apply_all(event(profile("a", revision=9)), event(started("ma", "a", "m")),
                        event(completed("ma", 3)))  # fmt: skip
    assert "a" not in net.service.state.graph
    db = net.db
    for name, query in [
        ("people", {"_id": "a"}),
        ("ties", {"$or": [{"a": "a"}, {"b": "a"}]}),
        ("mentorships", {"$or": [{"mentee": "a"}, {"mentor": "a"}]}),
        ("introductions", {"$or": [{"person": "a"}, {"candidate": "a"}]}),
        ("load", {"candidate": "a"}),
    ]:
        assert await db[name].count_documents(query) == 0, name


async def test_a_rebuild_from_the_database_gives_the_same_graph(net: Harness) -> None:
    await mentor_with_two_mentees(net)
    await net.apply_all(event(completed("mb", 1)), event(completed("mb", 2), at=T0 + days(3)),
                        event(ended("ma")))  # fmt: skip
    rebuilt = NetworkState()
    await rebuilt.load(NetworkStore(net.db))
    live = net.service.state
    assert sorted(rebuilt.graph.ties()) == sorted(live.graph.ties())
    assert sorted(p.id for p in rebuilt.graph.people()) == sorted(p.id for p in live.graph.people())
    assert rebuilt.history.suggested("a", "b") == live.history.suggested("a", "b")


async def test_a_second_process_sees_what_the_first_committed(db_settings: Settings) -> None:
    async with harness(db_settings) as one, harness(db_settings) as two:
        await mentor_with_two_mentees(one)

        async def caught_up() -> bool:
            return two.service.state.graph.tie_count == 2 and "b" in two.service.state.graph

        await wait_for(caught_up, timeout=10)
        # The trigger reaches the second process, which ranks on ties it never handled.
        await two.apply_all(event(completed("mb", 1)), event(completed("mb", 2)))
        assert [(s.person_id, s.candidate_id) for s in two.suggestions()] == [("b", "a")]


async def test_two_processes_never_suggest_the_same_pair_twice(db_settings: Settings) -> None:
    async with harness(db_settings) as one, harness(db_settings) as two:
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


async def _ready(h: Harness) -> bool:
    return h.service.state.graph.tie_count == 2


async def test_the_report_lists_introductions_with_reasons_and_draws_the_network(
    net: Harness, tmp_path: Path
) -> None:
    await mentor_with_two_mentees(net)
    await net.apply_all(event(profile("c")), event(started("mc", "c", "m")), event(ended("mc")))
    await net.apply_all(event(completed("mb", 1)), event(completed("mb", 2)))
    lines = await summarise(net.db)
    text = "\n".join(lines)
    assert "introductions suggested: 2" in text
    assert "m: introduce b to a" in text
    assert "embedded rust" in text
    png = await draw_network(net.db, tmp_path / "network.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


async def test_an_erasure_reaches_the_other_process_even_without_a_profile(
    db_settings: Settings,
) -> None:
    async with harness(db_settings) as one, harness(db_settings) as two:
        await one.apply(event(started("ma", "a", "m")))  # neither has a profile yet
        await wait_for(lambda: _has_person(two, "a"), timeout=10)
        await one.apply(event(deleted("a")))
        await wait_for(lambda: _lacks_person(two, "a"), timeout=10)
        assert two.service.state.graph.tie_count == 0


async def test_a_declined_pair_stays_declined_when_its_introducer_leaves(net: Harness) -> None:
    await mentor_with_two_mentees(net)
    await net.apply_all(event(completed("mb", 1)), event(completed("mb", 2)))
    [s] = net.suggestions()
    await net.apply(event(declined(s.introduction_id, "a")))
    await net.apply(event(deleted("m")))
    intro = await net.db.introductions.find_one({"_id": s.introduction_id})
    assert intro is not None and intro["introducer"] is None and intro["status"] == "declined"


async def _has_person(h: Harness, pid: str) -> bool:
    return pid in h.service.state.graph


async def _lacks_person(h: Harness, pid: str) -> bool:
    return pid not in h.service.state.graph
