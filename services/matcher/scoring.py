"""The soft score of an allowed pair, its components and the reasons people read.

score = sum(weight_i * component_i) / sum(weights), every component in [0, 1]:
goal coverage, shared passions, time-zone closeness, mentor availability and mentor
responsiveness (see `policy.Weights`). A component's *share* is its weighted term, so
the shares add up to the score and a reader sees what the score is made of.

This is the model for one pair, as a person reads it; `ranking.MentorIndex` computes
the same model for many mentors at once (a property test keeps the two equal).
"""

from __future__ import annotations

from dataclasses import dataclass

from .policy import COMPONENTS, DEFAULT_POLICY, MatchingPolicy
from .profiles import MentorStanding, Person, offset_gap_hours, smoothed_rate

COMPONENT_LABELS = {
    "goal_coverage": "goal coverage",
    "shared_passions": "shared passions",
    "timezone": "time-zone closeness",
    "availability": "mentor availability",
    "responsiveness": "mentor responsiveness",
}


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


def responsiveness(standing: MentorStanding, policy: MatchingPolicy) -> float:
    """How reliably the mentor answers proposals and then meets: the smoothed accept
    rate blended with the smoothed share of their mentorships that met."""
    accepts = smoothed_rate(
        standing.accepted,
        standing.declined,
        policy.responsiveness_prior_accepts,
        policy.responsiveness_prior_declines,
    )
    meets = smoothed_rate(
        standing.met,
        standing.missed,
        policy.follow_through_prior_met,
        policy.follow_through_prior_missed,
    )
    share = policy.follow_through_share
    return (1.0 - share) * accepts + share * meets


def component_values(
    mentee: Person, mentor: Person, policy: MatchingPolicy, standing: MentorStanding
) -> dict[str, float]:
    gap = offset_gap_hours(mentee.utc_offset, mentor.utc_offset)
    return {
        "goal_coverage": goal_coverage(mentee, mentor, policy.mentor_goal_credit),
        "shared_passions": passion_overlap(mentee, mentor),
        "timezone": timezone_closeness(gap),
        "availability": availability(mentor, standing.load),
        "responsiveness": responsiveness(standing, policy),
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


def pair_score(
    mentee: Person,
    mentor: Person,
    policy: MatchingPolicy = DEFAULT_POLICY,
    standing: MentorStanding | None = None,
) -> float:
    """`score_pair(...).score` without the explanation: for ranking many pairs."""
    values = component_values(mentee, mentor, policy, standing or MentorStanding())
    weights = policy.weights.as_dict()
    total = policy.weights.total()
    return min(1.0, max(0.0, sum(weights[name] * values[name] / total for name in COMPONENTS)))


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
