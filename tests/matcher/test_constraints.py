"""Hard constraints: a pair that breaks one is never proposed, whatever it would score."""

from __future__ import annotations

from services.matcher.constraints import allowed, violations
from services.matcher.policy import MatchingPolicy

from .builders import mentee, mentor

POLICY = MatchingPolicy()


def test_a_well_suited_pair_is_allowed() -> None:
    assert violations(mentee(), mentor(), "default", POLICY) == []


def test_a_person_is_never_matched_with_themselves() -> None:
    both = mentee("p", roles=["mentor", "mentee"], capacity=1)
    assert "same person" in violations(both, both, "default", POLICY)


def test_the_mentor_must_have_the_mentor_role() -> None:
    assert "not a mentor" in violations(mentee("a"), mentee("b"), "default", POLICY)


def test_both_must_share_the_programme_matched_in() -> None:
    one = mentee(programmes=["default", "women-in-tech"])
    other = mentor(programmes=["default"])
    assert allowed(one, other, "default", POLICY)
    assert not allowed(one, other, "women-in-tech", POLICY)


def test_a_shared_language_is_required() -> None:
    assert "no shared language" in violations(
        mentee(languages=["fr"]), mentor(languages=["de", "en"]), "default", POLICY
    )


def test_languages_match_by_code_or_name() -> None:
    assert allowed(mentee(languages=["Deutsch"]), mentor(languages=["de"]), "default", POLICY)


def test_a_paused_mentor_is_not_proposed() -> None:
    assert "mentor paused" in violations(mentee(), mentor(paused=True), "default", POLICY)


def test_a_paused_mentee_gets_no_proposal() -> None:
    assert "mentee paused" in violations(mentee(paused=True), mentor(), "default", POLICY)


def test_the_mentor_needs_free_capacity() -> None:
    full = mentor(capacity=2)
    assert allowed(mentee(), full, "default", POLICY, mentor_load=1)
    assert not allowed(mentee(), full, "default", POLICY, mentor_load=2)


def test_a_pair_proposed_before_is_not_proposed_again() -> None:
    assert "pair already proposed before" in violations(
        mentee(), mentor("m"), "default", POLICY, blocked_mentors={"m"}
    )


def test_the_time_zone_gap_is_bounded_by_the_policy() -> None:
    london, tokyo = mentee(timezone="Europe/London"), mentor(timezone="Asia/Tokyo")
    assert not allowed(london, tokyo, "default", MatchingPolicy(max_timezone_gap_hours=6))
    assert allowed(london, tokyo, "default", MatchingPolicy(max_timezone_gap_hours=12))


def test_the_time_zone_gap_goes_the_short_way_round_the_clock() -> None:
    auckland, honolulu = mentee(timezone="Pacific/Auckland"), mentor(timezone="Pacific/Honolulu")
    # +12/+13 and -10 are 1.5 h apart across the date line on average over a year, not 22.5 h.
    assert allowed(auckland, honolulu, "default", MatchingPolicy(max_timezone_gap_hours=2))
