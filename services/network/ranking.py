"""Who to introduce a person to, through whom, and why.

Structure is a weighted resource-allocation score (Zhou, Lü and Zhang 2009; the
weighted form of Lü and Zhou 2010): every mutual contact z passes on a share of
the tie x-z proportional to the tie z-y over z's total strength, so a contact who
knows few people counts for more than a hub. On graphs split in time, plain and
weighted resource allocation were the most robust predictors, and predictors built
on paths of three ties lost to them as addends; so paths of three ties only
 - break ties between candidates whose two-hop scores are equal (the three-step
   resource flow, the local-path idea of Lü, Jin and Zhou 2009), and
 - reach people three strong ties away for a person with fewer than
   `fallback_below` two-hop candidates, ranked after every two-hop candidate.
The structure is blended with relevance (the candidate's skills against the
person's goals, shared passions) and the candidate's load this week.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from services.network.explanation import SHOWN_CONTACTS, Explanation
from services.network.graph import GraphView
from services.network.policy import NetworkPolicy
from services.network.ties import Strengths, decay

Load = Callable[[str], int]
Excluded = Callable[[str, str], bool]
# Two-hop candidates rank before three-hop fallbacks, whatever their scores.
TWO_HOPS, FALLBACK = 1, 0
_DIGITS = 12  # scores equal to this many decimals are ties


def _no_load(_candidate: str) -> int:
    return 0


def _nothing_excluded(_person: str, _candidate: str) -> bool:
    return False


@dataclass(frozen=True, slots=True)
class ScoredCandidate:
    id: str
    score: float
    structure: float
    goal_share: float
    passion_share: float
    tier: int = TWO_HOPS
    # The three-step resource flow to the candidate: set where it breaks a tie.
    reach: float = 0.0


@dataclass(frozen=True, slots=True)
class Suggestion:
    person: str
    candidate: str
    introducer: str
    score: float
    mutual_contacts: tuple[str, ...]
    explanation: Explanation

    @property
    def reasons(self) -> tuple[str, ...]:
        return self.explanation.reasons()


def two_step_flow(
    graph: GraphView, person_id: str, decay_now: float, strengths: Strengths
) -> dict[str, float]:
    """The resource that reaches everyone two ties away from the person (their own
    contacts and themselves included): the weighted resource-allocation score."""
    flow: dict[str, float] = {}
    table = strengths.by_mask
    for z, tie_xz in graph.ties_of(person_id).items():
        s_z = graph.total_strength(z, decay_now, strengths)
        if s_z <= 0.0:
            continue
        base = table[tie_xz.mask]
        w_xz = (tie_xz.weight if tie_xz.weight > base else base) + tie_xz.boost * decay_now
        # z passes on this share of the tie, split by the strength of z's own ties.
        passed = w_xz / s_z
        for y, tie_zy in graph.ties_of(z).items():
            base = table[tie_zy.mask]
            w_zy = (tie_zy.weight if tie_zy.weight > base else base) + tie_zy.boost * decay_now
            flow[y] = flow.get(y, 0.0) + passed * w_zy
    return flow


def structural_scores(
    graph: GraphView, person_id: str, decay_now: float, policy: NetworkPolicy
) -> dict[str, float]:
    """Two-hop structure score of everyone the person reaches in two hops,
    excluding the person and the people they already know."""
    scores = two_step_flow(graph, person_id, decay_now, policy.strengths)
    scores.pop(person_id, None)
    for known in graph.ties_of(person_id):
        scores.pop(known, None)
    return scores


def three_step_flow(
    graph: GraphView,
    candidate_id: str,
    flow: dict[str, float],
    decay_now: float,
    strengths: Strengths,
) -> float:
    """The resource that reaches the candidate in three steps, from the two-step
    `flow` of the person: the local-path term, used to break ties."""
    total = 0.0
    for b, tie_by in graph.ties_of(candidate_id).items():
        arrived = flow.get(b)
        if arrived:
            s_b = graph.total_strength(b, decay_now, strengths)
            if s_b > 0.0:
                total += arrived * strengths.strength(tie_by, decay_now) / s_b
    return total


def strong_three_hops(
    graph: GraphView, person_id: str, decay_now: float, policy: NetworkPolicy
) -> dict[str, float]:
    """Resource flow over paths of three strong ties only (the fallback's reach,
    along which an introducer can vouch), to people not yet known."""
    strengths, threshold = policy.strengths, policy.strong_tie
    scores: dict[str, float] = {}
    own = graph.ties_of(person_id)
    for a, tie_xa in own.items():
        w_xa = strengths.strength(tie_xa, decay_now)
        s_a = graph.total_strength(a, decay_now, strengths)
        if w_xa < threshold or s_a <= 0.0:
            continue
        share_a = w_xa / s_a
        for b, tie_ab in graph.ties_of(a).items():
            if b == person_id:
                continue
            w_ab = strengths.strength(tie_ab, decay_now)
            if w_ab < threshold:
                continue
            passed = share_a * w_ab / graph.total_strength(b, decay_now, strengths)
            for y, tie_by in graph.ties_of(b).items():
                if y == a:
                    continue
                w_by = strengths.strength(tie_by, decay_now)
                if w_by >= threshold:
                    scores[y] = scores.get(y, 0.0) + passed * w_by
    scores.pop(person_id, None)
    for known in own:
        scores.pop(known, None)
    return scores


def share(wanted: frozenset[str], offered: frozenset[str]) -> float:
    """The part of `wanted` that `offered` covers."""
    return len(wanted & offered) / len(wanted) if wanted else 0.0


def blend(
    structure: float, goal_share: float, passion_share: float, load: int, policy: NetworkPolicy
) -> float:
    """The candidate's score (see `RankingWeights`); never negative."""
    w = policy.weights
    squashed = structure / (structure + policy.structure_scale)
    relevance = w.structure + w.goals * goal_share + w.passions * passion_share
    busy = min(1.0, load / policy.weekly_cap)
    return squashed * relevance * (1.0 - w.load * busy)


