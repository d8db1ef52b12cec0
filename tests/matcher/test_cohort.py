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
Place = tuple[str, str]  # (programme, mentee): an enrolment
Chosen = set[tuple[str, str, str]]  # (programme, mentee, mentor)

SCORES = st.one_of(
    st.floats(min_value=-1.0, max_value=1.0, allow_nan=False),
    st.sampled_from([0.0, 0.25, 0.5, 1.0]),  # ties
)
PROGRAMME_SETS = st.sampled_from([("",), ("p1",), ("p1", "p2"), ("p2", "p1")])


@st.composite
def instances(
    draw: st.DrawFn,
    max_mentees: int = 7,
    max_mentors: int = 5,
    max_programmes: int = 2,
    max_places: int | None = None,
) -> Instance:
    """Ids whose sorted order differs from their creation order; programmes too, so a
    mentee may be enrolled in two and a pair allowed in both. `max_places` bounds the
    enrolments (mentees x programmes), for oracles that list every matching."""
    programmes = draw(PROGRAMME_SETS.filter(lambda p: len(p) <= max_programmes))
    if max_places is not None:
        max_mentees = min(max_mentees, max_places // len(programmes))
    mentees = [f"e{k}" for k in draw(st.permutations(range(draw(st.integers(0, max_mentees)))))]
    mentors = [f"m{k}" for k in draw(st.permutations(range(draw(st.integers(0, max_mentors)))))]
    capacities = {m: draw(st.integers(0, 3)) for m in mentors}
    candidacies = [
        Candidacy(e, m, draw(SCORES), draw(SCORES), programme)
        for programme in programmes
        for e in mentees
        for m in mentors
        if draw(st.booleans())
    ]
    return candidacies, capacities


@st.composite
def strict_instances(draw: st.DrawFn) -> Instance:
    """Tiny instances where every mentee and every mentor has strict preferences."""
    programmes = draw(PROGRAMME_SETS)
    # At most six enrolments, so every feasible matching can be listed.
    n_mentees = draw(st.integers(1, 5 if len(programmes) == 1 else 3))
    n_mentors = draw(st.integers(1, 3))
    allowed = [
        (p, e, m)
        for p in programmes
        for e in range(n_mentees)
        for m in range(n_mentors)
        if draw(st.booleans())
    ]
    mentee_rank = draw(st.permutations(range(len(allowed))))
    mentor_rank = draw(st.permutations(range(len(allowed))))
    candidacies = [
        Candidacy(f"e{e}", f"m{m}", float(mentee_rank[i]), float(mentor_rank[i]), p)
        for i, (p, e, m) in enumerate(allowed)
    ]
    return candidacies, {f"m{m}": draw(st.integers(0, 2)) for m in range(n_mentors)}


def cohort_of(instance: Instance) -> Cohort:
    return Cohort.of(*instance)


def place(c: Candidacy) -> Place:
    return (c.programme, c.mentee)


def pairs_of(matching: Matching) -> Chosen:
    return {(a.programme, a.mentee, a.mentor) for a in matching.assignments()}


def one_programme(instance: Instance) -> bool:
    return len({c.programme for c in instance[0]}) <= 1


# --- independent solvers --------------------------------------------------------------


def lsa_optimum(instance: Instance) -> float:
    """Maximum total by the dense assignment solver (one programme: a pair cannot repeat):
    one column per seat of a mentor, and one zero-valued "unmatched" column per mentee;
    pairs not allowed are heavily penalised."""
    candidacies, capacities = instance
    assert one_programme(instance)
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


def milp_optimum(instance: Instance, objective: str = "score") -> tuple[int, float]:
    """(mentees matched, total score) of the best assignment as integer programs (HiGHS):
    one mentor per enrolment, capacities, two people paired at most once. With
    `participation`, most mentees first, then the best total among those."""
    candidacies, capacities = instance
    if not candidacies:
        return 0, 0.0
    places = sorted({place(c) for c in candidacies})
    mentors = sorted(capacities)
    couples = sorted({(c.mentee, c.mentor) for c in candidacies})
    n = len(candidacies)
    a = np.zeros((len(places) + len(mentors) + len(couples), n))
    for k, c in enumerate(candidacies):
        a[places.index(place(c)), k] = 1.0
        a[len(places) + mentors.index(c.mentor), k] = 1.0
        a[len(places) + len(mentors) + couples.index((c.mentee, c.mentor)), k] = 1.0
    upper = [1.0] * len(places) + [float(capacities[m]) for m in mentors] + [1.0] * len(couples)
    degree = LinearConstraint(a, -np.inf, upper)
    binary = {"integrality": np.ones(n), "bounds": Bounds(0, 1)}
    scores = np.array([c.score for c in candidacies])
    if objective == "score":
        best = milp(-scores, constraints=[degree], **binary)
        return round(float(np.sum(best.x))), float(-best.fun)
    most = milp(-np.ones(n), constraints=[degree], **binary)
    count = round(-most.fun)
    keep_count = LinearConstraint(np.ones((1, n)), count - 0.5, np.inf)
    best = milp(-scores, constraints=[degree, keep_count], **binary)
    return count, float(-best.fun)


def networkx_optimum(instance: Instance) -> float:
    """Maximum total by general max-weight matching on the seat-expanded graph (one
    programme)."""
    candidacies, capacities = instance
    assert one_programme(instance)
    graph = nx.Graph()
    for c in candidacies:
        if c.score > 0:
            for seat in range(capacities[c.mentor]):
                graph.add_edge(("e", c.mentee), ("s", c.mentor, seat), weight=c.score)
    matching = nx.max_weight_matching(graph)
    return float(sum(graph.edges[u, v]["weight"] for u, v in matching))


def brute_blocking_pairs(instance: Instance, matched: Chosen) -> int:
    """The definition, written out: allowed, not together; the mentee (in that programme)
    is alone or strictly prefers the mentor; the mentor, if it holds the same mentee in
    another programme, strictly prefers this enrolment to that one, and otherwise has room
    or strictly prefers the mentee to one it holds."""
    candidacies, capacities = instance
    score = {(c.programme, c.mentee, c.mentor): c.score for c in candidacies}
    mentor_score = {(c.programme, c.mentee, c.mentor): c.mentor_score for c in candidacies}
    partner = {(p, e): m for p, e, m in matched}
    held = {m: [(p, e) for p, e, mm in matched if mm == m] for m in capacities}
    count = 0
    for c in candidacies:
        key = (c.programme, c.mentee, c.mentor)
        if key in matched:
            continue
        current = partner.get(place(c))
        mentee_wants = current is None or c.score > score[c.programme, c.mentee, current]
        same_mentee = [(p, e) for p, e in held[c.mentor] if e == c.mentee]
        if same_mentee:
            (p, e) = same_mentee[0]
            mentor_wants = c.mentor_score > mentor_score[p, e, c.mentor]
        else:
            room = len(held[c.mentor]) < capacities[c.mentor]
            mentor_wants = room or any(
                c.mentor_score > mentor_score[p, e, c.mentor] for p, e in held[c.mentor]
            )
        count += mentee_wants and mentor_wants
    return count


def feasible_matchings(instance: Instance) -> list[Chosen]:
    candidacies, capacities = instance
    options: dict[Place, list[str | None]] = {}
    for c in candidacies:
        options.setdefault(place(c), [None]).append(c.mentor)
    places = sorted(options)
    out = []
    for choice in itertools.product(*(options[p] for p in places)):
        load = {m: choice.count(m) for m in capacities}
        couples = [(e, m) for (_, e), m in zip(places, choice, strict=True) if m is not None]
        if all(load[m] <= capacities[m] for m in capacities) and len(couples) == len(set(couples)):
            out.append({(p, e, m) for (p, e), m in zip(places, choice, strict=True) if m})
    return out


def tie_broken(instance: Instance) -> Instance:
    """The same preferences made strict by the documented tie-break: a mentee prefers the
    lower mentor id among equal scores, a mentor the lower enrolment (programme, then
    mentee id)."""
    candidacies, capacities = instance
    mentee_rank = {
        (c.programme, c.mentee, c.mentor): -rank
        for rank, c in enumerate(sorted(candidacies, key=lambda c: (-c.score, c.mentor)))
    }
    mentor_rank = {
        (c.programme, c.mentee, c.mentor): -rank
        for rank, c in enumerate(
            sorted(candidacies, key=lambda c: (-c.mentor_score, c.programme, c.mentee))
        )
    }
    strict = [
        Candidacy(
            c.mentee,
            c.mentor,
            float(mentee_rank[c.programme, c.mentee, c.mentor]),
            float(mentor_rank[c.programme, c.mentee, c.mentor]),
            c.programme,
        )
        for c in candidacies
    ]
    return strict, capacities


def preference(instance: Instance, where: Place, mentor: str | None) -> float:
    if mentor is None:
        return -np.inf
    return next(c.score for c in instance[0] if (*place(c), c.mentor) == (*where, mentor))


# --- every mode --------------------------------------------------------------------------


@given(instances(), st.sampled_from(MODES))
def test_no_mode_exceeds_a_capacity_or_matches_a_mentee_twice_in_a_programme(
    instance: Instance, mode: Mode
) -> None:
    matching = solve(cohort_of(instance), mode)
    mentors = [a.mentor for a in matching.assignments()]
    places = [(a.programme, a.mentee) for a in matching.assignments()]
    assert all(mentors.count(m) <= cap for m, cap in instance[1].items())
    assert len(places) == len(set(places))


@given(instances(), st.sampled_from(MODES))
def test_no_mode_pairs_two_people_twice_across_programmes(instance: Instance, mode: Mode) -> None:
    couples = [(a.mentee, a.mentor) for a in solve(cohort_of(instance), mode).assignments()]
    assert len(couples) == len(set(couples))


@given(instances(), st.sampled_from(MODES))
def test_every_mode_uses_only_allowed_pairs_with_their_scores(
    instance: Instance, mode: Mode
) -> None:
    allowed = {(c.programme, c.mentee, c.mentor): c.score for c in instance[0]}
    for a in solve(cohort_of(instance), mode).assignments():
        assert allowed[a.programme, a.mentee, a.mentor] == a.score


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


@given(instances(), st.sampled_from(MODES))
def test_unmatched_and_spare_capacity_account_for_everyone(instance: Instance, mode: Mode) -> None:
    matching = solve(cohort_of(instance), mode)
    matched = {(a.programme, a.mentee) for a in matching.assignments()}
    unmatched = {(e.programme, e.mentee) for e in matching.unmatched()}
    assert matched | unmatched == {place(c) for c in instance[0]}
    assert not matched & unmatched
    spare = dict(matching.spare_capacity())
    for mentor, capacity in instance[1].items():
        used = sum(a.mentor == mentor for a in matching.assignments())
        assert spare.get(mentor, 0) == capacity - used


@settings(max_examples=80)
@given(instances(), st.sampled_from(MODES))
def test_blocking_pairs_follow_the_definition(instance: Instance, mode: Mode) -> None:
    matching = solve(cohort_of(instance), mode)
    assert matching.blocking_pairs() == brute_blocking_pairs(instance, pairs_of(matching))


# --- optimal -------------------------------------------------------------------------------


@given(instances(max_programmes=1))
def test_optimal_total_equals_the_dense_assignment_solver(instance: Instance) -> None:
    total = optimal_matching(cohort_of(instance)).total_score
    assert total == pytest.approx(lsa_optimum(instance), abs=1e-9)


@settings(max_examples=40)
@given(instances(max_mentees=5, max_mentors=3, max_programmes=1))
def test_optimal_total_equals_general_max_weight_matching(instance: Instance) -> None:
    total = optimal_matching(cohort_of(instance)).total_score
    assert total == pytest.approx(networkx_optimum(instance), abs=1e-9)


# HiGHS stops a branch and bound within an absolute gap of 1e-6 of the optimum (its
# default, which SciPy does not expose), so its totals are compared to that precision;
# the exact comparisons at 1e-9 are against the dense solver and brute force.
MILP_PRECISION = 1e-6


@given(instances())
def test_optimal_total_equals_an_integer_program_over_every_programme(instance: Instance) -> None:
    total = optimal_matching(cohort_of(instance)).total_score
    assert total == pytest.approx(milp_optimum(instance)[1], abs=MILP_PRECISION)


@settings(max_examples=60, deadline=None)
@given(instances(max_mentees=5, max_mentors=3, max_places=6))
def test_optimal_total_equals_the_best_feasible_matching(instance: Instance) -> None:
    score = {(c.programme, c.mentee, c.mentor): c.score for c in instance[0]}
    best = max(sum(max(score[k], 0.0) for k in m) for m in feasible_matchings(instance))
    total = optimal_matching(cohort_of(instance)).total_score
    assert total == pytest.approx(best, abs=1e-9)


@given(instances())
def test_participation_matches_the_most_mentees_then_maximises_the_score(
    instance: Instance,
) -> None:
    matching = optimal_matching(cohort_of(instance), "participation")
    most, best_total = milp_optimum(instance, "participation")
    assert len(matching.chosen) == most
    assert matching.total_score == pytest.approx(best_total, abs=MILP_PRECISION)


@settings(max_examples=60, deadline=None)
@given(instances(max_mentees=5, max_mentors=3, max_places=6))
def test_participation_equals_the_best_feasible_matching_with_the_most_mentees(
    instance: Instance,
) -> None:
    score = {(c.programme, c.mentee, c.mentor): c.score for c in instance[0]}
    best = max((len(m), sum(score[k] for k in m)) for m in feasible_matchings(instance))
    matching = optimal_matching(cohort_of(instance), "participation")
    assert len(matching.chosen) == best[0]
    assert matching.total_score == pytest.approx(best[1], abs=1e-9)


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
    assert pairs_of(optimal_matching(cohort_of(instance), "score")) == {("", "a", "x")}
    assert pairs_of(optimal_matching(cohort_of(instance), "participation")) == {
        ("", "a", "y"),
        ("", "b", "x"),
    }


def test_optimal_leaves_a_mentee_out_rather_than_take_a_negative_score() -> None:
    instance = ([Candidacy("a", "x", -0.2, 1.0)], {"x": 1})
    assert optimal_matching(cohort_of(instance), "score").assignments() == []
    assert len(optimal_matching(cohort_of(instance), "participation").assignments()) == 1


# --- stable --------------------------------------------------------------------------------


@given(instances(max_mentees=30, max_mentors=10))
def test_stable_has_no_blocking_pair(instance: Instance) -> None:
    assert stable_matching(cohort_of(instance)).blocking_pairs() == 0


def _mentee_optimal(instance: Instance, found: Chosen, stable: list[Chosen]) -> None:
    """Every enrolment does at least as well in `found` as in any stable matching."""
    partner = {(p, e): m for p, e, m in found}
    for other in stable:
        other_partner = {(p, e): m for p, e, m in other}
        for where in {place(c) for c in instance[0]}:
            mine = preference(instance, where, partner.get(where))
            assert mine >= preference(instance, where, other_partner.get(where))


@settings(max_examples=150, deadline=None)
@given(strict_instances())
def test_stable_is_the_mentee_optimal_stable_matching(instance: Instance) -> None:
    found = pairs_of(stable_matching(cohort_of(instance)))
    stable = [m for m in feasible_matchings(instance) if brute_blocking_pairs(instance, m) == 0]
    assert found in stable
    _mentee_optimal(instance, found, stable)


@settings(max_examples=100, deadline=None)
@given(instances(max_mentees=5, max_mentors=3, max_places=6))
def test_stable_with_ties_is_mentee_optimal_for_the_id_tie_break(instance: Instance) -> None:
    strict = tie_broken(instance)
    found = pairs_of(stable_matching(cohort_of(instance)))
    assert found == pairs_of(stable_matching(cohort_of(strict)))
    stable = [m for m in feasible_matchings(strict) if brute_blocking_pairs(strict, m) == 0]
    _mentee_optimal(strict, found, stable)


def test_a_mentor_keeps_the_mentee_they_prefer_by_mentor_score() -> None:
    instance = (
        [Candidacy("a", "x", 1.0, 0.2), Candidacy("b", "x", 1.0, 0.9)],
        {"x": 1},
    )
    assert pairs_of(stable_matching(cohort_of(instance))) == {("", "b", "x")}


# --- greedy --------------------------------------------------------------------------------


@given(instances())
def test_greedy_leaves_a_pair_only_for_better_or_equal_pairs(instance: Instance) -> None:
    matching = greedy_matching(cohort_of(instance))
    chosen = pairs_of(matching)
    score_of = {(c.programme, c.mentee, c.mentor): c.score for c in instance[0]}
    got = {(p, e): score_of[p, e, m] for p, e, m in chosen}
    for c in instance[0]:
        if (c.programme, c.mentee, c.mentor) in chosen:
            continue
        held = [score_of[p, e, m] for p, e, m in chosen if m == c.mentor]
        took_better = place(c) in got and got[place(c)] >= c.score
        mentor_full_of_better = len(held) == instance[1][c.mentor] and all(
            s >= c.score for s in held
        )
        paired_elsewhere_better = any(
            e == c.mentee and m == c.mentor and score_of[p, e, m] >= c.score for p, e, m in chosen
        )
        assert took_better or mentor_full_of_better or paired_elsewhere_better


def test_greedy_takes_the_best_pair_even_when_it_costs_the_total() -> None:
    instance = (
        [
            Candidacy("a", "x", 1.0, 1.0),
            Candidacy("a", "y", 0.9, 1.0),
            Candidacy("b", "x", 0.8, 1.0),
        ],
        {"x": 1, "y": 1},
    )
    assert pairs_of(greedy_matching(cohort_of(instance))) == {("", "a", "x")}
    assert pairs_of(optimal_matching(cohort_of(instance))) == {("", "a", "y"), ("", "b", "x")}


def test_greedy_breaks_equal_scores_by_mentee_then_mentor_id() -> None:
    instance = (
        [
            Candidacy("b", "x", 0.5, 0.5),
            Candidacy("a", "y", 0.5, 0.5),
            Candidacy("a", "x", 0.5, 0.5),
        ],
        {"x": 1, "y": 1},
    )
    assert pairs_of(greedy_matching(cohort_of(instance))) == {("", "a", "x")}


# --- programmes ------------------------------------------------------------------------------


def test_a_mentee_is_matched_once_per_programme() -> None:
    instance = (
        [Candidacy("a", "x", 0.9, 0.9, "p1"), Candidacy("a", "y", 0.8, 0.8, "p2")],
        {"x": 1, "y": 1},
    )
    for mode in MODES:
        assert pairs_of(solve(cohort_of(instance), mode)) == {("p1", "a", "x"), ("p2", "a", "y")}


@pytest.mark.parametrize("mode", MODES)
def test_a_mentor_capacity_is_shared_across_programmes(mode: Mode) -> None:
    instance = (
        [Candidacy("a", "x", 0.9, 0.9, "p1"), Candidacy("b", "x", 0.8, 0.8, "p2")],
        {"x": 1},
    )
    assert len(solve(cohort_of(instance), mode).assignments()) == 1


@pytest.mark.parametrize("mode", MODES)
def test_two_people_allowed_in_two_programmes_are_paired_in_one_only(mode: Mode) -> None:
    # x could take a twice; y is the only other mentor, in p2, and worse.
    instance = (
        [
            Candidacy("a", "x", 0.9, 0.9, "p1"),
            Candidacy("a", "x", 0.8, 0.7, "p2"),
            Candidacy("a", "y", 0.3, 0.3, "p2"),
        ],
        {"x": 2, "y": 1},
    )
    assert pairs_of(solve(cohort_of(instance), mode)) == {("p1", "a", "x"), ("p2", "a", "y")}


def test_optimal_gives_a_pair_to_the_programme_where_it_is_worth_most_overall() -> None:
    # p1 can also use z (0.85), p2 has nobody but x: x goes to p2.
    instance = (
        [
            Candidacy("a", "x", 0.9, 0.9, "p1"),
            Candidacy("a", "z", 0.85, 0.9, "p1"),
            Candidacy("a", "x", 0.8, 0.9, "p2"),
        ],
        {"x": 2, "z": 1},
    )
    assert pairs_of(optimal_matching(cohort_of(instance))) == {("p1", "a", "z"), ("p2", "a", "x")}


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
