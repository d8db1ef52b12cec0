"""Who to introduce a person to, through whom, and why.

Structure is a weighted resource-allocation score (Zhou, Lü and Zhang 2009; the
weighted form of Lü and Zhou 2010): every mutual contact z passes on a share of
the tie x-z proportional to the tie z-y over z's total strength, so a contact who
knows few people counts for more than a hub. Paths of three strong ties add a
term of the same kind (the local-path idea of Lü, Jin and Zhou 2009), which both
reaches further and separates candidates whose two-hop scores are equal. The
structure is blended with relevance (the candidate's skills against the person's
goals, shared passions) and the candidate's load this week.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from services.network.graph import GraphView
from services.network.people import Person
from services.network.policy import NetworkPolicy
from services.network.ties import decay

Load = Callable[[str], int]
Excluded = Callable[[str, str], bool]


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


@dataclass(frozen=True, slots=True)
class Suggestion:
    person: str
    candidate: str
    introducer: str
    score: float
    mutual_contacts: tuple[str, ...]
    goals_helped: tuple[str, ...]
    shared_passions: tuple[str, ...]
    reasons: tuple[str, ...]


def structural_scores(
    graph: GraphView, person_id: str, decay_now: float, policy: NetworkPolicy
) -> dict[str, float]:
    """Structure score of everyone the person reaches in two hops (and three over
    strong ties), excluding the person and the people they already know."""
    scores: dict[str, float] = {}
    own = graph.ties_of(person_id)
    strong: list[tuple[str, float]] = []
    for z, tie_xz in own.items():
        s_z = graph.total_strength(z, decay_now)
        if s_z <= 0.0:
            continue
        w_xz = tie_xz.base + tie_xz.boost * decay_now
        # z passes on this share of the tie, split by the strength of z's own ties.
        passed = w_xz / s_z
        if w_xz >= policy.strong_tie:
            strong.append((z, passed))
        for y, tie_zy in graph.ties_of(z).items():
            scores[y] = scores.get(y, 0.0) + passed * (tie_zy.base + tie_zy.boost * decay_now)
    if policy.three_hops and policy.three_hop_weight > 0.0:
        _add_three_hops(graph, person_id, strong, decay_now, policy, scores)
    scores.pop(person_id, None)
    for known in own:
        scores.pop(known, None)
    return scores


def _add_three_hops(
    graph: GraphView,
    person_id: str,
    strong_first: list[tuple[str, float]],
    decay_now: float,
    policy: NetworkPolicy,
    scores: dict[str, float],
) -> None:
    threshold = policy.strong_tie
    for a, share_a in strong_first:
        for b, tie_ab in graph.ties_of(a).items():
            if b == person_id:
                continue
            w_ab = tie_ab.base + tie_ab.boost * decay_now
            if w_ab < threshold:
                continue
            s_b = graph.total_strength(b, decay_now)
            passed = policy.three_hop_weight * share_a * w_ab / s_b
            for y, tie_by in graph.ties_of(b).items():
                if y == a:
                    continue
                w_by = tie_by.base + tie_by.boost * decay_now
                if w_by >= threshold:
                    scores[y] = scores.get(y, 0.0) + passed * w_by


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
    """Every allowed candidate for the person, best first (ties broken by id)."""
    person = graph.person(person_id)
    if person is None:
        return []
    scored: list[ScoredCandidate] = []
    for candidate_id, structure in structural_scores(graph, person_id, decay(at), policy).items():
        candidate = graph.person(candidate_id)
        if candidate is None or not candidate.introducible:
            continue
        if excluded(person_id, candidate_id):
            continue
        busy = load(candidate_id)
        if busy >= policy.weekly_cap:
            continue
        goal_share = share(person.goals, candidate.skills)
        passion_share = share(person.passions, candidate.passions)
        score = blend(structure, goal_share, passion_share, busy, policy)
        scored.append(ScoredCandidate(candidate_id, score, structure, goal_share, passion_share))
    order = _best_first
    if limit is None:
        return sorted(scored, key=order)
    return heapq.nsmallest(limit, scored, key=order)


def _best_first(c: ScoredCandidate) -> tuple[float, str]:
    return (-c.score, c.id)


def mutual_contacts(graph: GraphView, a: str, b: str, decay_now: float) -> list[str]:
    """People who know both, the strongest bottleneck tie first."""
    ties_a, ties_b = graph.ties_of(a), graph.ties_of(b)
    if len(ties_a) > len(ties_b):
        ties_a, ties_b = ties_b, ties_a
    common = [z for z in ties_a if z in ties_b]

    def strength(z: str) -> tuple[float, float, str]:
        w_a = ties_a[z].strength(decay_now)
        w_b = ties_b[z].strength(decay_now)
        return (-min(w_a, w_b), -(w_a * w_b), z)

    return sorted(common, key=strength)


def choose_introducer(
    graph: GraphView, person_id: str, candidate_id: str, decay_now: float, policy: NetworkPolicy
) -> tuple[str, tuple[str, ...]] | None:
    """The mutual contact with the strongest ties to both (who must not be paused),
    with the path they vouch for; for a three-hop candidate, the person's contact
    that starts the strongest path of strong ties. None if nobody can introduce."""
    for z in mutual_contacts(graph, person_id, candidate_id, decay_now):
        contact = graph.person(z)
        if contact is not None and not contact.paused:
            return z, (z,)
    best: tuple[tuple[float, float, str, str], str, str] | None = None
    for a, tie_xa in graph.ties_of(person_id).items():
        w_xa = tie_xa.strength(decay_now)
        contact = graph.person(a)
        if w_xa < policy.strong_tie or contact is None or contact.paused:
            continue
        for b, tie_ab in graph.ties_of(a).items():
            tie_by = graph.tie(b, candidate_id)
            if b == person_id or tie_by is None:
                continue
            w_ab, w_by = tie_ab.strength(decay_now), tie_by.strength(decay_now)
            if min(w_ab, w_by) < policy.strong_tie:
                continue
            key = (-min(w_xa, w_ab, w_by), -(w_xa * w_ab * w_by), a, b)
            if best is None or key < best[0]:
                best = (key, a, b)
    if best is None:
        return None
    return best[1], (best[1], best[2])


def reasons_for(
    person: Person,
    candidate: Person,
    contacts: list[str],
    path: tuple[str, ...],
    goals_helped: tuple[str, ...],
    shared_passions: tuple[str, ...],
) -> tuple[str, ...]:
    """Lines the introducer can read and pass on."""
    lines = []
    if contacts:
        more = f" and {len(contacts) - 3} more" if len(contacts) > 3 else ""
        shown = ", ".join(contacts[:3]) + more
        noun = "mutual contact" if len(contacts) == 1 else "mutual contacts"
        lines.append(f"{len(contacts)} {noun} of {person.id} and {candidate.id}: {shown}")
    else:
        lines.append(
            f"{person.id} reaches {candidate.id} through close ties: "
            + " -> ".join((person.id, *path, candidate.id))
        )
    if goals_helped:
        lines.append(f"{candidate.id} can help with {person.id}'s goals: {', '.join(goals_helped)}")
    if shared_passions:
        lines.append(f"shared passions: {', '.join(shared_passions)}")
    return tuple(lines)


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
    contacts = mutual_contacts(graph, person_id, scored.id, decay_now)
    goals_helped = tuple(sorted(person.goals & candidate.skills))
    shared_passions = tuple(sorted(person.passions & candidate.passions))
    return Suggestion(
        person=person_id,
        candidate=scored.id,
        introducer=introducer,
        score=max(0.0, scored.score),
        mutual_contacts=tuple(contacts),
        goals_helped=goals_helped,
        shared_passions=shared_passions,
        reasons=reasons_for(person, candidate, contacts, path, goals_helped, shared_passions),
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
