"""The soft score of an allowed pair, its components and the reasons people read.

score = sum(weight_i * component_i) / sum(weights), every component in [0, 1]:
goal coverage, shared passions, time-zone closeness, mentor availability and mentor
responsiveness (see `policy.Weights`). A component's *share* is its weighted term, so
the shares add up to the score and a reader sees what the score is made of.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from shared.events import ProfileUpserted

from .policy import COMPONENTS, DEFAULT_POLICY, MatchingPolicy
from .profiles import MentorStanding, Person, accept_rate, offset_gap_hours

COMPONENT_LABELS = {
    "goal_coverage": "goal coverage",
    "shared_passions": "shared passions",
    "timezone": "time-zone closeness",
    "availability": "mentor availability",
    "responsiveness": "mentor responsiveness",
}


@dataclass(frozen=True)
class ScoredPair:
    mentee_id: str
    mentor_id: str
    programme_id: str
    score: float  # the mentee's view, in [0, 1]
    mentor_score: float  # the mentor's preference for this mentee
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class PairScore:
    score: float
    mentor_score: float
    components: dict[str, float]  # each component's share of `score`
    reasons: tuple[str, ...]


def goal_coverage(mentee: Person, mentor: Person, mentor_goal_credit: float) -> float:
    if not mentee.goals:
        return 0.0
    credit = 0.0
    for goal in mentee.goals:
        if goal in mentor.skills:
            credit += 1.0
        elif goal in mentor.goals:
            credit += mentor_goal_credit
    return credit / len(mentee.goals)


def passion_overlap(person: Person, other: Person) -> float:
    """The share of `person`'s passions that `other` shares (person's point of view)."""
    if not person.passions:
        return 0.0
    return len(person.passions.keys() & other.passions.keys()) / len(person.passions)


def timezone_closeness(gap_hours: float) -> float:
    return 1.0 - gap_hours / 12.0


def availability(mentor: Person, load: int) -> float:
    if mentor.capacity <= 0:
        return 0.0
    return max(0.0, 1.0 - load / mentor.capacity)


def component_values(
    mentee: Person, mentor: Person, policy: MatchingPolicy, standing: MentorStanding
) -> dict[str, float]:
    gap = offset_gap_hours(mentee.utc_offset, mentor.utc_offset)
    return {
        "goal_coverage": goal_coverage(mentee, mentor, policy.mentor_goal_credit),
        "shared_passions": passion_overlap(mentee, mentor),
        "timezone": timezone_closeness(gap),
        "availability": availability(mentor, standing.load),
        "responsiveness": accept_rate(
            standing, policy.responsiveness_prior_accepts, policy.responsiveness_prior_declines
        ),
    }


def mentor_view(mentee: Person, mentor: Person, policy: MatchingPolicy) -> float:
    """The mentor's preference for this mentee: what they can teach, shared passions (from
    the mentor's side) and time zone; availability and responsiveness are the mentor's own."""
    w = policy.weights
    total = w.goal_coverage + w.shared_passions + w.timezone
    if total <= 0:
        return 0.0
    gap = offset_gap_hours(mentee.utc_offset, mentor.utc_offset)
    value = w.goal_coverage * goal_coverage(mentee, mentor, policy.mentor_goal_credit)
    value += w.shared_passions * passion_overlap(mentor, mentee)
    value += w.timezone * timezone_closeness(gap)
    return value / total


def score_pair(
    mentee: Person,
    mentor: Person,
    policy: MatchingPolicy = DEFAULT_POLICY,
    standing: MentorStanding | None = None,
) -> PairScore:
    """Score one pair (assumed allowed: check `constraints.allowed` first) with its reasons."""
    standing = standing or MentorStanding()
    values = component_values(mentee, mentor, policy, standing)
    weights = policy.weights.as_dict()
    total = policy.weights.total()
    shares = {name: weights[name] * values[name] / total for name in COMPONENTS}
    score = min(1.0, max(0.0, sum(shares[name] for name in COMPONENTS)))
    return PairScore(
        score=score,
        mentor_score=mentor_view(mentee, mentor, policy),
        components=shares,
        reasons=explain(mentee, mentor, score, shares),
    )


def explain(
    mentee: Person, mentor: Person, score: float, shares: dict[str, float]
) -> tuple[str, ...]:
    """Sentences a participant can read: what matched, and what the score is made of."""
    lines: list[str] = []
    uncovered: list[str] = []
    for goal, written in mentee.goals.items():
        if goal in mentor.skills:
            lines.append(
                f"Goal '{written}' is covered by the mentor's skill '{mentor.skills[goal]}'"
            )
        elif goal in mentor.goals:
            lines.append(
                f"Goal '{written}' is one the mentor is working on too ('{mentor.goals[goal]}')"
            )
        else:
            uncovered.append(written)
    if uncovered:
        lines.append("Goals the mentor does not cover: " + ", ".join(uncovered))
    shared = [written for key, written in mentee.passions.items() if key in mentor.passions]
    if shared:
        lines.append("Shared passions: " + ", ".join(shared))
    gap = offset_gap_hours(mentee.utc_offset, mentor.utc_offset)
    lines.append(f"Time-zone gap: {gap:g} h ({mentee.timezone} / {mentor.timezone})")
    for name in COMPONENTS:
        part = shares[name]
        percent = 100.0 * part / score if score > 0 else 0.0
        lines.append(
            f"Score from {COMPONENT_LABELS[name]}: {part:.3f} of {score:.3f} ({percent:.0f}%)"
        )
    return tuple(lines)


def latest_profiles(people: Sequence[ProfileUpserted]) -> list[ProfileUpserted]:
    """One profile per person: the highest revision (the first seen on a tie)."""
    best: dict[str, ProfileUpserted] = {}
    for profile in people:
        seen = best.get(profile.person_id)
        if seen is None or profile.revision > seen.revision:
            best[profile.person_id] = profile
    return list(best.values())


def mentor_capacities(people: Sequence[ProfileUpserted]) -> dict[str, int]:
    """Capacity of every mentor (latest revision); a paused mentor has capacity 0.
    Capacity is per person, shared by all the programmes the mentor is in."""
    return {
        p.person_id: 0 if p.paused else p.capacity
        for p in latest_profiles(people)
        if "mentor" in p.roles
    }


def score_cohort(
    people: Sequence[ProfileUpserted],
    policy: MatchingPolicy | None = None,
    max_per_mentee: int = 200,
) -> list[ScoredPair]:
    """Every allowed (mentee, mentor, programme) pair, best `max_per_mentee` per mentee and
    programme, hard constraints applied with every mentor unloaded.

    Ordered by programme, mentee id, then score descending and mentor id, so the output is
    deterministic for the same input.
    """
    from .ranking import MentorIndex  # the numpy index builds on this module

    policy = policy or DEFAULT_POLICY
    persons = [Person.from_profile(p, policy.normaliser) for p in latest_profiles(people)]
    persons.sort(key=lambda p: p.person_id)
    programmes = sorted({prog for p in persons for prog in p.programmes})
    out: list[ScoredPair] = []
    for programme in programmes:
        mentors = [p for p in persons if p.is_mentor and programme in p.programmes]
        if not mentors:
            continue
        index = MentorIndex(mentors, policy)
        by_id = {m.person_id: m for m in mentors}
        for mentee in persons:
            if not mentee.is_mentee or programme not in mentee.programmes:
                continue
            for ranked in index.rank(mentee, programme, limit=max_per_mentee):
                mentor = by_id[ranked.mentor_id]
                pair = score_pair(mentee, mentor, policy)
                out.append(
                    ScoredPair(
                        mentee_id=mentee.person_id,
                        mentor_id=mentor.person_id,
                        programme_id=programme,
                        score=pair.score,
                        mentor_score=pair.mentor_score,
                        reasons=pair.reasons,
                    )
                )
    return out
