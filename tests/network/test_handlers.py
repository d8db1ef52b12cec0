"""The network's handlers on the in-memory store: what each event changes, when
suggestions are made, the double opt-in and erasure. (What needs MongoDB itself is
in test_handlers_on_mongo.py; the store's contract ties the two stores together.)"""

from __future__ import annotations

from services.network.documents import introduction_id
from services.network.ties import TieKind
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
    mentor_with_two_mentees,
    profile,
    started,
)
from tests.network.harness import MemoryHarness


async def test_the_second_completed_session_suggests_introductions_for_the_mentee(
    net: MemoryHarness,
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
    net: MemoryHarness,
) -> None:
    await net.apply_all(event(profile("a")), event(profile("b")), event(profile("m")),
                        event(started("ma", "a", "m")))  # fmt: skip
    await net.apply_all(event(completed("mb", 1)), event(completed("mb", 2)))
    assert net.suggestions() == []
    await net.apply(event(started("mb", "b", "m")))
    assert [(s.person_id, s.candidate_id) for s in net.suggestions()] == [("b", "a")]
    tie = net.state.graph.tie("b", "m")
    assert tie is not None and tie.boost > 0


async def test_a_redelivered_session_strengthens_the_tie_only_once(net: MemoryHarness) -> None:
    await mentor_with_two_mentees(net)
    await net.apply(event(completed("ma", 1)))
    once = net.state.graph.tie("a", "m")
    await net.apply(event(completed("ma", 1)))  # same session, new event id
    assert net.state.graph.tie("a", "m") == once


async def test_suggestions_come_at_most_once_per_period_of_event_time(net: MemoryHarness) -> None:
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


async def test_an_introduction_ties_the_two_only_when_both_accepted(net: MemoryHarness) -> None:
    await mentor_with_two_mentees(net)
    await net.apply_all(event(completed("mb", 1)), event(completed("mb", 2)))
    [s] = net.suggestions()
    await net.apply(event(accepted(s.introduction_id, "b")))
    await net.apply(event(accepted(s.introduction_id, "m")))  # the introducer's yes is not enough
    assert net.state.graph.tie("a", "b") is None
    await net.apply(event(accepted(s.introduction_id, "a")))
    tie = net.state.graph.tie("a", "b")
    assert tie is not None and TieKind.INTRODUCTION in tie.kinds
    assert len([t for t in await net.documents("ties") if t.get("introduced")]) == 1


async def test_a_declined_pair_is_never_suggested_again(net: MemoryHarness) -> None:
    await mentor_with_two_mentees(net)
    await net.apply_all(event(completed("mb", 1)), event(completed("mb", 2)))
    [s] = net.suggestions()
    await net.apply(event(declined(s.introduction_id, "a")))
    await net.apply(event(accepted(s.introduction_id, "b")))
    for month in range(1, 4):
        await net.apply(event(checked_in("mb", "b"), at=T0 + days(30 * month)))
        await net.apply(event(checked_in("ma", "a"), at=T0 + days(30 * month + 1)))
    assert len(net.suggestions()) == 1
    assert net.state.graph.tie("a", "b") is None


async def test_an_ended_mentorship_leaves_a_weaker_alumni_tie(net: MemoryHarness) -> None:
    await mentor_with_two_mentees(net)
    await net.apply(event(ended("ma")))
    tie = net.state.graph.tie("a", "m")
    assert tie is not None and tie.kinds == {TieKind.ALUMNI}


async def test_an_end_that_arrives_before_the_start_is_applied_with_it(net: MemoryHarness) -> None:
    await net.apply_all(event(ended("ma")), event(started("ma", "a", "m")))
    tie = net.state.graph.tie("a", "m")
    assert tie is not None and tie.kinds == {TieKind.ALUMNI}


async def test_an_older_profile_revision_never_overwrites_a_newer_one(net: MemoryHarness) -> None:
    await net.apply(event(profile("a", revision=2, paused=True)))
    await net.apply(event(profile("a", revision=1, paused=False)))
    person = net.state.graph.person("a")
    assert person is not None and person.paused


async def test_paused_people_get_no_suggestions(net: MemoryHarness) -> None:
    await mentor_with_two_mentees(net)
    await net.apply(event(profile("b", revision=2, paused=True, goals=["embedded rust"])))
    await net.apply_all(event(completed("mb", 1)), event(completed("mb", 2)))
    assert net.suggestions() == []


async def test_a_declined_pair_stays_declined_when_its_introducer_leaves(
    net: MemoryHarness,
) -> None:
    await mentor_with_two_mentees(net)
    await net.apply_all(event(completed("mb", 1)), event(completed("mb", 2)))
    [s] = net.suggestions()
    await net.apply(event(declined(s.introduction_id, "a")))
    await net.apply(event(deleted("m")))
    [intro] = [i for i in await net.documents("introductions") if i["_id"] == s.introduction_id]
    assert intro is not None and intro["introducer"] is None and intro["status"] == "declined"
