"""The matcher's handlers on the in-memory store: proposals, answers, expiry, ends,
deletions, revisions and redeliveries. (Concurrent units, which only the real
database's transactions can show, are in `test_concurrent_units.py`; the store
contract tests keep both stores alike.)"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from services.matcher.policy import MatchingPolicy
from services.matcher.proposals import match_id_for
from shared.events import (
    MatchAccepted,
    MatchDeclined,
    MatchExpired,
    MatchProposed,
    MatchWithdrawn,
    MentorshipEnded,
    MentorshipStarted,
    ProfileDeleted,
)

from .builders import profile
from .harness import T0, MemoryHarness, memory_harness


@pytest.fixture
async def h() -> AsyncIterator[MemoryHarness]:
    async with memory_harness() as harness:
        yield harness


async def test_a_new_mentee_is_proposed_the_best_mentor_with_reasons(h: MemoryHarness) -> None:
    await h.send(profile("m-go", "mentor", skills=["golang"], timezone="Europe/Berlin"))
    await h.send(profile("m-none", "mentor", timezone="Europe/Berlin"))
    await h.send(profile("e1", goals=["Go"]))
    [proposal] = h.of(MatchProposed)
    assert (proposal.mentee_id, proposal.mentor_id) == ("e1", "m-go")
    assert "Goal 'Go' is covered by the mentor's skill 'golang'" in proposal.reasons
    assert proposal.expires_at == T0 + timedelta(days=7)
    assert sum(proposal.components.values()) == pytest.approx(proposal.score, abs=1e-5)


async def test_a_mentee_without_an_allowed_mentor_waits_and_gets_one_when_a_mentor_joins(
    h: MemoryHarness,
) -> None:
    await h.send(profile("e1", goals=["Rust"], languages=["fr"]))
    await h.send(profile("m-en", "mentor", skills=["Rust"]))
    assert h.of(MatchProposed) == []
    await h.send(profile("m-fr", "mentor", skills=["Rust"], languages=["French"]))
    assert [(p.mentee_id, p.mentor_id) for p in h.of(MatchProposed)] == [("e1", "m-fr")]


async def test_a_new_mentor_is_offered_to_the_best_waiting_mentees_up_to_capacity(
    h: MemoryHarness,
) -> None:
    for person, goals in [("e-go", ["Go"]), ("e-sql", ["SQL"]), ("e-both", ["Go", "SQL"])]:
        await h.send(profile(person, goals=goals))
    await h.send(profile("m1", "mentor", skills=["Go", "SQL"], capacity=2))
    assert sorted(p.mentee_id for p in h.of(MatchProposed)) == ["e-both", "e-go"]


async def test_proposals_spread_over_mentors_instead_of_piling_on_the_top_one(
    h: MemoryHarness,
) -> None:
    await h.send(profile("m-top", "mentor", skills=["Go"], capacity=3))
    await h.send(profile("m-ok", "mentor", skills=["Go"], capacity=3, timezone="Europe/Paris"))
    for i in range(4):
        await h.send(profile(f"e{i}", goals=["Go"]))
    mentors = [p.mentor_id for p in h.of(MatchProposed)]
    assert mentors.count("m-top") < 4 and mentors.count("m-ok") > 0


async def test_both_acceptances_start_the_mentorship_with_the_match_id(h: MemoryHarness) -> None:
    await h.send(profile("m1", "mentor"))
    await h.send(profile("e1"))
    [proposal] = h.of(MatchProposed)
    await h.send(MatchAccepted(match_id=proposal.match_id, person_id="e1"))
    assert h.of(MentorshipStarted) == []
    await h.send(MatchAccepted(match_id=proposal.match_id, person_id="m1"))
    [started] = h.of(MentorshipStarted)
    assert started.mentorship_id == proposal.match_id
    assert (started.mentee_id, started.mentor_id) == ("e1", "m1")


async def test_a_decline_proposes_the_next_best_mentor_and_never_the_same_pair(
    h: MemoryHarness,
) -> None:
    await h.send(profile("m-best", "mentor", skills=["Go"], capacity=1))
    await h.send(profile("m-next", "mentor", capacity=1))
    await h.send(profile("e1", goals=["Go"]))
    first = h.of(MatchProposed)[0]
    await h.send(MatchDeclined(match_id=first.match_id, person_id="m-best"))
    second = h.of(MatchProposed)[-1]
    assert (first.mentor_id, second.mentor_id) == ("m-best", "m-next")
    await h.send(MatchDeclined(match_id=second.match_id, person_id="e1"))
    assert len(h.of(MatchProposed)) == 2  # nobody left who was not proposed before


async def test_a_declined_mentors_slot_goes_to_a_waiting_mentee(h: MemoryHarness) -> None:
    await h.send(profile("m1", "mentor", capacity=1))
    await h.send(profile("e1"))
    await h.send(profile("e2"))
    [first] = h.of(MatchProposed)
    await h.send(MatchDeclined(match_id=first.match_id, person_id=first.mentee_id))
    offered = h.of(MatchProposed)[-1]
    assert offered.mentor_id == "m1" and offered.mentee_id != first.mentee_id


async def test_declines_lower_a_mentors_responsiveness(h: MemoryHarness) -> None:
    await h.send(profile("m1", "mentor", capacity=3))
    for i in range(3):
        await h.send(profile(f"e{i}"))
    for proposal in h.of(MatchProposed):
        await h.send(MatchDeclined(match_id=proposal.match_id, person_id="m1"))
    doc = await h.doc("mentors", "m1")
    assert doc is not None and (doc["declined"], doc["load"]) == (3, 0)


async def test_an_unanswered_proposal_expires_at_its_time_and_the_next_is_proposed(
    h: MemoryHarness,
) -> None:
    await h.send(profile("m1", "mentor", skills=["Go"], capacity=1))
    await h.send(profile("m2", "mentor", capacity=1))
    await h.send(profile("e1", goals=["Go"]))
    [first] = h.of(MatchProposed)
    h.clock.set(first.expires_at - timedelta(seconds=1))
    assert await h.expire_due() == 0
    h.clock.set(first.expires_at)
    assert await h.expire_due() == 1
    assert [e.match_id for e in h.of(MatchExpired)] == [first.match_id]
    assert h.of(MatchProposed)[-1].mentor_id == "m2"
    assert await h.expire_due() == 0  # claimed once


async def test_an_ended_mentorship_frees_the_mentors_capacity_for_a_waiting_mentee(
    h: MemoryHarness,
) -> None:
    await h.send(profile("m1", "mentor", capacity=1))
    await h.send(profile("e1"))
    await h.send(profile("e2"))
    [proposal] = h.of(MatchProposed)
    for person in ("e1", "m1"):
        await h.send(MatchAccepted(match_id=proposal.match_id, person_id=person))
    await h.send(MentorshipEnded(mentorship_id=proposal.match_id, reason="goals met"))
    assert [p.mentee_id for p in h.of(MatchProposed)] == ["e1", "e2"]


async def test_a_deleted_person_is_erased_and_their_open_proposals_withdrawn(
    h: MemoryHarness,
) -> None:
    await h.send(profile("m1", "mentor", capacity=1))
    await h.send(profile("m2", "mentor", capacity=1, timezone="Asia/Dubai"))
    await h.send(profile("e1"))
    [proposal] = h.of(MatchProposed)
    await h.send(ProfileDeleted(person_id="m1"))
    [withdrawn] = h.of(MatchWithdrawn)
    assert withdrawn.match_id == proposal.match_id
    assert h.of(MatchProposed)[-1].mentor_id == "m2"
    assert await h.doc("mentors", "m1") is None
    assert await h.doc("proposals", proposal.match_id) is None


async def test_pausing_withdraws_an_open_proposal(h: MemoryHarness) -> None:
    await h.send(profile("m1", "mentor"))
    await h.send(profile("e1"))
    await h.send(profile("m1", "mentor", paused=True, revision=2))
    [withdrawn] = h.of(MatchWithdrawn)
    assert withdrawn.reason == "mentor paused"


async def test_an_older_revision_never_overwrites_a_newer_one(h: MemoryHarness) -> None:
    await h.send(profile("m1", "mentor", languages=["fr"], revision=5))
    await h.send(profile("m1", "mentor", languages=["en"], revision=4))
    await h.send(profile("e1"))
    assert h.of(MatchProposed) == []
    doc = await h.doc("people", "m1")
    assert doc is not None and doc["revision"] == 5


async def test_a_redelivered_event_is_applied_once(h: MemoryHarness) -> None:
    await h.send(profile("m1", "mentor", capacity=3))
    await h.send(profile("e1"), id="same")
    await h.send(profile("e1", revision=2), id="same")
    assert len(h.of(MatchProposed)) == 1
    doc = await h.doc("mentors", "m1")
    assert doc is not None and doc["load"] == 1


async def test_an_answer_that_arrives_before_its_proposal_is_applied_when_it_appears(
    h: MemoryHarness,
) -> None:
    await h.send(profile("m1", "mentor"))
    match_id = match_id_for("signup-e1", "default", "e1", "m1")
    await h.send(MatchAccepted(match_id=match_id, person_id="m1"))
    await h.send(MatchAccepted(match_id=match_id, person_id="e1"))
    await h.send(profile("e1"), id="signup-e1")
    [started] = h.of(MentorshipStarted)
    assert started.mentorship_id == match_id == h.of(MatchProposed)[0].match_id


async def test_a_programme_policy_can_refuse_weak_pairs() -> None:
    async with memory_harness(MatchingPolicy(min_score=0.9)) as h:
        await h.send(profile("m1", "mentor"))
        await h.send(profile("e1", goals=["Go"]))
        assert h.of(MatchProposed) == []
