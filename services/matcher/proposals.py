"""The online decisions, free of storage: who to propose to whom, and what an answer,
an end or an expiry does to a proposal.

A proposal is `open` until both people accept (`started`), one declines (`declined`),
nobody answers in time (`expired`), or it is taken back (`withdrawn`); a started
mentorship later `ended`. A mentor's load counts their open and started proposals;
a mentee holds at most one open or started proposal per programme (their *seat*).
Whether a mentorship met (a completed session) or ended without meeting counts in the
mentor's responsiveness.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from shared.events import MatchProposed, derived_id

from .constraints import prefilter_seeker, violations
from .policy import MatchingPolicy
from .profiles import Person
from .ranking import Candidate


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


class FollowThrough(StrEnum):
    """Whether a mentorship met: it counts in the mentor's responsiveness."""

    MET = "met"  # at least one completed session
    MISSED = "missed"  # ended without any


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
    follow_through: FollowThrough | None = None

    def involves(self, person_id: str) -> bool:
        return person_id in (self.mentee_id, self.mentor_id)

    def parties(self) -> dict[str, str]:
        """What every event about the proposal names."""
        return {
            "match_id": self.match_id,
            "programme_id": self.programme_id,
            "mentee_id": self.mentee_id,
            "mentor_id": self.mentor_id,
        }


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
    if not prefilter_seeker(current, programme_id):
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


def match_id_for(cause_id: str, programme_id: str, mentee_id: str, mentor_id: str) -> str:
    """Stable across retries of the same cause, and unique: a pair is proposed once."""
    return derived_id("match", cause_id, programme_id, mentee_id, mentor_id)


def proposal_event(
    match_id: str, candidate: Candidate, proposed_at: datetime, policy: MatchingPolicy
) -> MatchProposed:
    return MatchProposed(
        match_id=match_id,
        programme_id=candidate.programme_id,
        mentee_id=candidate.mentee.person_id,
        mentor_id=candidate.mentor.person_id,
        score=round(candidate.score, 6),
        reasons=list(candidate.reasons),
        components={name: round(share, 6) for name, share in candidate.components.items()},
        expires_at=proposed_at + timedelta(days=policy.proposal_ttl_days),
    )


def follow_through_after_session(proposal: Proposal) -> FollowThrough | None:
    """A completed session: the mentorship met (None: nothing changes). A session that
    comes after the end still counts, and turns a `missed` into `met`."""
    if proposal.status not in (Status.OPEN, Status.STARTED, Status.ENDED):
        return None
    return None if proposal.follow_through is FollowThrough.MET else FollowThrough.MET


def follow_through_after_end(proposal: Proposal) -> FollowThrough | None:
    """A started mentorship that ends without any completed session missed."""
    if proposal.status is Status.STARTED and proposal.follow_through is None:
        return FollowThrough.MISSED
    return None
