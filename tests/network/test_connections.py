"""The platform's connections and introductions on request, through the handlers on
the in-memory store: what a connection makes possible, removal, direction,
erasure, and the answer to a request."""

from __future__ import annotations

from typing import Any

from services.network.ties import TieKind
from shared.events import IntroductionsOffered, IntroductionSuggested
from tests.network.factories import (
    T0,
    accepted,
    connected,
    days,
    declined,
    deleted,
    disconnected,
    event,
    profile,
    requested,
    started,
)
from tests.network.harness import MemoryHarness


def offers(net: MemoryHarness) -> list[IntroductionsOffered]:
    return [e.data for e in net.published if isinstance(e.data, IntroductionsOffered)]


async def ask(net: MemoryHarness, person: str, k: int = 3, at: Any = T0) -> IntroductionsOffered:
    before = len(offers(net))
    await net.apply(event(requested(person, k=k), at=at))
    [answer] = offers(net)[before:]
    return answer


async def mentor_and_mentee(net: MemoryHarness) -> None:
    """m mentors y; x is on the platform but knows nobody the service has seen."""
    await net.apply_all(
        event(profile("x", goals=["Go"])),
        event(profile("y", skills=["go"])),
        event(profile("m")),
        event(started("my", "y", "m")),
    )


async def test_a_colleague_connection_enables_an_introduction_that_was_impossible_before(
    net: MemoryHarness,
) -> None:
    await mentor_and_mentee(net)
    nothing = await ask(net, "x")
    assert (nothing.suggestions, nothing.reason) == ([], "nobody to suggest yet")
    await net.apply(event(connected("c1", "x", "m", "colleague")))
    answer = await ask(net, "x")
    [offer] = answer.suggestions
    assert (offer.candidate_id, offer.introducer_id) == ("y", "m")
    assert any("go" in r for r in offer.reasons)
    assert answer.request_id == "req-x" and answer.reason is None


async def test_an_answer_to_a_request_creates_no_pending_introduction(net: MemoryHarness) -> None:
    await mentor_and_mentee(net)
    await net.apply(event(connected("c1", "x", "m", "colleague")))
    await ask(net, "x")
    assert await net.documents("introductions") == []
    assert not any(isinstance(e.data, IntroductionSuggested) for e in net.published)


async def test_an_offered_introduction_accepted_by_both_ties_the_two(net: MemoryHarness) -> None:
    await mentor_and_mentee(net)
    await net.apply(event(connected("c1", "x", "m", "colleague")))
    [offer] = (await ask(net, "x")).suggestions
    await net.apply(event(accepted(offer.introduction_id, "x")))
    [intro] = await net.documents("introductions")
    assert intro["status"] == "suggested" and intro["accepted_by"] == ["x"]
    await net.apply(event(accepted(offer.introduction_id, "y")))
    tie = net.state.graph.tie("x", "y")
    assert tie is not None and TieKind.INTRODUCTION in tie.kinds


async def test_a_declined_offer_is_never_offered_again(net: MemoryHarness) -> None:
    await mentor_and_mentee(net)
    await net.apply(event(connected("c1", "x", "m", "colleague")))
    [offer] = (await ask(net, "x")).suggestions
    await net.apply(event(declined(offer.introduction_id, "y")))
    assert (await ask(net, "x", at=T0 + days(30))).suggestions == []


async def test_removing_the_connection_takes_the_introduction_away_again(
    net: MemoryHarness,
) -> None:
    await mentor_and_mentee(net)
    await net.apply(event(connected("c1", "x", "m", "colleague")))
    await net.apply(event(disconnected("c1", "x", "m")))
    assert net.state.graph.tie("x", "m") is None
    assert (await ask(net, "x")).suggestions == []


async def test_a_connection_removed_before_is_not_added_again_by_a_late_add(
    net: MemoryHarness,
) -> None:
    await mentor_and_mentee(net)
    await net.apply(event(disconnected("c1", "x", "m")))
    await net.apply(event(connected("c1", "x", "m", "colleague")))
    assert net.state.graph.tie("x", "m") is None


async def test_follows_are_directed_and_following_each_other_is_a_stronger_kind(
    net: MemoryHarness,
) -> None:
    await net.apply(event(connected("f1", "x", "m", "follows")))
    tie = net.state.graph.tie("x", "m")
    assert tie is not None and tie.kinds == {TieKind.FOLLOWS}
    await net.apply(event(connected("f2", "m", "x", "follows")))
    tie = net.state.graph.tie("x", "m")
    assert tie is not None and tie.kinds == {TieKind.MUTUAL_FOLLOWS}


async def test_a_connection_of_several_kinds_keeps_each_until_it_is_removed(
    net: MemoryHarness,
) -> None:
    await net.apply_all(event(connected("c1", "x", "m", "colleague")),
                        event(connected("g1", "m", "x", "same_group")))  # fmt: skip
    await net.apply(event(disconnected("c1", "x", "m")))
    tie = net.state.graph.tie("x", "m")
    assert tie is not None and tie.kinds == {TieKind.SAME_GROUP}


async def test_erasing_a_person_erases_their_connections_and_late_ones_stay_out(
    net: MemoryHarness,
) -> None:
    await mentor_and_mentee(net)
    await net.apply(event(connected("c1", "x", "m", "colleague")))
    await net.apply(event(deleted("m")))
    await net.apply(event(connected("c2", "m", "x", "follows")))
    assert net.state.graph.tie("x", "m") is None
    assert [t for t in await net.documents("ties") if "m" in (t["a"], t["b"])] == []


async def test_a_request_for_an_unknown_or_erased_person_gets_an_empty_answer_with_a_reason(
    net: MemoryHarness,
) -> None:
    await mentor_and_mentee(net)
    unknown = await ask(net, "nobody")
    assert unknown.suggestions == [] and unknown.reason is not None
    assert "unknown" in unknown.reason
    await net.apply(event(deleted("x")))
    erased = await ask(net, "x")
    assert erased.suggestions == [] and erased.reason == unknown.reason


async def test_a_paused_person_gets_an_empty_answer_saying_so(net: MemoryHarness) -> None:
    await mentor_and_mentee(net)
    await net.apply(event(profile("x", revision=2, paused=True)))
    answer = await ask(net, "x")
    assert (answer.suggestions, answer.reason) == ([], "paused")


async def test_a_connection_of_a_person_with_themselves_changes_nothing(
    net: MemoryHarness,
) -> None:
    await mentor_and_mentee(net)
    await net.apply(event(connected("c-self", "x", "x", "colleague")))
    assert [t for t in await net.documents("ties") if t["a"] == t["b"]] == []
    answer = await ask(net, "x")
    assert (answer.suggestions, answer.reason) == ([], "nobody to suggest yet")
