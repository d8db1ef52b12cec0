"""Cohort solvers: a programme admin's batch assignment of mentees to mentors.

A cohort is a set of allowed pairs (a pair that is not listed may not be matched) and each
mentor's capacity. Three ways to solve it:

- `optimal`: maximum total `score` (objective `score`), or the most mentees matched and then
  the maximum total score among those assignments (objective `participation`). Exact: a
  capacity-expanded sparse assignment problem solved by LAPJVsp (SciPy's
  `min_weight_full_bipartite_matching`), where every mentee also has a private "unmatched"
  column so a full matching always exists. An unmatched mentee counts as score 0, so the
  `score` objective never takes a pair with a negative score. `participation` adds a penalty
  per unmatched mentee larger than any score it could buy (exact up to float rounding of
  totals, ~1e-9 at 10,000 mentees).
- `stable`: mentee-proposing deferred acceptance with capacities (hospitals/residents), which
  yields the mentee-optimal stable matching. Mentees rank mentors by `score`, mentors rank
  mentees by `mentor_score`; every allowed pair is preferred to staying unmatched.
- `greedy`: highest `score` first, as a baseline.

A mentee is matched at most once per programme they are enrolled in (an `Enrolment`), while a
mentor's capacity is shared across programmes: every programme is solved in the same run, so
an `optimal` cohort run maximises the total over all programmes without exceeding any mentor's
overall capacity. Two people are paired at most once, whatever the programme (as online: a pair
is never proposed twice). In `optimal` this is exact: a pair allowed in several programmes goes
through one extra row and column of the assignment problem (the pair's "gate"), which only one
of its programmes can use and which then holds one seat of the mentor. In `stable` a mentor
never holds the same mentee twice: offered a second enrolment of a mentee it holds, it keeps the
one it prefers (a greedy choice on a laminar matroid, which deferred acceptance handles like
capacities). In `greedy` a pair already chosen is skipped.

Determinism. Enrolments and mentors are put in id order (code-point order of the strings)
before solving, and pairs in (enrolment, mentor) order, so the row order of the input never
matters. Ties are broken by id: in `stable` a mentee prefers the lower mentor id among equal
scores and a mentor the lower enrolment (programme, then mentee id) among equal mentor scores;
in `greedy` equal scores go in (enrolment, mentor) id order. Among several `optimal` assignments
with the same total, the one found by LAPJVsp on that canonical order is returned (the same
for the same input and SciPy version).

A blocking pair is an allowed pair, not matched together, where the mentee (in that enrolment) is
unmatched or strictly prefers that mentor, and the mentor would take them: when it holds the same
mentee in another programme, if it strictly prefers this enrolment to that one; otherwise if it
has spare capacity or strictly prefers that mentee to the least preferred mentee it holds. Strict
preference is judged on the raw scores, so equal scores never block.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, NamedTuple

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from scipy.sparse.csgraph import min_weight_full_bipartite_matching

Mode = Literal["optimal", "stable", "greedy"]
Objective = Literal["score", "participation"]
MODES: tuple[Mode, ...] = ("optimal", "stable", "greedy")
OBJECTIVES: tuple[Objective, ...] = ("score", "participation")

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

# Scores far beyond any scoring model's range would make the solver's shifted costs lose
# all precision, so they are refused rather than silently mis-solved.
MAX_ABS_SCORE = 1e9


class InvalidCohort(ValueError):
    """The pairs and capacities do not describe a cohort that can be solved."""


class Enrolment(NamedTuple):
    """A mentee's place in one programme: the unit that gets (at most) one mentor."""

    programme: str
    mentee: str


@dataclass(frozen=True)
class Candidacy:
    """An allowed pair: `mentee` may be matched with `mentor` in `programme`.

    `score` is the mentee's preference for the mentor and the pair's value to the programme;
    `mentor_score` is the mentor's preference for the mentee."""

    mentee: str
    mentor: str
    score: float
    mentor_score: float
    programme: str = ""


