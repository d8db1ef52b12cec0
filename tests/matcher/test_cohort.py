"""The cohort solvers, checked against independent solvers and brute force."""

from __future__ import annotations

import itertools
import random
from collections.abc import Sequence

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import Bounds, LinearConstraint, linear_sum_assignment, milp

from services.matcher.cohort import (
    MODES,
    Candidacy,
    Cohort,
    InvalidCohort,
    Matching,
    Mode,
    greedy_matching,
    optimal_matching,
    solve,
    stable_matching,
)

Instance = tuple[list[Candidacy], dict[str, int]]

SCORES = st.one_of(
    st.floats(min_value=-1.0, max_value=1.0, allow_nan=False),
    st.sampled_from([0.0, 0.25, 0.5, 1.0]),  # ties
)


@st.composite
def instances(draw: st.DrawFn, max_mentees: int = 7, max_mentors: int = 5) -> Instance:
    # Ids whose sorted order differs from their creation order.
    mentees = [f"e{k}" for k in draw(st.permutations(range(draw(st.integers(0, max_mentees)))))]
    mentors = [f"m{k}" for k in draw(st.permutations(range(draw(st.integers(0, max_mentors)))))]
    capacities = {m: draw(st.integers(0, 3)) for m in mentors}
    candidacies = [
        Candidacy(e, m, draw(SCORES), draw(SCORES))
        for e in mentees
        for m in mentors
        if draw(st.booleans())
    ]
    return candidacies, capacities


@st.composite
def strict_instances(draw: st.DrawFn) -> Instance:
    """Tiny instances where every mentee and every mentor has strict preferences."""
    n_mentees, n_mentors = draw(st.integers(1, 5)), draw(st.integers(1, 3))
    allowed = [(e, m) for e in range(n_mentees) for m in range(n_mentors) if draw(st.booleans())]
    mentee_rank = draw(st.permutations(range(len(allowed))))
    mentor_rank = draw(st.permutations(range(len(allowed))))
    candidacies = [
        Candidacy(f"e{e}", f"m{m}", float(mentee_rank[i]), float(mentor_rank[i]))
        for i, (e, m) in enumerate(allowed)
    ]
    return candidacies, {f"m{m}": draw(st.integers(0, 2)) for m in range(n_mentors)}


def cohort_of(instance: Instance) -> Cohort:
    return Cohort.of(*instance)


def pairs_of(matching: Matching) -> set[tuple[str, str]]:
    return {(a.mentee, a.mentor) for a in matching.assignments()}


# --- independent solvers --------------------------------------------------------------


def lsa_optimum(instance: Instance) -> float:
    """Maximum total by the dense assignment solver: one column per seat of a mentor, and
    one zero-valued "unmatched" column per mentee; pairs not allowed are heavily penalised."""
    candidacies, capacities = instance
    mentees = sorted({c.mentee for c in candidacies})
    if not mentees:
        return 0.0
    seats = [m for m in sorted(capacities) for _ in range(capacities[m])]
    value = {(c.mentee, c.mentor): c.score for c in candidacies}
    forbidden = -1e6
    matrix = np.full((len(mentees), len(seats) + len(mentees)), forbidden)
    matrix[:, len(seats) :] = 0.0
    for i, e in enumerate(mentees):
        for j, m in enumerate(seats):
            matrix[i, j] = value.get((e, m), forbidden)
    rows, cols = linear_sum_assignment(matrix, maximize=True)
    return float(matrix[rows, cols].sum())


def milp_participation_optimum(instance: Instance) -> tuple[int, float]:
    """Most mentees matched, then best total, as two integer programs (HiGHS)."""
    candidacies, capacities = instance
    if not candidacies:
        return 0, 0.0
    mentees = sorted({c.mentee for c in candidacies})
    mentors = sorted(capacities)
    n = len(candidacies)
    a = np.zeros((len(mentees) + len(mentors), n))
    for k, c in enumerate(candidacies):
        a[mentees.index(c.mentee), k] = 1.0
        a[len(mentees) + mentors.index(c.mentor), k] = 1.0
    upper = [1.0] * len(mentees) + [float(capacities[m]) for m in mentors]
    degree = LinearConstraint(a, -np.inf, upper)
    binary = {"integrality": np.ones(n), "bounds": Bounds(0, 1)}
    most = milp(-np.ones(n), constraints=[degree], **binary)
    count = round(-most.fun)
    scores = np.array([c.score for c in candidacies])
    keep_count = LinearConstraint(np.ones((1, n)), count - 0.5, np.inf)
    best = milp(-scores, constraints=[degree, keep_count], **binary)
    return count, float(-best.fun)


