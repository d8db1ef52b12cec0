"""The vectorised ranking computes exactly the pure model: same allowed set, same scores."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from services.matcher.constraints import allowed
from services.matcher.policy import MatchingPolicy, Weights
from services.matcher.profiles import MentorStanding, Person
from services.matcher.ranking import MentorIndex
from services.matcher.scoring import score_pair

from .builders import mentee, mentor

TAGS = st.lists(
    st.sampled_from(["ML", "machine learning", "Go", "golang", "Rust", "chess", "SQL", "APIs"]),
    max_size=4,
    unique=True,
)
ZONES = st.sampled_from(["Europe/London", "Asia/Kolkata", "America/Lima", "Pacific/Auckland"])
LANGS = st.lists(
    st.sampled_from(["en", "fr", "Deutsch", "de"]), min_size=1, max_size=2, unique=True
)
PROGRAMMES = st.lists(st.sampled_from(["default", "wit"]), min_size=1, max_size=2, unique=True)


@st.composite
def mentors(draw: st.DrawFn, i: int) -> tuple[Person, MentorStanding]:
    capacity = draw(st.integers(0, 3))
    person = mentor(
        f"m{i}",
        skills=draw(TAGS), goals=draw(TAGS), passions=draw(TAGS), languages=draw(LANGS),
        timezone=draw(ZONES), capacity=capacity, paused=draw(st.booleans()),
        programmes=draw(PROGRAMMES),
    )  # fmt: skip
    standing = MentorStanding(
        load=draw(st.integers(0, 3)), accepted=draw(st.integers(0, 5)),
        declined=draw(st.integers(0, 5)),
    )  # fmt: skip
    return person, standing


@st.composite
def cases(draw: st.DrawFn) -> tuple[Person, list[tuple[Person, MentorStanding]], MatchingPolicy]:
    count = draw(st.integers(0, 12))
    team = [draw(mentors(i)) for i in range(count)]
    learner = mentee(
        "e", goals=draw(TAGS), passions=draw(TAGS), languages=draw(LANGS), timezone=draw(ZONES),
        programmes=draw(PROGRAMMES),
    )  # fmt: skip
    weights = Weights(
        goal_coverage=draw(st.floats(0.1, 1)), shared_passions=draw(st.floats(0, 1)),
        timezone=draw(st.floats(0, 1)), availability=draw(st.floats(0, 1)),
        responsiveness=draw(st.floats(0, 1)),
    )  # fmt: skip
    policy = MatchingPolicy(
        weights=weights,
        max_timezone_gap_hours=draw(st.sampled_from([3.0, 6.0, 12.0])),
        mentor_goal_credit=draw(st.floats(0, 1)),
        min_score=draw(st.sampled_from([0.0, 0.3])),
    )
    return learner, team, policy


@settings(max_examples=200, deadline=None)
@given(cases(), st.sampled_from(["default", "wit"]), st.sets(st.sampled_from(["m0", "m1", "m2"])))
def test_vectorised_scores_equal_the_pure_model(
    case: tuple[Person, list[tuple[Person, MentorStanding]], MatchingPolicy],
    programme: str,
    blocked: set[str],
) -> None:
    learner, team, policy = case
    index = MentorIndex([m for m, _ in team], policy, {m.person_id: s for m, s in team})
    scores = index.scores(learner, programme, exclude=blocked)
    for row, (teacher, standing) in enumerate(team):
        ok = allowed(
            learner, teacher, programme, policy, mentor_load=standing.load, blocked_mentors=blocked
        )
        expected = score_pair(learner, teacher, policy, standing).score
        if ok and expected >= policy.min_score:
            assert math.isclose(scores[row], expected, abs_tol=1e-9)
        else:
            assert scores[row] == -math.inf


@settings(max_examples=100, deadline=None)
@given(cases(), st.sampled_from(["default", "wit"]))
def test_ranked_candidates_carry_the_pure_models_shares_view_and_reasons(
    case: tuple[Person, list[tuple[Person, MentorStanding]], MatchingPolicy], programme: str
) -> None:
    learner, team, policy = case
    index = MentorIndex([m for m, _ in team], policy, {m.person_id: s for m, s in team})
    standings = {m.person_id: s for m, s in team}
    for candidate in index.rank(learner, programme, limit=len(team)):
        pair = score_pair(learner, candidate.mentor, policy, standings[candidate.mentor.person_id])
        assert math.isclose(candidate.score, pair.score, abs_tol=1e-9)
        assert math.isclose(candidate.mentor_score, pair.mentor_score, abs_tol=1e-9)
        for name, share in pair.components.items():
            assert math.isclose(candidate.components[name], share, abs_tol=1e-9)
        # The words are the same; the figures in "Score from ..." lines agree to 1e-9.
        assert len(candidate.reasons) == len(pair.reasons)
        words = [r for r in candidate.reasons if not r.startswith("Score from")]
        assert words == [r for r in pair.reasons if not r.startswith("Score from")]


def test_rank_returns_the_best_allowed_mentors_best_first() -> None:
    learner = mentee(goals=["Go", "Rust"])
    team = [
        mentor("none"),
        mentor("both", skills=["golang", "rust"]),
        mentor("one", skills=["Go"]),
        mentor("french", skills=["Go", "Rust"], languages=["fr"]),
    ]
    ranked = MentorIndex(team, MatchingPolicy()).rank(learner, "default", limit=3)
    assert [r.mentor.person_id for r in ranked] == ["both", "one", "none"]


def test_rank_breaks_ties_by_mentor_id() -> None:
    team = [mentor(f"m{i}") for i in (5, 3, 9, 1, 7)]
    ranked = MentorIndex(team, MatchingPolicy()).rank(mentee(), "default", limit=3)
    assert [r.mentor.person_id for r in ranked] == ["m1", "m3", "m5"]


def test_rank_skips_excluded_mentors() -> None:
    team = [mentor("a", skills=["Go"]), mentor("b")]
    ranked = MentorIndex(team, MatchingPolicy()).rank(
        mentee(goals=["Go"]), "default", exclude={"a"}
    )
    assert [r.mentor.person_id for r in ranked] == ["b"]


def test_rank_of_a_mentee_outside_the_programme_is_empty() -> None:
    index = MentorIndex([mentor(programmes=["default", "wit"])], MatchingPolicy())
    assert index.rank(mentee(programmes=["default"]), "wit") == []


def test_an_empty_index_ranks_nobody() -> None:
    assert MentorIndex([], MatchingPolicy()).rank(mentee(), "default") == []


def test_mentors_without_any_tags_still_rank() -> None:
    ranked = MentorIndex([mentor("bare")], MatchingPolicy()).rank(
        mentee(goals=["Go"], passions=["chess"]), "default"
    )
    assert [r.mentor.person_id for r in ranked] == ["bare"]