@dataclass(frozen=True)
class Assignment:
    programme: str
    mentee: str
    mentor: str
    score: float
    mentor_score: float


@dataclass(frozen=True, eq=False)
class Cohort:
    """The instance in canonical order: enrolments and mentors sorted by id, pairs sorted by
    (enrolment, mentor). Build it with `Cohort.of` or `Cohort.from_arrays`."""

    enrolments: tuple[Enrolment, ...]
    mentors: tuple[str, ...]
    capacity: IntArray
    pair_enrolment: IntArray
    pair_mentor: IntArray
    score: FloatArray
    mentor_score: FloatArray
    # The two people of each pair (mentee and mentor, whatever the programme), numbered.
    pair_couple: IntArray

    @property
    def pair_count(self) -> int:
        return int(self.score.shape[0])

    @classmethod
    def of(
        cls,
        candidacies: Iterable[Candidacy],
        capacities: Mapping[str, int],
        *,
        absent_mentor_capacity: int | None = None,
    ) -> Cohort:
        """A cohort from allowed pairs and capacities. A mentor of some pair who is absent
        from `capacities` is an error, unless `absent_mentor_capacity` gives their capacity."""
        enrolment_index: dict[Enrolment, int] = {}
        mentor_index: dict[str, int] = {m: i for i, m in enumerate(capacities)}
        capacity = list(capacities.values())
        rows: list[int] = []
        cols: list[int] = []
        scores: list[float] = []
        mentor_scores: list[float] = []
        for c in candidacies:
            enrolment = Enrolment(c.programme, c.mentee)
            rows.append(enrolment_index.setdefault(enrolment, len(enrolment_index)))
            if c.mentor not in mentor_index:
                if absent_mentor_capacity is None:
                    raise InvalidCohort(f"mentor {c.mentor!r} has no capacity")
                mentor_index[c.mentor] = len(mentor_index)
                capacity.append(absent_mentor_capacity)
            cols.append(mentor_index[c.mentor])
            scores.append(c.score)
            mentor_scores.append(c.mentor_score)
        return cls.from_arrays(
            enrolments=list(enrolment_index),
            mentors=list(mentor_index),
            capacity=np.asarray(capacity, dtype=np.int64),
            pair_enrolment=np.asarray(rows, dtype=np.int64),
            pair_mentor=np.asarray(cols, dtype=np.int64),
            score=np.asarray(scores, dtype=np.float64),
            mentor_score=np.asarray(mentor_scores, dtype=np.float64),
        )

    @classmethod
    def from_arrays(
        cls,
        *,
        enrolments: Sequence[Enrolment],
        mentors: Sequence[str],
        capacity: IntArray,
        pair_enrolment: IntArray,
        pair_mentor: IntArray,
        score: FloatArray,
        mentor_score: FloatArray,
    ) -> Cohort:
        """A cohort from index arrays into `enrolments` and `mentors` (in any order)."""
        n_pairs = len(score)
        if not (len(pair_enrolment) == len(pair_mentor) == len(mentor_score) == n_pairs):
            raise InvalidCohort("pair arrays differ in length")
        if len(capacity) != len(mentors):
            raise InvalidCohort("one capacity per mentor is needed")
        if len(set(enrolments)) != len(enrolments) or len(set(mentors)) != len(mentors):
            raise InvalidCohort("enrolment and mentor ids must be unique")
        if np.any(capacity < 0):
            raise InvalidCohort("capacities must not be negative")
        for name, values in (("score", score), ("mentor_score", mentor_score)):
            if not np.all(np.isfinite(values)) or np.any(np.abs(values) > MAX_ABS_SCORE):
                raise InvalidCohort(
                    f"every {name} must be a finite number within ±{MAX_ABS_SCORE:g}"
                )
        if n_pairs and (
            pair_enrolment.min() < 0
            or pair_enrolment.max() >= len(enrolments)
            or pair_mentor.min() < 0
            or pair_mentor.max() >= len(mentors)
        ):
            raise InvalidCohort("pair index out of range")

        enrolment_order = sorted(range(len(enrolments)), key=enrolments.__getitem__)
        mentor_order = sorted(range(len(mentors)), key=mentors.__getitem__)
        enrolment_rank = _inverse(enrolment_order)
        mentor_rank = _inverse(mentor_order)
        rows = enrolment_rank[pair_enrolment]
        cols = mentor_rank[pair_mentor]
        order = np.lexsort((cols, rows))
        rows, cols = rows[order], cols[order]
        same = (rows[1:] == rows[:-1]) & (cols[1:] == cols[:-1])
        if np.any(same):
            k = int(np.argmax(same))
            e, m = enrolments[enrolment_order[rows[k]]], mentors[mentor_order[cols[k]]]
            raise InvalidCohort(f"pair ({e.mentee!r}, {m!r}) is listed twice")
        sorted_enrolments = tuple(enrolments[i] for i in enrolment_order)
        sorted_mentors = tuple(mentors[i] for i in mentor_order)
        mentee_names = np.array([e.mentee for e in sorted_enrolments], dtype=object)
        mentor_names = np.array(sorted_mentors, dtype=object)
        if n_pairs and np.any(mentee_names[rows] == mentor_names[cols]):
            k = int(np.argmax(mentee_names[rows] == mentor_names[cols]))
            raise InvalidCohort(f"{mentor_names[cols[k]]!r} cannot mentor themselves")
        mentee_number = {name: i for i, name in enumerate(sorted(set(mentee_names)))}
        enrolment_mentee = np.array([mentee_number[m] for m in mentee_names], dtype=np.int64)
        pair_mentee = enrolment_mentee[rows] if n_pairs else np.zeros(0, dtype=np.int64)
        couple_key = pair_mentee * max(len(sorted_mentors), 1) + cols
        _, pair_couple = np.unique(couple_key, return_inverse=True)
        return cls(
            enrolments=sorted_enrolments,
            mentors=sorted_mentors,
            capacity=np.asarray(capacity, dtype=np.int64)[mentor_order],
            pair_enrolment=rows.astype(np.int64),
            pair_mentor=cols.astype(np.int64),
            score=np.asarray(score, dtype=np.float64)[order],
            mentor_score=np.asarray(mentor_score, dtype=np.float64)[order],
            pair_couple=np.asarray(pair_couple, dtype=np.int64).reshape(-1),
        )