def networkx_optimum(instance: Instance) -> float:
    """Maximum total by general max-weight matching on the seat-expanded graph."""
    candidacies, capacities = instance
    graph = nx.Graph()
    for c in candidacies:
        if c.score > 0:
            for seat in range(capacities[c.mentor]):
                graph.add_edge(("e", c.mentee), ("s", c.mentor, seat), weight=c.score)
    matching = nx.max_weight_matching(graph)
    return sum(graph.edges[u, v]["weight"] for u, v in matching)


def brute_blocking_pairs(instance: Instance, matched: set[tuple[str, str]]) -> int:
    """The definition, written out: allowed, not together, mentee strictly prefers the
    mentor (or is alone), mentor has room or strictly prefers the mentee to one it holds."""
    candidacies, capacities = instance
    score = {(c.mentee, c.mentor): c.score for c in candidacies}
    mentor_score = {(c.mentee, c.mentor): c.mentor_score for c in candidacies}
    partner = {e: m for e, m in matched}
    held = {m: [e for e, mm in matched if mm == m] for m in capacities}
    count = 0
    for c in candidacies:
        if (c.mentee, c.mentor) in matched:
            continue
        current = partner.get(c.mentee)
        mentee_wants = current is None or c.score > score[c.mentee, current]
        room = len(held[c.mentor]) < capacities[c.mentor]
        mentor_wants = room or any(
            c.mentor_score > mentor_score[e, c.mentor] for e in held[c.mentor]
        )
        count += mentee_wants and mentor_wants
    return count


def feasible_matchings(instance: Instance) -> list[set[tuple[str, str]]]:
    candidacies, capacities = instance
    options: dict[str, list[str | None]] = {}
    for c in candidacies:
        options.setdefault(c.mentee, [None]).append(c.mentor)
    mentees = sorted(options)
    out = []
    for choice in itertools.product(*(options[e] for e in mentees)):
        load = {m: choice.count(m) for m in capacities}
        if all(load[m] <= capacities[m] for m in capacities):
            out.append({(e, m) for e, m in zip(mentees, choice, strict=True) if m is not None})
    return out


def tie_broken(instance: Instance) -> Instance:
    """The same preferences made strict by the documented tie-break: a mentee prefers the
    lower mentor id among equal scores, a mentor the lower mentee id."""
    candidacies, capacities = instance
    mentee_rank = {
        (c.mentee, c.mentor): -rank
        for rank, c in enumerate(sorted(candidacies, key=lambda c: (-c.score, c.mentor)))
    }
    mentor_rank = {
        (c.mentee, c.mentor): -rank
        for rank, c in enumerate(sorted(candidacies, key=lambda c: (-c.mentor_score, c.mentee)))
    }
    strict = [
        Candidacy(
            c.mentee,
            c.mentor,
            float(mentee_rank[c.mentee, c.mentor]),
            float(mentor_rank[c.mentee, c.mentor]),
        )
        for c in candidacies
    ]
    return strict, capacities


def preference(instance: Instance, mentee: str, mentor: str | None) -> float:
    if mentor is None:
        return -np.inf
    return next(c.score for c in instance[0] if (c.mentee, c.mentor) == (mentee, mentor))


# --- every mode --------------------------------------------------------------------------


@given(instances(), st.sampled_from(MODES))
def test_no_mode_exceeds_a_capacity_or_matches_a_mentee_twice(
    instance: Instance, mode: Mode
) -> None:
    matching = solve(cohort_of(instance), mode)
    mentors = [a.mentor for a in matching.assignments()]
    mentees = [a.mentee for a in matching.assignments()]
    assert all(mentors.count(m) <= cap for m, cap in instance[1].items())
    assert len(mentees) == len(set(mentees))


@given(instances(), st.sampled_from(MODES))
def test_every_mode_uses_only_allowed_pairs_with_their_scores(
    instance: Instance, mode: Mode
) -> None:
    allowed = {(c.mentee, c.mentor): c.score for c in instance[0]}
    for a in solve(cohort_of(instance), mode).assignments():
        assert allowed[a.mentee, a.mentor] == a.score


@given(instances())
def test_participation_never_exceeds_a_capacity(instance: Instance) -> None:
    matching = optimal_matching(cohort_of(instance), "participation")
    assert np.all(matching.load() <= matching.cohort.capacity)


@given(instances(), st.sampled_from(MODES), st.randoms(use_true_random=False))
def test_the_row_order_of_the_input_does_not_change_the_result(
    instance: Instance, mode: Mode, rnd: random.Random
) -> None:
    candidacies, capacities = instance
    shuffled = candidacies.copy()
    rnd.shuffle(shuffled)
    caps = list(capacities.items())
    rnd.shuffle(caps)
    first = solve(Cohort.of(candidacies, capacities), mode)
    second = solve(Cohort.of(shuffled, dict(caps)), mode)
    assert first.assignments() == second.assignments()


