"""Hard constraints: a pair that breaks one is never proposed, whatever it would score;
and each rule's one-pair and all-mentors forms agree."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from services.matcher.columns import MentorColumns
from services.matcher.constraints import RULES, Field, Pair, allowed, allowed_for_all, violations
from services.matcher.policy import MatchingPolicy
from services.matcher.profiles import MentorStanding, Person

from .builders import mentee, mentor, profile

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


# --- each rule's two forms agree ------------------------------------------------------

TAGS = st.lists(st.sampled_from(["Go", "Rust", "chess"]), max_size=2, unique=True)
ZONES = st.sampled_from(["Europe/London", "Asia/Kolkata", "America/Lima", "Pacific/Auckland"])
LANGS = st.lists(st.sampled_from(["en", "fr", "Deutsch", "de"]), min_size=1, max_size=2,
                 unique=True)  # fmt: skip
PROGRAMMES = st.lists(st.sampled_from(["default", "wit"]), min_size=1, max_size=2, unique=True)


@st.composite
def people(draw: st.DrawFn, person_id: str) -> Person:
    """Anyone: mentor, mentee or both, paused or not."""
    roles = draw(st.lists(st.sampled_from(["mentor", "mentee"]), min_size=1, max_size=2,
                          unique=True))  # fmt: skip
    return Person.from_profile(
        profile(
            person_id, roles=roles, goals=draw(TAGS), skills=draw(TAGS),
            languages=draw(LANGS), timezone=draw(ZONES), capacity=draw(st.integers(0, 3)),
            paused=draw(st.booleans()), programmes=draw(PROGRAMMES),
        )
    )  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(
    st.data(),
    st.integers(0, 6),
    st.sampled_from(["default", "wit", "elsewhere"]),
    st.sampled_from([3.0, 6.0, 12.0]),
)
def test_every_rule_says_the_same_for_one_pair_and_for_all_mentors_at_once(
    data: st.DataObject, count: int, programme: str, gap: float
) -> None:
    # Mentor ids may repeat the mentee's, so "same person" is exercised too.
    mentors = [data.draw(people(f"p{i}")) for i in range(count)]
    learner = data.draw(people(data.draw(st.sampled_from(["p0", "p1", "x"]))))
    loads = {m.person_id: data.draw(st.integers(0, 3)) for m in mentors}
    blocked = data.draw(st.sets(st.sampled_from(["p0", "p1", "p2", "x"])))
    policy = MatchingPolicy(max_timezone_gap_hours=gap)
    columns = MentorColumns.of(mentors, {m: MentorStanding(load=n) for m, n in loads.items()})
    field = Field(learner, columns, programme, policy, blocked)
    for rule in RULES:
        at_once = rule.holds_for_all(field)
        for row, teacher in enumerate(mentors):
            pair = Pair(learner, teacher, programme, policy, loads[teacher.person_id], blocked)
            assert bool(at_once[row]) == rule.holds(pair), (rule.broken(pair), row)
    expected = [
        allowed(learner, m, programme, policy, mentor_load=loads[m.person_id],
                blocked_mentors=blocked)
        for m in mentors
    ]  # fmt: skip
    assert allowed_for_all(field).tolist() == expected
