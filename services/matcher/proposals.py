"""The online decisions, free of storage: who to propose to whom, and what an answer,
an end or an expiry does to a proposal.

A proposal is `open` until both people accept (`started`), one declines (`declined`),
nobody answers in time (`expired`), or it is taken back (`withdrawn`); a started
mentorship later `ended`. A mentor's load counts their open and started proposals;
a mentee holds at most one open or started proposal per programme (their *seat*).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from shared.events import MatchProposed, derived_id

from .constraints import allowed, violations
from .policy import MatchingPolicy
from .profiles import MentorStanding, Person
from .ranking import MentorIndex, RankedMentor
from .scoring import PairScore, score_pair


class Status(StrEnum):
    OPEN = "open"
    STARTED = "started"
    DECLINED = "declined"
    EXPIRED = "expired"
    WITHDRAWN = "withdrawn"
    ENDED = "ended"


# Statuses that hold one unit of the mentor's capacity.
HOLDS_CAPACITY = (Status.OPEN, Status.STARTED)


class Seat(StrEnum):
    """A mentee's place in one programme."""

    WAITING = "waiting"  # wants a mentor, none proposed yet (or none allowed)
    PROPOSED = "proposed"  # holds one open proposal
    MATCHED = "matched"  # in a mentorship
    IDLE = "idle"  # a mentorship or proposal ended; waits for a profile change


class Outcome(StrEnum):
    IGNORED = "ignored"  # not applicable (unknown person, or the proposal is closed)
    RECORDED = "recorded"  # one of two acceptances
    STARTED = "started"
    DECLINED = "declined"
    EXPIRED = "expired"
    ENDED = "ended"


@dataclass(frozen=True)
class Proposal:
    match_id: str
    programme_id: str
    mentee_id: str
    mentor_id: str
    status: Status
    accepted_by: frozenset[str]
    expires_at: datetime

    def involves(self, person_id: str) -> bool:
        return person_id in (self.mentee_id, self.mentor_id)


def answer(proposal: Proposal, person_id: str, *, accepted: bool) -> Outcome:
    """What one person's accept or decline does to the proposal."""
    if not proposal.involves(person_id) or proposal.status is not Status.OPEN:
        return Outcome.IGNORED
    if not accepted:
        return Outcome.DECLINED
    if proposal.accepted_by | {person_id} >= {proposal.mentee_id, proposal.mentor_id}:
        return Outcome.STARTED
    return Outcome.RECORDED


def end(proposal: Proposal) -> Outcome:
    """A mentorship ended; ending an open proposal closes it too (the platform knows best)."""
    return Outcome.ENDED if proposal.status in HOLDS_CAPACITY else Outcome.IGNORED


def expire(proposal: Proposal, now: datetime) -> Outcome:
    if proposal.status is Status.OPEN and proposal.expires_at <= now:
        return Outcome.EXPIRED
    return Outcome.IGNORED


def mentor_missed(proposal: Proposal) -> bool:
    """Whether an expiry counts against the mentor's responsiveness: they never accepted."""
    return proposal.mentor_id not in proposal.accepted_by


def seeks_mentor(
    previous: Person | None, current: Person, programme_id: str, seat: Seat | None
) -> bool:
    """Whether this profile revision should look for a mentor in the programme: a new
    mentee or one still waiting always does; one whose last proposal or mentorship ended
    does when what matching depends on changed; one holding a proposal or a mentorship
    never does."""
    if not current.is_mentee or current.paused or programme_id not in current.programmes:
        return False
    if seat is None or seat is Seat.WAITING:
        return True
    if seat is Seat.IDLE:
        return previous is None or previous.matching_view() != current.matching_view()
    return False


def withdrawal_reason(
    mentee: Person, mentor: Person, programme_id: str, policy: MatchingPolicy
) -> str | None:
    """Why an open proposal no longer holds after a profile change (None: it still does).
    Capacity and history are not re-checked: the proposal itself is what uses them."""
    found = violations(mentee, mentor, programme_id, policy)
    return "; ".join(found) if found else None


def rank_mentors(
    mentee: Person,
    programme_id: str,
    candidates: Sequence[tuple[Person, MentorStanding]],
    policy: MatchingPolicy,
    *,
    blocked_mentors: Collection[str] = (),
    limit: int = 5,
) -> list[RankedMentor]:
    """The best allowed mentors for the mentee, best first."""
    mentors = [mentor.renormalised(policy.normaliser) for mentor, _ in candidates]
    standings = {mentor.person_id: standing for mentor, standing in candidates}
    index = MentorIndex(mentors, policy, standings)
    return index.rank(
        mentee.renormalised(policy.normaliser),
        programme_id,
        exclude=blocked_mentors,
        limit=limit,
    )


@dataclass(frozen=True)
class WaitingMentee:
    programme_id: str
    mentee: Person
    score: float


def rank_waiting_mentees(
    mentor: Person,
    standing: MentorStanding,
    waiting: Sequence[tuple[str, Person]],
    policies: Mapping[str, MatchingPolicy],
    *,
    blocked_mentees: Collection[str] = (),
    limit: int = 1,
) -> list[WaitingMentee]:
    """The waiting mentees a mentor with free capacity should be offered to, best first:
    at most one entry per mentee (their best programme), ties broken by mentee id."""
    best: dict[str, WaitingMentee] = {}
    for programme_id, mentee in waiting:
        policy = policies[programme_id]
        if mentee.person_id in blocked_mentees:
            continue
        if not allowed(mentee, mentor, programme_id, policy, mentor_load=standing.load):
            continue
        pair = score_pair(
            mentee.renormalised(policy.normaliser),
            mentor.renormalised(policy.normaliser),
            policy,
            standing,
        )
        if pair.score < policy.min_score:
            continue
        seen = best.get(mentee.person_id)
        if seen is None or (pair.score, programme_id) > (seen.score, seen.programme_id):
            best[mentee.person_id] = WaitingMentee(programme_id, mentee, pair.score)
    ordered = sorted(best.values(), key=lambda w: (-w.score, w.mentee.person_id))
    return ordered[: max(0, limit)]


def match_id_for(cause_id: str, programme_id: str, mentee_id: str, mentor_id: str) -> str:
    """Stable across retries of the same cause, and unique: a pair is proposed once."""
    return derived_id("match", cause_id, programme_id, mentee_id, mentor_id)


def proposal_event(
    match_id: str,
    programme_id: str,
    mentee: Person,
    mentor: Person,
    pair: PairScore,
    proposed_at: datetime,
    policy: MatchingPolicy,
) -> MatchProposed:
    return MatchProposed(
        match_id=match_id,
        programme_id=programme_id,
        mentee_id=mentee.person_id,
        mentor_id=mentor.person_id,
        score=round(pair.score, 6),
        reasons=list(pair.reasons),
        components={name: round(share, 6) for name, share in pair.components.items()},
        expires_at=proposed_at + timedelta(days=policy.proposal_ttl_days),
    )


def score_for_proposal(
    mentee: Person, mentor: Person, policy: MatchingPolicy, standing: MentorStanding
) -> PairScore:
    return score_pair(
        mentee.renormalised(policy.normaliser),
        mentor.renormalised(policy.normaliser),
        policy,
        standing,
    )