@given(instances())
def test_unmatched_and_spare_capacity_account_for_everyone(instance: Instance) -> None:
    matching = greedy_matching(cohort_of(instance))
    matched = {a.mentee for a in matching.assignments()}
    unmatched = {e.mentee for e in matching.unmatched()}
    assert matched | unmatched == {c.mentee for c in instance[0]}
    assert not matched & unmatched
    spare = dict(matching.spare_capacity())
    for mentor, capacity in instance[1].items():
        used = sum(a.mentor == mentor for a in matching.assignments())
        assert spare.get(mentor, 0) == capacity - used


@settings(max_examples=60)
@given(instances(), st.sampled_from(MODES))
def test_blocking_pairs_follow_the_definition(instance: Instance, mode: Mode) -> None:
    matching = solve(cohort_of(instance), mode)
    assert matching.blocking_pairs() == brute_blocking_pairs(instance, pairs_of(matching))


# --- optimal -------------------------------------------------------------------------------


@given(instances())
def test_optimal_total_equals_the_dense_assignment_solver(instance: Instance) -> None:
    total = optimal_matching(cohort_of(instance)).total_score
    assert total == pytest.approx(lsa_optimum(instance), abs=1e-9)


@settings(max_examples=40)
@given(instances(max_mentees=5, max_mentors=3))
def test_optimal_total_equals_general_max_weight_matching(instance: Instance) -> None:
    total = optimal_matching(cohort_of(instance)).total_score
    assert total == pytest.approx(networkx_optimum(instance), abs=1e-9)


@given(instances())
def test_participation_matches_the_most_mentees_then_maximises_the_score(
    instance: Instance,
) -> None:
    matching = optimal_matching(cohort_of(instance), "participation")
    most, best_total = milp_participation_optimum(instance)
    assert len(matching.chosen) == most
    assert matching.total_score == pytest.approx(best_total, abs=1e-9)


@given(instances())
def test_optimal_scores_at_least_as_much_as_stable_and_greedy(instance: Instance) -> None:
    cohort = cohort_of(instance)
    best = optimal_matching(cohort).total_score
    assert best >= stable_matching(cohort).total_score - 1e-9
    assert best >= greedy_matching(cohort).total_score - 1e-9


def test_participation_gives_up_score_to_match_one_more_mentee() -> None:
    # a likes x much more than y; b can only have x.
    instance = (
        [
            Candidacy("a", "x", 1.0, 1.0),
            Candidacy("a", "y", 0.05, 1.0),
            Candidacy("b", "x", 0.5, 1.0),
        ],
        {"x": 1, "y": 1},
    )
    assert pairs_of(optimal_matching(cohort_of(instance), "score")) == {("a", "x")}
    assert pairs_of(optimal_matching(cohort_of(instance), "participation")) == {
        ("a", "y"),
        ("b", "x"),
    }


def test_optimal_leaves_a_mentee_out_rather_than_take_a_negative_score() -> None:
    instance = ([Candidacy("a", "x", -0.2, 1.0)], {"x": 1})
    assert optimal_matching(cohort_of(instance), "score").assignments() == []
    assert len(optimal_matching(cohort_of(instance), "participation").assignments()) == 1


# --- stable --------------------------------------------------------------------------------


@given(instances(max_mentees=30, max_mentors=10))
def test_stable_has_no_blocking_pair(instance: Instance) -> None:
    assert stable_matching(cohort_of(instance)).blocking_pairs() == 0


@settings(max_examples=150)
@given(strict_instances())
def test_stable_is_the_mentee_optimal_stable_matching(instance: Instance) -> None:
    found = pairs_of(stable_matching(cohort_of(instance)))
    stable = [m for m in feasible_matchings(instance) if brute_blocking_pairs(instance, m) == 0]
    assert found in stable
    partner = dict(found)
    for other in stable:
        other_partner = dict(other)
        for c in instance[0]:
            mine = preference(instance, c.mentee, partner.get(c.mentee))
            assert mine >= preference(instance, c.mentee, other_partner.get(c.mentee))


@settings(max_examples=100)
@given(instances(max_mentees=5, max_mentors=3))
def test_stable_with_ties_is_mentee_optimal_for_the_id_tie_break(instance: Instance) -> None:
    strict = tie_broken(instance)
    found = pairs_of(stable_matching(cohort_of(instance)))
    assert found == pairs_of(stable_matching(cohort_of(strict)))
    stable = [m for m in feasible_matchings(strict) if brute_blocking_pairs(strict, m) == 0]
    partner = dict(found)
    for other in stable:
        other_partner = dict(other)
        for e in {c.mentee for c in strict[0]}:
            mine = preference(strict, e, partner.get(e))
            assert mine >= preference(strict, e, other_partner.get(e))