def _inverse(order: Sequence[int]) -> IntArray:
    inverse = np.empty(len(order), dtype=np.int64)
    inverse[np.asarray(order, dtype=np.int64)] = np.arange(len(order), dtype=np.int64)
    return inverse


@dataclass(frozen=True, eq=False)
class Matching:
    """A set of chosen pairs (indices into the cohort's pairs, ascending)."""

    cohort: Cohort
    chosen: IntArray

    def assignments(self) -> list[Assignment]:
        c = self.cohort
        return [
            Assignment(
                programme=c.enrolments[int(c.pair_enrolment[p])].programme,
                mentee=c.enrolments[int(c.pair_enrolment[p])].mentee,
                mentor=c.mentors[int(c.pair_mentor[p])],
                score=float(c.score[p]),
                mentor_score=float(c.mentor_score[p]),
            )
            for p in self.chosen
        ]

    @property
    def total_score(self) -> float:
        # fsum: the total is exactly rounded, whatever the order of the pairs.
        return math.fsum(self.cohort.score[self.chosen].tolist())

    def load(self) -> IntArray:
        """How many mentees each mentor holds."""
        c = self.cohort
        return np.bincount(c.pair_mentor[self.chosen], minlength=len(c.mentors)).astype(np.int64)

    def unmatched(self) -> list[Enrolment]:
        matched = np.zeros(len(self.cohort.enrolments), dtype=np.bool_)
        matched[self.cohort.pair_enrolment[self.chosen]] = True
        return [e for e, m in zip(self.cohort.enrolments, matched, strict=True) if not m]

    def spare_capacity(self) -> list[tuple[str, int]]:
        spare = self.cohort.capacity - self.load()
        return [(m, int(s)) for m, s in zip(self.cohort.mentors, spare, strict=True) if s > 0]

    def blocking_pairs(self) -> int:
        return blocking_pairs(self.cohort, self.chosen)


