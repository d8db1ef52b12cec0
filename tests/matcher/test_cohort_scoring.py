"""Scoring a whole cohort of people with the matcher's model (`cohort_scoring.py`)."""

from __future__ import annotations

from services.matcher.cohort_scoring import mentor_capacities, score_cohort

from .builders import profile


def test_score_cohort_returns_only_allowed_pairs() -> None:
    people = [
        profile("m-en", "mentor", skills=["Go"]),
        profile("m-fr", "mentor", skills=["Go"], languages=["fr"]),
        profile("m-paused", "mentor", skills=["Go"], paused=True),
        profile("e1", goals=["Go"]),
    ]
    pairs = score_cohort(people)
    assert [(p.mentee_id, p.mentor_id) for p in pairs] == [("e1", "m-en")]
    assert pairs[0].reasons and 0 < pairs[0].score <= 1


def test_score_cohort_pairs_people_only_within_a_shared_programme() -> None:
    people = [
        profile("m1", "mentor", programmes=["default", "wit"]),
        profile("m2", "mentor", programmes=["default"]),
        profile("e1", programmes=["wit"]),
    ]
    assert {(p.programme_id, p.mentor_id) for p in score_cohort(people)} == {("wit", "m1")}


def test_score_cohort_keeps_the_best_pairs_per_mentee_best_first() -> None:
    people = [profile(f"m{i}", "mentor", skills=["Go"] * (i % 2)) for i in range(6)]
    people.append(profile("e1", goals=["Go"]))
    pairs = score_cohort(people, max_per_mentee=3)
    assert len(pairs) == 3
    assert [p.score for p in pairs] == sorted((p.score for p in pairs), reverse=True)
    assert {p.mentor_id for p in pairs} == {"m1", "m3", "m5"}


def test_score_cohort_uses_each_persons_latest_revision() -> None:
    people = [
        profile("m1", "mentor", languages=["fr"], revision=2),
        profile("m1", "mentor", languages=["en"], revision=1),
        profile("e1"),
    ]
    assert score_cohort(people) == []


def test_score_cohort_is_deterministic() -> None:
    people = [profile(f"m{i}", "mentor") for i in range(5)] + [profile(f"e{i}") for i in range(4)]
    assert score_cohort(people) == score_cohort(list(reversed(people)))


def test_mentor_capacities_count_paused_mentors_as_full() -> None:
    people = [
        profile("m1", "mentor", capacity=3),
        profile("m2", "mentor", capacity=2, paused=True),
        profile("e1"),
    ]
    assert mentor_capacities(people) == {"m1": 3, "m2": 0}