# A candidate while ranking: a tuple whose natural order is best first
# (-tier, -score rounded, -reach, id, score, structure, goal share, passion share).
_Row = tuple[int, float, float, str, float, float, float, float]


def score_candidates(
    graph: GraphView,
    person_id: str,
    *,
    at: datetime,
    policy: NetworkPolicy,
    load: Load = _no_load,
    excluded: Excluded = _nothing_excluded,
    limit: int | None = None,
) -> list[ScoredCandidate]:
    """Every allowed candidate for the person (the first `limit`), best first:
    two-hop candidates by score, equal scores by three-step flow, then (for a person
    with few two-hop candidates) people three strong ties away, then by id."""
    person = graph.person(person_id)
    if person is None:
        return []
    decay_now = decay(at)
    strengths = policy.strengths
    flow = two_step_flow(graph, person_id, decay_now, strengths)
    known = graph.ties_of(person_id)
    goals, passions = person.goals, person.passions
    cap = policy.weekly_cap

    def rows(reached: dict[str, float], tier: int, factor: float) -> list[_Row]:
        found: list[_Row] = []
        for candidate_id, raw in reached.items():
            if candidate_id == person_id or candidate_id in known:
                continue
            candidate = graph.person(candidate_id)
            if candidate is None or not candidate.introducible:
                continue
            if excluded(person_id, candidate_id):
                continue
            busy = load(candidate_id)
            if busy >= cap:
                continue
            goal_share = share(goals, candidate.skills) if goals else 0.0
            passion_share = share(passions, candidate.passions) if passions else 0.0
            structure = factor * raw
            score = blend(structure, goal_share, passion_share, busy, policy)
            found.append((-tier, -round(score, _DIGITS), 0.0, candidate_id, score, structure,
                          goal_share, passion_share))  # fmt: skip
        return found

    found = rows(flow, TWO_HOPS, 1.0)
    if policy.three_hops and len(found) < policy.fallback_below:
        reached = {row[3] for row in found}
        far = strong_three_hops(graph, person_id, decay_now, policy)
        for row in rows(far, FALLBACK, policy.three_hop_weight):
            if row[3] not in reached:
                found.append(row)
    if policy.three_hops:
        _break_ties(graph, found, flow, decay_now, strengths, limit)
    best = sorted(found) if limit is None else heapq.nsmallest(limit, found)
    return [
        ScoredCandidate(cid, score, structure, gs, ps, -tier, -reach)
        for tier, _, reach, cid, score, structure, gs, ps in best
    ]


def _break_ties(
    graph: GraphView,
    found: list[_Row],
    flow: dict[str, float],
    decay_now: float,
    strengths: Strengths,
    limit: int | None,
) -> None:
    """Set the three-step flow where it can decide an order: without a limit on
    every candidate (their scores may tie with other people's candidates, as in a
    ranking of all pairs); with one, on candidates whose score equals another's
    in a group that reaches into the first `limit` places."""
    chosen: Iterable[int]
    if limit is None:
        chosen = range(len(found))
    else:
        head = {row[:2] for row in heapq.nsmallest(limit, found, key=lambda row: row[:2])}
        groups: dict[tuple[int, float], list[int]] = {}
        for i, row in enumerate(found):
            if row[:2] in head:
                groups.setdefault(row[:2], []).append(i)
        chosen = [i for members in groups.values() if len(members) > 1 for i in members]
    for i in chosen:
        row = found[i]
        reach = three_step_flow(graph, row[3], flow, decay_now, strengths)
        found[i] = (row[0], row[1], -reach, *row[3:])


