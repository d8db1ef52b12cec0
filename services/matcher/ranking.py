"""Who to propose: the allowed candidates of a mentee (or of a mentor with room), best
first, each fully scored (score, the mentor's view, component shares and reasons).

One mentee against many mentors is the hot path: `MentorIndex` holds the mentors as
columns (`columns.MentorColumns`, plus tag matrices whose values are the credit each
tag earns), so the hard rules (`constraints.allowed_for_all`) and the score are a few
sparse matrix-vector products and numpy expressions instead of a loop over mentors. It
computes exactly the model of `scoring.py` (a property test checks both agree), and
only the candidates it returns are explained in words.

A mentor with room against the waiting mentees is the rarer direction (a freed slot,
a new mentor) and scores pair by pair with `scoring.score_pair`.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from .columns import FloatArray, MentorColumns, Vocabulary, sparse_rows
from .constraints import Field, allowed, allowed_for_all
from .policy import COMPONENTS, MatchingPolicy
from .profiles import MentorStanding, Person
from .scoring import explain, pair_score, responsiveness, score_pair


@dataclass(frozen=True)
class Candidate:
    """An allowed pair, scored: what a proposal is made of."""

    programme_id: str
    mentee: Person
    mentor: Person
    standing: MentorStanding  # the mentor's, as ranked
    score: float  # the mentee's view, in [0, 1]
    mentor_score: float  # the mentor's preference for this mentee
    components: Mapping[str, float]  # each component's share of `score`
    reasons: tuple[str, ...]


class MentorIndex:
    """Mentors (with their standings) precomputed for fast ranking under one policy."""

    def __init__(
        self,
        mentors: Sequence[Person],
        policy: MatchingPolicy,
        standings: Mapping[str, MentorStanding] | None = None,
    ) -> None:
        standings = standings or {}
        self.policy = policy
        self._weights = policy.weights.as_dict()
        self._total = policy.weights.total()
        self.columns = MentorColumns.of(mentors, standings)
        self._standings = [standings.get(m.person_id, MentorStanding()) for m in mentors]
        self.mentor_ids = [m.person_id for m in mentors]
        n = len(mentors)
        self._tags = Vocabulary()
        offer_rows: list[dict[int, float]] = []
        passion_rows: list[dict[int, float]] = []
        for m in mentors:
            offer: dict[int, float] = {}
            for goal in m.goals:
                offer[self._tags.intern(goal)] = policy.mentor_goal_credit
            for skill in m.skills:
                offer[self._tags.intern(skill)] = 1.0  # a skill beats the same goal
            offer_rows.append(offer)
            passion_rows.append({self._tags.intern(p): 1.0 for p in m.passions})
        width = len(self._tags.ids)
        self._offer = sparse_rows(offer_rows, width)
        self._passions = sparse_rows(passion_rows, width)
        self._passion_counts = np.array([len(m.passions) for m in mentors], dtype=np.float64)
        capacity, load = self.columns.capacity, self.columns.load
        with np.errstate(divide="ignore", invalid="ignore"):
            self._availability = np.where(
                capacity > 0, np.maximum(0.0, 1.0 - load / np.maximum(capacity, 1.0)), 0.0
            )
        self._responsiveness = np.array(
            [responsiveness(s, policy) for s in self._standings], dtype=np.float64
        )
        # Ties are broken by mentor id, so equal scores rank the same way every time.
        self._id_rank = np.empty(n, dtype=np.int64)
        self._id_rank[np.argsort(self.columns.ids, kind="stable")] = np.arange(n)

    def __len__(self) -> int:
        return len(self.mentor_ids)

    def _values(self, field: Field) -> tuple[dict[str, FloatArray], FloatArray]:
        """Every component's value for every mentor, and the mentors' own view."""
        mentee = field.mentee
        n = len(self.mentor_ids)
        goals = self._tags.indicator(mentee.goals)
        coverage = (self._offer @ goals) / len(mentee.goals) if mentee.goals else np.zeros(n)
        shared = self._passions @ self._tags.indicator(mentee.passions)
        passions = shared / len(mentee.passions) if mentee.passions else np.zeros(n)
        closeness = 1.0 - field.gaps / 12.0
        values = {
            "goal_coverage": coverage,
            "shared_passions": passions,
            "timezone": closeness,
            "availability": self._availability,
            "responsiveness": self._responsiveness,
        }
        w = self.policy.weights
        own_total = w.goal_coverage + w.shared_passions + w.timezone
        if own_total <= 0:
            return values, np.zeros(n)
        with np.errstate(divide="ignore", invalid="ignore"):
            from_mentor = np.where(
                self._passion_counts > 0, shared / np.maximum(self._passion_counts, 1.0), 0.0
            )
        mentor_view = (
            w.goal_coverage * coverage + w.shared_passions * from_mentor + w.timezone * closeness
        ) / own_total
        return values, mentor_view

    def _scored(
        self, mentee: Person, programme_id: str, exclude: Collection[str]
    ) -> tuple[FloatArray, dict[str, FloatArray], FloatArray]:
        n = len(self.mentor_ids)
        field = Field(mentee, self.columns, programme_id, self.policy, exclude)
        mask = allowed_for_all(field)
        values, mentor_view = self._values(field)
        if not mask.any():
            return np.full(n, -np.inf), values, mentor_view
        weights, total = self._weights, self._total
        score = np.zeros(n)
        for name in COMPONENTS:
            score += weights[name] * values[name] / total
        np.clip(score, 0.0, 1.0, out=score)
        mask &= score >= self.policy.min_score
        return np.where(mask, score, -np.inf), values, mentor_view

    def scores(
        self, mentee: Person, programme_id: str, exclude: Collection[str] = ()
    ) -> FloatArray:
        """Score of every mentor for this mentee; -inf where a hard constraint fails."""
        return self._scored(mentee, programme_id, exclude)[0]

    def rank(
        self,
        mentee: Person,
        programme_id: str,
        *,
        exclude: Collection[str] = (),
        limit: int = 1,
    ) -> list[Candidate]:
        """The best `limit` allowed mentors, best first (ties: lower mentor id first)."""
        scores, values, mentor_view = self._scored(mentee, programme_id, exclude)
        allowed_rows = np.flatnonzero(scores > -np.inf)
        if limit <= 0 or allowed_rows.size == 0:
            return []
        if allowed_rows.size > limit:
            # Keep everything tied with the limit-th best, so the id tie-break decides.
            cut = allowed_rows.size - limit
            kth = np.partition(scores[allowed_rows], cut)[cut]
            allowed_rows = allowed_rows[scores[allowed_rows] >= kth]
        order = np.lexsort((self._id_rank[allowed_rows], -scores[allowed_rows]))[:limit]
        weights, total = self._weights, self._total
        ranked = []
        for row in (int(r) for r in allowed_rows[order]):
            mentor = self.columns.mentors[row]
            score = float(scores[row])
            shares = {name: weights[name] * float(values[name][row]) / total for name in COMPONENTS}
            ranked.append(
                Candidate(
                    programme_id=programme_id,
                    mentee=mentee,
                    mentor=mentor,
                    standing=self._standings[row],
                    score=score,
                    mentor_score=float(mentor_view[row]),
                    components=shares,
                    reasons=explain(mentee, mentor, score, shares),
                )
            )
        return ranked


def rank_mentors(
    mentee: Person,
    programme_id: str,
    candidates: Sequence[tuple[Person, MentorStanding]],
    policy: MatchingPolicy,
    *,
    blocked_mentors: Collection[str] = (),
    limit: int = 5,
) -> list[Candidate]:
    """The best allowed mentors for the mentee in the programme, best first, under the
    programme's policy (its synonyms too)."""
    mentors = [mentor.renormalised(policy.normaliser) for mentor, _ in candidates]
    standings = {mentor.person_id: standing for mentor, standing in candidates}
    index = MentorIndex(mentors, policy, standings)
    return index.rank(
        mentee.renormalised(policy.normaliser),
        programme_id,
        exclude=blocked_mentors,
        limit=limit,
    )