def solve(cohort: Cohort, mode: Mode, objective: Objective = "score") -> Matching:
    if mode == "optimal":
        return optimal_matching(cohort, objective)
    if objective != "score":
        raise InvalidCohort(f"objective {objective!r} applies to the optimal mode only")
    if mode == "stable":
        return stable_matching(cohort)
    return greedy_matching(cohort)


def _matching(cohort: Cohort, chosen: Iterable[int] | IntArray) -> Matching:
    return Matching(cohort, np.sort(np.fromiter(chosen, dtype=np.int64)))


def optimal_matching(cohort: Cohort, objective: Objective = "score") -> Matching:
    """An assignment of maximum total score (or most mentees, then maximum score)."""
    n = len(cohort.enrolments)
    if cohort.pair_count == 0:
        return _matching(cohort, [])
    rows, cols = cohort.pair_enrolment, cohort.pair_mentor
    # Pairs of two people allowed in several programmes go through their couple's gate.
    couple_size = np.bincount(cohort.pair_couple)
    gated = couple_size[cohort.pair_couple] > 1
    gate_couples = np.flatnonzero(couple_size > 1)
    gate_of_couple = np.full(len(couple_size), -1, dtype=np.int64)
    gate_of_couple[gate_couples] = np.arange(len(gate_couples), dtype=np.int64)
    n_gates = len(gate_couples)
    gate_mentor = np.zeros(n_gates, dtype=np.int64)
    gate_mentor[gate_of_couple[cohort.pair_couple[gated]]] = cols[gated]
    # A mentor never needs more seats than the rows that may take one of them.
    n_mentors = len(cohort.mentors)
    users = np.bincount(cols[~gated], minlength=n_mentors) + np.bincount(
        gate_mentor, minlength=n_mentors
    )
    seats = np.minimum(cohort.capacity, users)
    first_seat = np.concatenate(([0], np.cumsum(seats)))
    n_seats = int(first_seat[-1])
    first_gate_column = n_seats + n

    # Minimise cost = constant - score. Every row is matched exactly once (to a seat, a gate
    # or its own "unmatched" column; a gate's row to its gate or a seat of its mentor), so a
    # per-row constant does not change the optimum; it keeps every cost >= 1, as LAPJVsp
    # treats zero entries as missing edges.
    top = max(float(cohort.score.max()), 0.0)
    if objective == "score":
        unmatched_cost = 1.0 + top  # an unmatched mentee scores 0
    else:
        # Leaving one more mentee unmatched must cost more than anything it could save on the
        # others: k matched edges cost at most k * (1 + spread), k - 1 of them at least k - 1.
        spread = top - float(cohort.score.min())
        unmatched_cost = n * spread + 2.0

    def to_seats(row_of: IntArray, mentor_of: IntArray, cost: FloatArray) -> tuple[
        FloatArray, IntArray, IntArray
    ]:  # fmt: skip
        """One edge per seat of each edge's mentor."""
        copies = seats[mentor_of]
        edge = np.repeat(np.arange(len(mentor_of), dtype=np.int64), copies)
        offset = np.arange(len(edge), dtype=np.int64) - np.repeat(
            np.cumsum(copies) - copies, copies
        )
        return cost[edge], row_of[edge], first_seat[mentor_of[edge]] + offset

    open_cost, open_rows, open_cols = to_seats(
        rows[~gated], cols[~gated], 1.0 + top - cohort.score[~gated]
    )
    gate_rows = n + np.arange(n_gates, dtype=np.int64)
    gate_columns = first_gate_column + np.arange(n_gates, dtype=np.int64)
    keeper_cost, keeper_rows, keeper_cols = to_seats(gate_rows, gate_mentor, np.ones(n_gates))
    costs = (
        open_cost,
        1.0 + top - cohort.score[gated],  # an enrolment through its couple's gate
        np.full(n, unmatched_cost),
        np.ones(n_gates),  # a gate's row on its own gate: the gate is unused
        keeper_cost,  # a gate's row on a seat: the gate holds that seat for its pair
    )
    matrix = sp.csr_array(
        (
            np.concatenate(costs),
            (
                np.concatenate(
                    (open_rows, rows[gated], np.arange(n, dtype=np.int64), gate_rows, keeper_rows)
                ),
                np.concatenate(
                    (
                        open_cols,
                        first_gate_column + gate_of_couple[cohort.pair_couple[gated]],
                        n_seats + np.arange(n, dtype=np.int64),
                        gate_columns,
                        keeper_cols,
                    )
                ),
            ),
        ),
        shape=(n + n_gates, first_gate_column + n_gates),
    )
    row_ind, col_ind = min_weight_full_bipartite_matching(matrix)
    row_ind, col_ind = np.asarray(row_ind, dtype=np.int64), np.asarray(col_ind, dtype=np.int64)
    enrolment_rows = row_ind < n
    row_ind, col_ind = row_ind[enrolment_rows], col_ind[enrolment_rows]
    seat_mentor = np.repeat(np.arange(n_mentors, dtype=np.int64), seats)
    on_seat = col_ind < n_seats
    through_gate = col_ind >= first_gate_column
    chosen_rows = np.concatenate((row_ind[on_seat], row_ind[through_gate]))
    chosen_mentors = np.concatenate(
        (seat_mentor[col_ind[on_seat]], gate_mentor[col_ind[through_gate] - first_gate_column])
    )
    return _matching(cohort, _pair_index(cohort, chosen_rows, chosen_mentors))


