"""The online decisions: what an answer, an end or an expiry does, and who is proposed."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from services.matcher.policy import MatchingPolicy
from services.matcher.profiles import MentorStanding
from services.matcher.proposals import (
    Outcome,
    Proposal,
    Seat,
    Status,
    answer,
    end,
    expire,
    match_id_for,
    mentor_missed,
    proposal_event,
    seeks_mentor,
    withdrawal_reason,
)
from services.matcher.ranking import rank_mentors, rank_waiting_mentees

from .builders import mentee, mentor

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
OPEN = Proposal(
    match_id="x", programme_id="default", mentee_id="e", mentor_id="m",
    status=Status.OPEN, accepted_by=frozenset(), expires_at=T0 + timedelta(days=7),
)  # fmt: skip
POLICY = MatchingPolicy()


def test_one_acceptance_is_recorded_and_waits_for_the_other() -> None:
    assert answer(OPEN, "e", accepted=True) is Outcome.RECORDED


def test_the_second_acceptance_starts_the_mentorship() -> None:
    half = replace(OPEN, accepted_by=frozenset({"m"}))
    assert answer(half, "e", accepted=True) is Outcome.STARTED


def test_accepting_twice_alone_does_not_start_it() -> None:
    half = replace(OPEN, accepted_by=frozenset({"e"}))
    assert answer(half, "e", accepted=True) is Outcome.RECORDED


@pytest.mark.parametrize("who", ["e", "m"])
def test_a_decline_from_either_person_declines(who: str) -> None:
    assert answer(OPEN, who, accepted=False) is Outcome.DECLINED


def test_an_answer_from_a_stranger_is_ignored() -> None:
    assert answer(OPEN, "stranger", accepted=True) is Outcome.IGNORED


@pytest.mark.parametrize("status", [s for s in Status if s is not Status.OPEN])
def test_answers_to_a_closed_proposal_are_ignored(status: Status) -> None:
    closed = replace(OPEN, status=status)
    assert answer(closed, "e", accepted=True) is Outcome.IGNORED
    assert answer(closed, "e", accepted=False) is Outcome.IGNORED


@pytest.mark.parametrize(
    ("status", "outcome"),
    [(Status.STARTED, Outcome.ENDED), (Status.OPEN, Outcome.ENDED),
     (Status.DECLINED, Outcome.IGNORED), (Status.ENDED, Outcome.IGNORED)],
)  # fmt: skip
def test_ending_closes_what_holds_capacity_only(status: Status, outcome: Outcome) -> None:
    assert end(replace(OPEN, status=status)) is outcome


def test_a_proposal_expires_at_its_expiry_time_not_before() -> None:
    assert expire(OPEN, OPEN.expires_at - timedelta(seconds=1)) is Outcome.IGNORED
    assert expire(OPEN, OPEN.expires_at) is Outcome.EXPIRED


def test_a_started_mentorship_never_expires() -> None:
    assert expire(replace(OPEN, status=Status.STARTED), T0 + timedelta(days=99)) is Outcome.IGNORED


def test_an_expiry_counts_against_a_mentor_who_had_not_accepted() -> None:
    assert mentor_missed(replace(OPEN, accepted_by=frozenset({"e"})))
    assert not mentor_missed(replace(OPEN, accepted_by=frozenset({"m"})))


def test_a_new_mentee_seeks_a_mentor() -> None:
    assert seeks_mentor(None, mentee(), "default", None)


def test_a_waiting_mentee_seeks_again_on_any_revision() -> None:
    assert seeks_mentor(mentee(), mentee(revision=2), "default", Seat.WAITING)


@pytest.mark.parametrize("seat", [Seat.PROPOSED, Seat.MATCHED])
def test_a_mentee_with_a_proposal_or_mentorship_does_not_seek(seat: Seat) -> None:
    assert not seeks_mentor(mentee(), mentee(goals=["Go"], revision=2), "default", seat)


def test_an_idle_mentee_seeks_again_only_when_their_goals_change() -> None:
    before = mentee(goals=["Go"])
    assert not seeks_mentor(before, mentee(goals=["golang"], revision=2), "default", Seat.IDLE)
    assert seeks_mentor(before, mentee(goals=["Rust"], revision=2), "default", Seat.IDLE)


def test_a_paused_mentee_does_not_seek() -> None:
    assert not seeks_mentor(None, mentee(paused=True), "default", None)


def test_a_proposal_is_withdrawn_when_a_profile_change_breaks_a_constraint() -> None:
    reason = withdrawal_reason(mentee(), mentor(paused=True), "default", POLICY)
    assert reason == "mentor paused"
    assert withdrawal_reason(mentee(), mentor(), "default", POLICY) is None


def test_rank_mentors_skips_pairs_proposed_before_and_full_mentors() -> None:
    team = [
        (mentor("best", skills=["Go"]), MentorStanding()),
        (mentor("full", skills=["Go"], capacity=1), MentorStanding(load=1)),
        (mentor("next"), MentorStanding()),
    ]
    ranked = rank_mentors(mentee(goals=["Go"]), "default", team, POLICY, blocked_mentors={"best"})
    assert [r.mentor.person_id for r in ranked] == ["next"]


def test_rank_mentors_applies_the_programmes_synonyms() -> None:
    policy = MatchingPolicy(synonyms={"rustlang": ["rust", "ferris"]})
    team = [(mentor("a", skills=["Ferris"]), MentorStanding()), (mentor("b"), MentorStanding())]
    best = rank_mentors(mentee(goals=["Rust"]), "default", team, policy)[0]
    assert best.mentor.person_id == "a"


def test_a_freed_mentor_is_offered_to_the_best_waiting_mentees_up_to_their_room() -> None:
    teacher = mentor("m", skills=["Go"], capacity=3)
    waiting = [
        ("default", mentee("e-go", goals=["golang"])),
        ("default", mentee("e-rust", goals=["Rust"])),
        ("default", mentee("e-fr", goals=["Go"], languages=["fr"])),
        ("default", mentee("e-seen", goals=["Go"])),
    ]
    chosen = rank_waiting_mentees(
        teacher, MentorStanding(load=1), waiting, {"default": POLICY},
        blocked_mentees={"e-seen"}, limit=2,
    )  # fmt: skip
    assert [c.mentee.person_id for c in chosen] == ["e-go", "e-rust"]


def test_a_waiting_mentee_in_two_programmes_is_offered_once() -> None:
    teacher = mentor("m", programmes=["default", "wit"])
    learner = mentee("e", programmes=["default", "wit"])
    chosen = rank_waiting_mentees(
        teacher, MentorStanding(), [("default", learner), ("wit", learner)],
        {"default": POLICY, "wit": POLICY}, limit=2,
    )  # fmt: skip
    assert len(chosen) == 1


def test_a_proposal_expires_after_the_policys_time_to_live() -> None:
    [candidate] = rank_mentors(mentee(), "default", [(mentor(), MentorStanding())], POLICY)
    event = proposal_event("x", candidate, T0, MatchingPolicy(proposal_ttl_days=3))
    assert event.expires_at == T0 + timedelta(days=3)
    assert event.reasons == list(candidate.reasons) and event.components


def test_match_ids_are_stable_for_a_cause_and_differ_between_pairs() -> None:
    assert match_id_for("c", "default", "e", "m") == match_id_for("c", "default", "e", "m")
    assert match_id_for("c", "default", "e", "m") != match_id_for("c", "default", "e", "n")
