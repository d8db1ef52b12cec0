"""Completed sessions feed a mentor's responsiveness, next to their accept rate: of their
mentorships that met or ended, the share that met."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from services.matcher.policy import MatchingPolicy, Weights
from services.matcher.profiles import MentorStanding
from services.matcher.scoring import responsiveness, score_pair
from shared.events import (
    MatchAccepted,
    MatchProposed,
    MentorshipEnded,
    SessionCompleted,
)

from .builders import mentee, mentor, profile
from .harness import MemoryHarness, memory_harness

ONLY_RESPONSIVENESS = MatchingPolicy(
    weights=Weights(goal_coverage=0, shared_passions=0, timezone=0, availability=0,
                    responsiveness=1)
)  # fmt: skip


@pytest.fixture
async def h() -> AsyncIterator[MemoryHarness]:
    async with memory_harness() as harness:
        yield harness


def session(mentorship_id: str, n: int = 1) -> SessionCompleted:
    return SessionCompleted(
        mentorship_id=mentorship_id,
        session_id=f"{mentorship_id}-s{n}",
        occurred_at=datetime(2026, 3, 9, tzinfo=UTC),
        duration_minutes=45,
    )


async def started(h: MemoryHarness, mentee_id: str = "e1") -> str:
    await h.send(profile(mentee_id))
    proposal = h.of(MatchProposed)[-1]
    for person in (proposal.mentee_id, proposal.mentor_id):
        await h.send(MatchAccepted(match_id=proposal.match_id, person_id=person))
    return proposal.match_id


async def standing(h: MemoryHarness, mentor_id: str = "m1") -> tuple[int, int]:
    doc = await h.doc("mentors", mentor_id)
    assert doc is not None
    return doc["met"], doc["missed"]


def test_a_mentor_whose_mentorships_meet_scores_higher_than_one_whose_do_not() -> None:
    learner, teacher = mentee(), mentor()
    meets = score_pair(learner, teacher, ONLY_RESPONSIVENESS, MentorStanding(met=5))
    misses = score_pair(learner, teacher, ONLY_RESPONSIVENESS, MentorStanding(missed=5))
    assert meets.score > 0.5 > misses.score


def test_accepting_and_meeting_both_count_by_the_policys_share() -> None:
    keen_but_absent = MentorStanding(accepted=8, missed=8)
    half = MatchingPolicy(follow_through_share=0.5)
    answers_only = MatchingPolicy(follow_through_share=0.0)
    assert responsiveness(keen_but_absent, answers_only) == pytest.approx(0.9)
    assert responsiveness(keen_but_absent, half) == pytest.approx(0.5 * 0.9 + 0.5 * 0.1)


async def test_the_first_completed_session_counts_the_mentorship_as_met_once(
    h: MemoryHarness,
) -> None:
    await h.send(profile("m1", "mentor"))
    match_id = await started(h)
    await h.send(session(match_id, 1))
    await h.send(session(match_id, 2))
    assert await standing(h) == (1, 0)


async def test_a_mentorship_that_ends_without_meeting_counts_as_missed(h: MemoryHarness) -> None:
    await h.send(profile("m1", "mentor"))
    match_id = await started(h)
    await h.send(MentorshipEnded(mentorship_id=match_id, reason="no time"))
    assert await standing(h) == (0, 1)


async def test_a_session_reported_after_the_end_turns_missed_into_met(h: MemoryHarness) -> None:
    await h.send(profile("m1", "mentor"))
    match_id = await started(h)
    await h.send(MentorshipEnded(mentorship_id=match_id, reason="done"))
    await h.send(session(match_id))
    assert await standing(h) == (1, 0)


async def test_a_session_that_arrives_before_its_proposal_is_counted_when_it_appears(
    h: MemoryHarness,
) -> None:
    from services.matcher.proposals import match_id_for

    await h.send(profile("m1", "mentor"))
    match_id = match_id_for("signup-e1", "default", "e1", "m1")
    await h.send(session(match_id))
    assert await standing(h) == (0, 0)
    await h.send(profile("e1"), id="signup-e1")
    assert await standing(h) == (1, 0)


async def test_a_mentor_whose_mentorships_met_is_proposed_before_one_whose_did_not(
    h: MemoryHarness,
) -> None:
    # Alike but for their language of warm-up; the id order favours the one who misses.
    await h.send(profile("m-b-meets", "mentor", languages=["en", "fr"]))
    await h.send(profile("m-a-misses", "mentor", languages=["en", "de"]))
    for mentee_id, language in [("fr-1", "fr"), ("de-1", "de"), ("fr-2", "fr"), ("de-2", "de")]:
        await h.send(profile(mentee_id, languages=[language]))
        proposal = h.of(MatchProposed)[-1]
        for person in (proposal.mentee_id, proposal.mentor_id):
            await h.send(MatchAccepted(match_id=proposal.match_id, person_id=person))
        if language == "fr":
            await h.send(session(proposal.match_id))
        await h.send(MentorshipEnded(mentorship_id=proposal.match_id, reason="done"))
    assert await standing(h, "m-b-meets") == (2, 0)
    assert await standing(h, "m-a-misses") == (0, 2)
    await h.send(profile("e-new", languages=["en"]))
    assert h.of(MatchProposed)[-1].mentor_id == "m-b-meets"