def _pair_index(cohort: Cohort, rows: IntArray, mentors: IntArray) -> IntArray:
    """Indices of the pairs (rows[i], mentors[i]); pairs are sorted by (row, mentor)."""
    key = cohort.pair_enrolment * len(cohort.mentors) + cohort.pair_mentor
    wanted = rows * len(cohort.mentors) + mentors
    found = np.searchsorted(key, wanted)
    return found.astype(np.int64)


def _grouped(group: IntArray, n_groups: int) -> IntArray:
    """Start offsets of each group in an array sorted by group (length n_groups + 1)."""
    return np.concatenate(([0], np.cumsum(np.bincount(group, minlength=n_groups)))).astype(np.int64)


def stable_matching(cohort: Cohort) -> Matching:
    """The mentee-optimal stable matching, by mentee-proposing deferred acceptance."""
    n, n_mentors = len(cohort.enrolments), len(cohort.mentors)
    rows, cols = cohort.pair_enrolment, cohort.pair_mentor
    # Each mentee's list: best score first, then lower mentor id (pairs are already in
    # (enrolment, mentor) order, so a stable sort on -score keeps the id order for ties).
    proposals = np.lexsort((cols, -cohort.score, rows))
    start = _grouped(rows, n)
    # A mentor's rank of a pair: 0 for the mentee they like best.
    by_mentor = np.lexsort((rows, -cohort.mentor_score, cols))
    mentor_start = _grouped(cols, n_mentors)
    rank = np.empty(cohort.pair_count, dtype=np.int64)
    rank[by_mentor] = np.arange(cohort.pair_count) - np.repeat(
        mentor_start[:-1], np.diff(mentor_start)
    )

    proposal_list: list[int] = proposals.tolist()
    start_list: list[int] = start.tolist()
    rank_list: list[int] = rank.tolist()
    mentor_of: list[int] = cols.tolist()
    capacity: list[int] = cohort.capacity.tolist()
    couple_of: list[int] = cohort.pair_couple.tolist()
    next_choice = start_list[:-1].copy()
    # Per mentor, a heap of (-rank, pair, enrolment): the root is the least preferred held.
    held: list[list[tuple[int, int, int]]] = [[] for _ in range(n_mentors)]
    # What each couple's mentor holds of that mentee (one enrolment at most).
    holding: dict[int, tuple[int, int, int]] = {}
    free = list(range(n - 1, -1, -1))
    while free:
        mentee = free.pop()
        while next_choice[mentee] < start_list[mentee + 1]:
            pair = proposal_list[next_choice[mentee]]
            next_choice[mentee] += 1
            mentor = mentor_of[pair]
            if capacity[mentor] == 0:
                continue
            heap = held[mentor]
            offer = (-rank_list[pair], pair, mentee)
            couple = couple_of[pair]
            same = holding.get(couple)
            if same is not None:
                # The mentor holds this mentee in another programme: keeps the one it prefers.
                if offer < same:
                    continue
                heap.remove(same)
                heapq.heapify(heap)
                heapq.heappush(heap, offer)
                holding[couple] = offer
                free.append(same[2])
                break
            if len(heap) < capacity[mentor]:
                heapq.heappush(heap, offer)
                holding[couple] = offer
                break
            if offer > heap[0]:
                dropped = heapq.heapreplace(heap, offer)
                del holding[couple_of[dropped[1]]]
                holding[couple] = offer
                free.append(dropped[2])
                break
    return _matching(cohort, (pair for heap in held for _, pair, _ in heap))