def test_a_mentor_keeps_the_mentee_they_prefer_by_mentor_score() -> None:
    instance = (
        [Candidacy("a", "x", 1.0, 0.2), Candidacy("b", "x", 1.0, 0.9)],
        {"x": 1},
    )
    assert pairs_of(stable_matching(cohort_of(instance))) == {("b", "x")}


# --- greedy --------------------------------------------------------------------------------


@given(instances())
def test_greedy_leaves_a_pair_only_for_better_or_equal_pairs(instance: Instance) -> None:
    matching = greedy_matching(cohort_of(instance))
    chosen = pairs_of(matching)
    score_of = {(c.mentee, c.mentor): c.score for c in instance[0]}
    got = {e: score_of[e, m] for e, m in chosen}
    for c in instance[0]:
        if (c.mentee, c.mentor) in chosen:
            continue
        held = [score_of[e, m] for e, m in chosen if m == c.mentor]
        mentee_took_better = c.mentee in got and got[c.mentee] >= c.score
        mentor_full_of_better = len(held) == instance[1][c.mentor] and all(
            s >= c.score for s in held
        )
        assert mentee_took_better or mentor_full_of_better


def test_greedy_takes_the_best_pair_even_when_it_costs_the_total() -> None:
    instance = (
        [
            Candidacy("a", "x", 1.0, 1.0),
            Candidacy("a", "y", 0.9, 1.0),
            Candidacy("b", "x", 0.8, 1.0),
        ],
        {"x": 1, "y": 1},
    )
    assert pairs_of(greedy_matching(cohort_of(instance))) == {("a", "x")}
    assert pairs_of(optimal_matching(cohort_of(instance))) == {("a", "y"), ("b", "x")}


def test_greedy_breaks_equal_scores_by_mentee_then_mentor_id() -> None:
    instance = (
        [
            Candidacy("b", "x", 0.5, 0.5),
            Candidacy("a", "y", 0.5, 0.5),
            Candidacy("a", "x", 0.5, 0.5),
        ],
        {"x": 1, "y": 1},
    )
    assert pairs_of(greedy_matching(cohort_of(instance))) == {("a", "x")}


# --- programmes ------------------------------------------------------------------------------


def test_a_mentee_is_matched_once_per_programme() -> None:
    instance = (
        [Candidacy("a", "x", 0.9, 0.9, "p1"), Candidacy("a", "y", 0.8, 0.8, "p2")],
        {"x": 1, "y": 1},
    )
    for mode in MODES:
        got = {
            (a.programme, a.mentee, a.mentor)
            for a in solve(cohort_of(instance), mode).assignments()
        }
        assert got == {("p1", "a", "x"), ("p2", "a", "y")}


@pytest.mark.parametrize("mode", MODES)
def test_a_mentor_capacity_is_shared_across_programmes(mode: Mode) -> None:
    instance = (
        [Candidacy("a", "x", 0.9, 0.9, "p1"), Candidacy("b", "x", 0.8, 0.8, "p2")],
        {"x": 1},
    )
    assert len(solve(cohort_of(instance), mode).assignments()) == 1


# --- invalid cohorts ------------------------------------------------------------------------


def test_a_pair_listed_twice_is_refused() -> None:
    with pytest.raises(InvalidCohort, match="listed twice"):
        Cohort.of([Candidacy("a", "x", 0.1, 0.1), Candidacy("a", "x", 0.2, 0.2)], {"x": 1})


def test_a_mentor_without_capacity_is_refused_unless_a_default_is_given() -> None:
    pairs: Sequence[Candidacy] = [Candidacy("a", "x", 0.1, 0.1)]
    with pytest.raises(InvalidCohort, match="'x' has no capacity"):
        Cohort.of(pairs, {})
    assert optimal_matching(Cohort.of(pairs, {}, absent_mentor_capacity=0)).assignments() == []


def test_a_person_cannot_mentor_themselves() -> None:
    with pytest.raises(InvalidCohort, match="themselves"):
        Cohort.of([Candidacy("a", "a", 0.1, 0.1)], {"a": 1})


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), 1e12])
def test_scores_must_be_finite_and_bounded(bad: float) -> None:
    with pytest.raises(InvalidCohort, match="finite"):
        Cohort.of([Candidacy("a", "x", bad, 0.1)], {"x": 1})


def test_participation_is_refused_outside_the_optimal_mode() -> None:
    with pytest.raises(InvalidCohort, match="optimal"):
        solve(Cohort.of([], {}), "stable", "participation")
