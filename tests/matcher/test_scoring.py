"""The soft score, its components and the reasons a participant reads."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.matcher.policy import MatchingPolicy, Weights
from services.matcher.profiles import MentorStanding
from services.matcher.scoring import goal_coverage, passion_overlap, score_pair

from .builders import mentee, mentor

ONLY = {
    name: MatchingPolicy(
        weights=Weights(**{n: (1.0 if n == name else 0.0) for n in Weights.model_fields})
    )
    for name in Weights.model_fields
}


def test_goals_covered_by_skills_count_in_full() -> None:
    learner = mentee(goals=["ML", "Rust", "public speaking"])
    teacher = mentor(skills=["machine learning", "rust"])
    assert goal_coverage(learner, teacher, 0.5) == pytest.approx(2 / 3)


def test_a_goal_the_mentor_only_shares_as_a_goal_earns_partial_credit() -> None:
    learner = mentee(goals=["Rust"])
    assert goal_coverage(learner, mentor(goals=["rust"]), 0.25) == pytest.approx(0.25)
    assert goal_coverage(learner, mentor(goals=["rust"], skills=["Rust"]), 0.25) == 1.0


def test_a_mentee_without_goals_has_no_coverage() -> None:
    assert goal_coverage(mentee(goals=[]), mentor(skills=["Go"]), 0.5) == 0.0


def test_shared_passions_are_seen_from_each_side() -> None:
    learner = mentee(passions=["Climbing", "chess"])
    teacher = mentor(passions=["climbing", "music", "cooking", "sci-fi"])
    assert passion_overlap(learner, teacher) == pytest.approx(1 / 2)
    assert passion_overlap(teacher, learner) == pytest.approx(1 / 4)


def test_better_goal_coverage_scores_higher() -> None:
    learner = mentee(goals=["ML", "Go"])
    strong = score_pair(learner, mentor("a", skills=["ML", "golang"]))
    weak = score_pair(learner, mentor("b", skills=["ML"]))
    assert strong.score > weak.score


def test_closer_time_zones_score_higher() -> None:
    learner = mentee(timezone="Europe/London")
    near = score_pair(learner, mentor("a", timezone="Europe/Paris"), ONLY["timezone"])
    far = score_pair(learner, mentor("b", timezone="America/New_York"), ONLY["timezone"])
    assert near.score > far.score


def test_a_busier_mentor_scores_lower_so_proposals_spread() -> None:
    learner, teacher = mentee(), mentor(capacity=4)
    idle = score_pair(learner, teacher, standing=MentorStanding(load=0))
    busy = score_pair(learner, teacher, standing=MentorStanding(load=3))
    assert idle.score > busy.score


def test_a_mentor_who_accepts_more_scores_higher() -> None:
    learner, teacher = mentee(), mentor()
    keen = score_pair(learner, teacher, ONLY["responsiveness"], MentorStanding(accepted=8))
    reluctant = score_pair(learner, teacher, ONLY["responsiveness"], MentorStanding(declined=8))
    assert keen.score > 0.5 > reluctant.score


def test_an_unknown_mentor_starts_at_an_even_accept_rate() -> None:
    assert score_pair(mentee(), mentor(), ONLY["responsiveness"]).score == pytest.approx(0.5)


def test_weights_decide_what_matters() -> None:
    learner = mentee(goals=["Go"], passions=["chess"])
    teacher = mentor(skills=["Go"], passions=["running"])
    assert score_pair(learner, teacher, ONLY["goal_coverage"]).score == pytest.approx(1.0)
    assert score_pair(learner, teacher, ONLY["shared_passions"]).score == pytest.approx(0.0)


def test_component_shares_add_up_to_the_score() -> None:
    pair = score_pair(mentee(goals=["ML"], passions=["chess"]), mentor(skills=["ML"]))
    assert sum(pair.components.values()) == pytest.approx(pair.score)
    assert set(pair.components) == set(Weights.model_fields)


def test_reasons_name_the_covered_goals_with_the_words_people_wrote() -> None:
    pair = score_pair(mentee(goals=["ML", "Rust"]), mentor(skills=["machine learning"]))
    assert "Goal 'ML' is covered by the mentor's skill 'machine learning'" in pair.reasons
    assert "Goals the mentor does not cover: Rust" in pair.reasons


def test_reasons_list_shared_passions_and_the_time_zone_gap() -> None:
    pair = score_pair(
        mentee(passions=["Open Source", "chess"], timezone="Europe/London"),
        mentor(passions=["open-source"], timezone="Europe/Berlin"),
    )
    assert "Shared passions: Open Source" in pair.reasons
    assert "Time-zone gap: 1 h (Europe/London / Europe/Berlin)" in pair.reasons


def test_reasons_give_each_components_share_of_the_score() -> None:
    pair = score_pair(mentee(goals=["Go"]), mentor(skills=["Go"]))
    share = pair.components["goal_coverage"]
    expected = f"Score from goal coverage: {share:.3f} of {pair.score:.3f}"
    assert any(r.startswith(expected) for r in pair.reasons)


TAGS = st.lists(st.sampled_from(["ML", "Go", "Rust", "chess", "SQL", "k8s", "CSS"]), max_size=5)
ZONES = st.sampled_from(["Europe/London", "Asia/Tokyo", "America/Lima", "Pacific/Auckland"])


@given(
    TAGS, TAGS, TAGS, TAGS, TAGS, ZONES, ZONES,
    st.integers(0, 5), st.integers(1, 5), st.integers(0, 9), st.integers(0, 9),
)  # fmt: skip
def test_scores_stay_between_zero_and_one(
    goals: list[str], passions: list[str], skills: list[str], mgoals: list[str],
    mpassions: list[str], zone: str, mzone: str, load: int, cap: int, acc: int, dec: int,
) -> None:  # fmt: skip
    pair = score_pair(
        mentee(goals=sorted(set(goals)), passions=sorted(set(passions)), timezone=zone),
        mentor(skills=sorted(set(skills)), goals=sorted(set(mgoals)),
               passions=sorted(set(mpassions)), timezone=mzone, capacity=cap),
        standing=MentorStanding(load=min(load, cap), accepted=acc, declined=dec),
    )  # fmt: skip
    assert 0.0 <= pair.score <= 1.0 and 0.0 <= pair.mentor_score <= 1.0
    assert math.isclose(sum(pair.components.values()), pair.score, abs_tol=1e-9)


def test_the_mentor_prefers_mentees_who_want_what_they_teach() -> None:
    teacher = mentor(skills=["Rust"])
    keen = score_pair(mentee("a", goals=["rust"]), teacher)
    elsewhere = score_pair(mentee("b", goals=["Java"]), teacher)
    assert keen.mentor_score > elsewhere.mentor_score