def greedy_matching(cohort: Cohort) -> Matching:
    """Highest score first, skipping a pair already chosen in another programme; equal
    scores in (enrolment, mentor) id order."""
    order = np.lexsort((cohort.pair_mentor, cohort.pair_enrolment, -cohort.score)).tolist()
    mentee_of: list[int] = cohort.pair_enrolment.tolist()
    mentor_of: list[int] = cohort.pair_mentor.tolist()
    couple_of: list[int] = cohort.pair_couple.tolist()
    room: list[int] = cohort.capacity.tolist()
    matched = [False] * len(cohort.enrolments)
    paired: set[int] = set()
    chosen: list[int] = []
    for pair in order:
        mentee, mentor, couple = mentee_of[pair], mentor_of[pair], couple_of[pair]
        if not matched[mentee] and room[mentor] > 0 and couple not in paired:
            matched[mentee] = True
            room[mentor] -= 1
            paired.add(couple)
            chosen.append(pair)
    return _matching(cohort, chosen)


def blocking_pairs(cohort: Cohort, chosen: IntArray) -> int:
    """How many allowed pairs block the matching `chosen` (see the module docstring)."""
    n, n_mentors = len(cohort.enrolments), len(cohort.mentors)
    rows, cols = cohort.pair_enrolment, cohort.pair_mentor
    is_chosen = np.zeros(cohort.pair_count, dtype=np.bool_)
    is_chosen[chosen] = True
    # What each mentee currently has (-inf when unmatched: any allowed mentor is better).
    current = np.full(n, -np.inf)
    current[rows[chosen]] = cohort.score[chosen]
    mentee_wants = cohort.score > current[rows]
    load = np.bincount(cols[chosen], minlength=n_mentors)
    # The mentor's least liked mentee held (+inf when holding none).
    least_liked = np.full(n_mentors, np.inf)
    np.minimum.at(least_liked, cols[chosen], cohort.mentor_score[chosen])
    has_room = load[cols] < cohort.capacity[cols]
    mentor_wants = has_room | (cohort.mentor_score > least_liked[cols])
    # A mentor holding the same mentee in another programme would take this enrolment only
    # instead of that one.
    held_as = np.full(int(cohort.pair_couple.max(initial=-1)) + 1, np.nan)
    held_as[cohort.pair_couple[chosen]] = cohort.mentor_score[chosen]
    other = held_as[cohort.pair_couple]
    holds_mentee = ~np.isnan(other)
    mentor_wants = np.where(holds_mentee, cohort.mentor_score > other, mentor_wants)
    return int(np.count_nonzero(~is_chosen & mentee_wants & mentor_wants))