def rank_waiting_mentees(
    mentor: Person,
    standing: MentorStanding,
    waiting: Sequence[tuple[str, Person]],
    policies: Mapping[str, MatchingPolicy],
    *,
    blocked_mentees: Collection[str] = (),
    limit: int = 1,
) -> list[Candidate]:
    """The waiting mentees a mentor with room should be offered to, best first: at most
    one entry per mentee (their best programme), ties broken by mentee id."""
    # Scores first, sentences only for the few chosen.
    best: dict[str, tuple[float, str, Person, Person, MatchingPolicy]] = {}
    mentors: dict[str, Person] = {}
    for programme_id, mentee in waiting:
        policy = policies[programme_id]
        if mentee.person_id in blocked_mentees:
            continue
        if not allowed(mentee, mentor, programme_id, policy, mentor_load=standing.load):
            continue
        theirs = mentors.get(programme_id)
        if theirs is None:
            theirs = mentors[programme_id] = mentor.renormalised(policy.normaliser)
        ours = mentee.renormalised(policy.normaliser)
        score = pair_score(ours, theirs, policy, standing)
        if score < policy.min_score:
            continue
        seen = best.get(mentee.person_id)
        if seen is None or (score, programme_id) > seen[:2]:
            best[mentee.person_id] = (score, programme_id, ours, theirs, policy)
    ordered = sorted(best.values(), key=lambda b: (-b[0], b[2].person_id))
    chosen = []
    for _, programme_id, ours, theirs, policy in ordered[: max(0, limit)]:
        pair = score_pair(ours, theirs, policy, standing)
        chosen.append(
            Candidate(
                programme_id=programme_id,
                mentee=ours,
                mentor=theirs,
                standing=standing,
                score=pair.score,
                mentor_score=pair.mentor_score,
                components=pair.components,
                reasons=pair.reasons,
            )
        )
    return chosen