def mutual_contacts(
    graph: GraphView, a: str, b: str, decay_now: float, strengths: Strengths
) -> list[str]:
    """People who know both, the strongest bottleneck tie first."""
    ties_a, ties_b = graph.ties_of(a), graph.ties_of(b)
    if len(ties_a) > len(ties_b):
        ties_a, ties_b = ties_b, ties_a
    common = [z for z in ties_a if z in ties_b]

    def strength(z: str) -> tuple[float, float, str]:
        w_a = strengths.strength(ties_a[z], decay_now)
        w_b = strengths.strength(ties_b[z], decay_now)
        return (-min(w_a, w_b), -(w_a * w_b), z)

    return sorted(common, key=strength)


def choose_introducer(
    graph: GraphView, person_id: str, candidate_id: str, decay_now: float, policy: NetworkPolicy
) -> tuple[str, tuple[str, ...]] | None:
    """The mutual contact with the strongest ties to both (who must not be paused),
    with the path they vouch for; for a three-hop candidate, the person's contact
    that starts the strongest path of strong ties. None if nobody can introduce."""
    strengths = policy.strengths
    for z in mutual_contacts(graph, person_id, candidate_id, decay_now, strengths):
        contact = graph.person(z)
        if contact is not None and not contact.paused:
            return z, (z,)
    best: tuple[tuple[float, float, str, str], str, str] | None = None
    for a, tie_xa in graph.ties_of(person_id).items():
        w_xa = strengths.strength(tie_xa, decay_now)
        contact = graph.person(a)
        if w_xa < policy.strong_tie or contact is None or contact.paused:
            continue
        for b, tie_ab in graph.ties_of(a).items():
            tie_by = graph.tie(b, candidate_id)
            if b == person_id or tie_by is None:
                continue
            w_ab = strengths.strength(tie_ab, decay_now)
            w_by = strengths.strength(tie_by, decay_now)
            if min(w_ab, w_by) < policy.strong_tie:
                continue
            key = (-min(w_xa, w_ab, w_by), -(w_xa * w_ab * w_by), a, b)
            if best is None or key < best[0]:
                best = (key, a, b)
    if best is None:
        return None
    return best[1], (best[1], best[2])


def explain(
    graph: GraphView,
    person_id: str,
    scored: ScoredCandidate,
    *,
    at: datetime,
    policy: NetworkPolicy,
) -> Suggestion | None:
    """The suggestion for one scored candidate, or None if nobody can introduce them."""
    person, candidate = graph.person(person_id), graph.person(scored.id)
    if person is None or candidate is None:
        return None
    decay_now = decay(at)
    chosen = choose_introducer(graph, person_id, scored.id, decay_now, policy)
    if chosen is None:
        return None
    introducer, path = chosen
    contacts = mutual_contacts(graph, person_id, scored.id, decay_now, policy.strengths)
    explanation = Explanation(
        person=person_id,
        candidate=scored.id,
        contacts=tuple(contacts[:SHOWN_CONTACTS]),
        contacts_total=len(contacts),
        path=() if contacts else path,
        goals_helped=tuple(sorted(person.goals & candidate.skills)),
        shared_passions=tuple(sorted(person.passions & candidate.passions)),
    )
    return Suggestion(
        person=person_id,
        candidate=scored.id,
        introducer=introducer,
        score=max(0.0, scored.score),
        mutual_contacts=tuple(contacts),
        explanation=explanation,
    )


def suggest_introductions(
    graph: GraphView,
    person_id: str,
    *,
    at: datetime,
    policy: NetworkPolicy,
    load: Load = _no_load,
    excluded: Excluded = _nothing_excluded,
    count: int | None = None,
) -> list[Suggestion]:
    """The best `count` introductions for the person (the policy's number by default).
    Nobody who is paused or closed to introductions gets suggestions."""
    person = graph.person(person_id)
    if person is None or not person.introducible:
        return []
    wanted = count if count is not None else policy.suggestions_per_run
    suggestions: list[Suggestion] = []
    # A few spares: a candidate whose only mutual contacts are paused is skipped.
    for scored in score_candidates(
        graph, person_id, at=at, policy=policy, load=load, excluded=excluded, limit=wanted * 4
    ):
        suggestion = explain(graph, person_id, scored, at=at, policy=policy)
        if suggestion is not None:
            suggestions.append(suggestion)
            if len(suggestions) == wanted:
                break
    return suggestions
