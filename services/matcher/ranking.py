"""Ranking one mentee against many mentors at once.

Mentors' tags are interned to ids and stored as sparse rows (skills and goals in one
"offer" matrix whose values are the credit each tag earns, passions and languages as
0/1 matrices), so a mentee's whole ranking is a few sparse matrix-vector products and
numpy array expressions instead of a Python loop over mentors. It computes exactly the
model of `scoring.py` and `constraints.py` (the tests check both agree).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import sparse

from .policy import COMPONENTS, MatchingPolicy
from .profiles import MentorStanding, Person, accept_rate

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class RankedMentor:
    mentor_id: str
    score: float


class _Vocabulary:
    def __init__(self) -> None:
        self.ids: dict[str, int] = {}

    def intern(self, tag: str) -> int:
        return self.ids.setdefault(tag, len(self.ids))

    def indicator(self, tags: Iterable[str]) -> FloatArray:
        # At least one column, like the matrices: an empty vocabulary still multiplies.
        vector = np.zeros(max(len(self.ids), 1), dtype=np.float64)
        for tag in tags:
            i = self.ids.get(tag)
            if i is not None:
                vector[i] = 1.0
        return vector


def _rows(rows: Sequence[Mapping[int, float]], width: int) -> sparse.csr_matrix:
    indptr = np.zeros(len(rows) + 1, dtype=np.int64)
    indices: list[int] = []
    data: list[float] = []
    for r, row in enumerate(rows):
        for col in sorted(row):
            indices.append(col)
            data.append(row[col])
        indptr[r + 1] = len(indices)
    return sparse.csr_matrix(
        (np.asarray(data, dtype=np.float64), np.asarray(indices, dtype=np.int64), indptr),
        shape=(len(rows), max(width, 1)),
    )


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
        self.mentor_ids = [m.person_id for m in mentors]
        self._row_of = {mid: i for i, mid in enumerate(self.mentor_ids)}
        n = len(mentors)
        self._tags = _Vocabulary()
        self._langs = _Vocabulary()
        offer_rows: list[dict[int, float]] = []
        passion_rows: list[dict[int, float]] = []
        lang_rows: list[dict[int, float]] = []
        for m in mentors:
            offer: dict[int, float] = {}
            for goal in m.goals:
                offer[self._tags.intern(goal)] = policy.mentor_goal_credit
            for skill in m.skills:
                offer[self._tags.intern(skill)] = 1.0  # a skill beats the same goal
            offer_rows.append(offer)
            passion_rows.append({self._tags.intern(p): 1.0 for p in m.passions})
            lang_rows.append({self._langs.intern(lang): 1.0 for lang in m.languages})
        width = len(self._tags.ids)
        self._offer = _rows(offer_rows, width)
        self._passions = _rows(passion_rows, width)
        self._languages = _rows(lang_rows, len(self._langs.ids))
        self._passion_counts = np.array([len(m.passions) for m in mentors], dtype=np.float64)
        self._offsets = np.array([m.utc_offset for m in mentors], dtype=np.float64)
        capacity = np.array([m.capacity for m in mentors], dtype=np.float64)
        load = np.array(
            [standings.get(m.person_id, MentorStanding()).load for m in mentors], dtype=np.float64
        )
        self._has_room = load < capacity
        self._eligible = np.array([m.is_mentor and not m.paused for m in mentors], dtype=np.bool_)
        with np.errstate(divide="ignore", invalid="ignore"):
            self._availability = np.where(
                capacity > 0, np.maximum(0.0, 1.0 - load / np.maximum(capacity, 1.0)), 0.0
            )
        self._responsiveness = np.array(
            [
                accept_rate(
                    standings.get(m.person_id, MentorStanding()),
                    policy.responsiveness_prior_accepts,
                    policy.responsiveness_prior_declines,
                )
                for m in mentors
            ],
            dtype=np.float64,
        )
        programmes = sorted({p for m in mentors for p in m.programmes})
        self._in_programme: dict[str, BoolArray] = {}
        for programme in programmes:
            self._in_programme[programme] = np.array(
                [programme in m.programmes for m in mentors], dtype=np.bool_
            )
        # Ties are broken by mentor id, so equal scores rank the same way every time.
        self._id_rank = np.empty(n, dtype=np.int64)
        self._id_rank[np.argsort(np.array(self.mentor_ids, dtype=object), kind="stable")] = (
            np.arange(n)
        )

    def __len__(self) -> int:
        return len(self.mentor_ids)

    def scores(
        self, mentee: Person, programme_id: str, exclude: Collection[str] = ()
    ) -> FloatArray:
        """Score of every mentor for this mentee; -inf where a hard constraint fails."""
        n = len(self.mentor_ids)
        policy = self.policy
        if n == 0 or not mentee.is_mentee or mentee.paused:
            return np.full(n, -np.inf)
        if programme_id not in mentee.programmes or programme_id not in self._in_programme:
            return np.full(n, -np.inf)
        gap = np.abs(self._offsets - mentee.utc_offset) % 24.0
        gap = np.minimum(gap, 24.0 - gap)
        mask = self._eligible & self._has_room & self._in_programme[programme_id]
        mask &= gap <= policy.max_timezone_gap_hours
        mask &= (self._languages @ self._langs.indicator(mentee.languages)) > 0
        for mentor_id in (mentee.person_id, *exclude):
            row = self._row_of.get(mentor_id)
            if row is not None:
                mask[row] = False

        goals = self._tags.indicator(mentee.goals)
        coverage = (self._offer @ goals) / len(mentee.goals) if mentee.goals else np.zeros(n)
        passions = (
            (self._passions @ self._tags.indicator(mentee.passions)) / len(mentee.passions)
            if mentee.passions
            else np.zeros(n)
        )
        values = {
            "goal_coverage": coverage,
            "shared_passions": passions,
            "timezone": 1.0 - gap / 12.0,
            "availability": self._availability,
            "responsiveness": self._responsiveness,
        }
        weights = policy.weights.as_dict()
        total = policy.weights.total()
        score = np.zeros(n)
        for name in COMPONENTS:
            score += weights[name] * values[name] / total
        np.clip(score, 0.0, 1.0, out=score)
        mask &= score >= policy.min_score
        return np.where(mask, score, -np.inf)

    def rank(
        self,
        mentee: Person,
        programme_id: str,
        *,
        exclude: Collection[str] = (),
        limit: int = 1,
    ) -> list[RankedMentor]:
        """The best `limit` allowed mentors, best first (ties: lower mentor id first)."""
        scores = self.scores(mentee, programme_id, exclude)
        allowed = np.flatnonzero(scores > -np.inf)
        if limit <= 0 or allowed.size == 0:
            return []
        if allowed.size > limit:
            # Keep everything tied with the limit-th best, so the id tie-break decides.
            kth = np.partition(scores[allowed], allowed.size - limit)[allowed.size - limit]
            allowed = allowed[scores[allowed] >= kth]
        order = np.lexsort((self._id_rank[allowed], -scores[allowed]))[:limit]
        return [
            RankedMentor(self.mentor_ids[int(row)], float(scores[row])) for row in allowed[order]
        ]
