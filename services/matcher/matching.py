"""The matching service: the moves every use case is made of, for one unit of work.

A `Matching` holds the unit's context (the unit, its store, the programmes' policies,
the process's directory and the time `now`) and offers the moves: `propose` a mentor
to a waiting mentee, `offer` a mentor's room to waiting mentees, `open` a proposal,
`answer`, `end`, `expire` or `withdraw` one, `free` what a closed one held.

A move that makes work possible for other people (a freed mentor, a mentee back in
line, answers that came before a proposal) does not do it itself: it puts it on the
unit's work queue (`FollowUps`), which the handler drains with `settle()` before the
unit commits. So nothing recurses, and the order is fixed: answers kept for a new
proposal first, then mentees put back in line (they just lost a proposal), then
freed mentors.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Protocol, TypeVar

from shared.events import EventData, MatchExpired, MatchWithdrawn, MentorshipStarted

from .constraints import prefilter_mentor, prefilter_seeker
from .policy import MatchingPolicy, PolicyBook
from .profiles import MentorStanding, Person
from .proposals import (
    HOLDS_CAPACITY,
    Outcome,
    Proposal,
    Seat,
    Status,
    answer,
    end,
    expire,
    follow_through_after_end,
    follow_through_after_session,
    match_id_for,
    mentor_missed,
    proposal_event,
)
from .ranking import Candidate, rank_waiting_mentees
from .snapshot import DirectorySnapshot
from .store import MatcherStore

# Mentors tried in ranking order when reserving: more than one because a concurrent
# process may take the best one's last slot between the read and the reservation.
CANDIDATES_TRIED = 20
T = TypeVar("T")


class Unit(Protocol):
    """What the matcher needs of a unit of work (`shared.runtime.UnitOfWork`)."""

    cause_id: str
    event_time: datetime

    def emit(self, data: EventData, *, discriminator: str = "") -> object: ...

    def after_commit(self, callback: Callable[[], None]) -> None: ...

    @property
    def batch(self) -> Batch: ...


class Batch(Protocol):
    """What the units of one batch share (`shared.runtime.BatchScope`)."""

    def cached(self, key: Hashable, build: Callable[[], T]) -> T: ...


class Opening(Enum):
    """What came of trying to open a proposal for a candidate."""

    OPENED = "opened"
    MENTOR_FULL = "mentor full"  # the mentor's last slot went elsewhere meanwhile
    NOT_WAITING = "not waiting"  # the mentee's seat was taken meanwhile


@dataclass
class FollowUps:
    """The unit's work queue, without duplicates among pending items."""

    early: deque[str] = field(default_factory=deque)  # match ids with kept answers
    mentees: deque[tuple[str, str]] = field(default_factory=deque)  # (programme, mentee)
    mentors: deque[str] = field(default_factory=deque)

    def answers_for(self, match_id: str) -> None:
        if match_id not in self.early:
            self.early.append(match_id)

    def mentee(self, programme_id: str, mentee_id: str) -> None:
        if (programme_id, mentee_id) not in self.mentees:
            self.mentees.append((programme_id, mentee_id))

    def mentor(self, mentor_id: str) -> None:
        if mentor_id not in self.mentors:
            self.mentors.append(mentor_id)


@dataclass
class Matching:
    unit: Unit
    store: MatcherStore
    policies: PolicyBook
    snapshot: DirectorySnapshot  # the batch's: see snapshot.py
    now: datetime
    follow_ups: FollowUps = field(default_factory=FollowUps)

    def policy(self, programme_id: str) -> MatchingPolicy:
        return self.policies.for_programme(programme_id)

    def online(self, programme_id: str) -> bool:
        """Whether the programme matches as things happen (else only in cohort runs)."""
        return self.policy(programme_id).assignment == "online"

    # --- the moves ---------------------------------------------------------------------

    async def propose(self, mentee: Person, programme_id: str) -> bool:
        """Propose the best allowed mentor with room to a waiting mentee."""
        if not prefilter_seeker(mentee, programme_id) or not self.online(programme_id):
            return False
        blocked = await self.store.mentors_proposed_to(mentee.person_id)
        policy = self.policy(programme_id)
        # A mentor found full is left out of the next ranking: the mentee is re-ranked
        # until a proposal opens or nobody is left.
        while ranked := self.snapshot.rank(
            mentee, programme_id, policy, exclude=blocked, limit=CANDIDATES_TRIED
        ):
            for candidate in ranked:
                opening = await self.open(candidate)
                if opening is not Opening.MENTOR_FULL:
                    return opening is Opening.OPENED
                self.snapshot.mentor_full(candidate.mentor.person_id)
        self.snapshot.left_waiting(programme_id, mentee)
        return False

    def profile_saved(self, previous: Person | None, current: Person) -> None:
        """Rank a mentor whose profile the unit saved on their new profile."""
        if not current.is_mentor and (previous is None or not previous.is_mentor):
            return
        mentor_id = current.person_id
        if not current.is_mentor:
            self.snapshot.mentor_changed(mentor_id, None)
            return
        known = None if previous is None else self.snapshot.standing(mentor_id)
        self.snapshot.mentor_changed(mentor_id, (current, known or MentorStanding()))

    async def offer(self, mentor_id: str) -> None:
        """Offer a mentor's free capacity to the best waiting mentees."""
        found = await self.store.mentor(mentor_id)
        if found is None:
            return
        mentor, standing = found
        if not prefilter_mentor(mentor, standing):
            return
        policies = {p: self.policy(p) for p in mentor.programmes if self.online(p)}
        waiting = [w for w in self.snapshot.waiting_for(mentor) if w[0] in policies]
        if not waiting:
            return
        blocked = await self.store.mentees_proposed_to(mentor_id)
        self.snapshot.directory.remember_proposed(mentor_id, blocked)
        free = mentor.capacity - standing.load
        # A few more than the free slots: the directory may list someone no longer waiting.
        chosen = rank_waiting_mentees(
            mentor, standing, waiting, policies, blocked_mentees=blocked,
            limit=free + CANDIDATES_TRIED,
        )  # fmt: skip
        for candidate in chosen:
            if free <= 0:
                return
            opening = await self.open(candidate)
            if opening is Opening.MENTOR_FULL:
                self.snapshot.mentor_full(mentor_id)
                return
            if opening is Opening.OPENED:
                free -= 1

    async def open(self, candidate: Candidate) -> Opening:
        """Reserve the mentor's slot, take the mentee's seat, store the proposal and emit
        it; answers that came before it are applied next."""
        programme_id = candidate.programme_id
        mentee_id, mentor_id = candidate.mentee.person_id, candidate.mentor.person_id
        if not await self.store.reserve_mentor(mentor_id, candidate.mentor.capacity):
            return Opening.MENTOR_FULL
        match_id = match_id_for(self.unit.cause_id, programme_id, mentee_id, mentor_id)
        if not await self.store.take_seat(programme_id, mentee_id, match_id):
            await self.store.release_mentor(mentor_id)
            return Opening.NOT_WAITING
        event = proposal_event(match_id, candidate, self.now, self.policy(programme_id))
        await self.store.open_proposal(match_id, candidate, self.now, event.expires_at)
        self.unit.emit(event, discriminator=match_id)
        self.follow_ups.answers_for(match_id)
        return Opening.OPENED

    async def answer(self, proposal: Proposal, person_id: str, *, accepted: bool) -> None:
        """One person's accept or decline."""
        outcome = answer(proposal, person_id, accepted=accepted)
        if outcome is Outcome.IGNORED:
            return
        if person_id == proposal.mentor_id and person_id not in proposal.accepted_by:
            await self.store.count_answer(proposal.mentor_id, accepted=accepted)
        if outcome is Outcome.DECLINED:
            if await self.store.close(proposal.match_id, (Status.OPEN,), Status.DECLINED, self.now):
                await self.free(proposal, back_to=Seat.WAITING)
            return
        updated = await self.store.accept(proposal.match_id, person_id)
        if updated is None or answer(updated, person_id, accepted=True) is not Outcome.STARTED:
            return
        if await self.store.close(proposal.match_id, (Status.OPEN,), Status.STARTED, self.now):
            await self.store.move_seat(
                proposal.programme_id, proposal.mentee_id, proposal.match_id, Seat.MATCHED,
                self.now,
            )  # fmt: skip
            self.unit.emit(
                MentorshipStarted(
                    mentorship_id=proposal.match_id,
                    programme_id=proposal.programme_id,
                    mentee_id=proposal.mentee_id,
                    mentor_id=proposal.mentor_id,
                ),
                discriminator=proposal.match_id,
            )

    async def end(self, proposal: Proposal) -> None:
        """The platform ended the mentorship (or the open proposal)."""
        if end(proposal) is not Outcome.ENDED:
            return
        missed = follow_through_after_end(proposal)
        if await self.store.close(proposal.match_id, HOLDS_CAPACITY, Status.ENDED, self.now):
            if missed is not None:
                await self.store.mark_follow_through(proposal, missed)
            await self.free(proposal, back_to=Seat.IDLE)

    async def met(self, proposal: Proposal) -> None:
        """A session of the mentorship was completed."""
        change = follow_through_after_session(proposal)
        if change is not None:
            await self.store.mark_follow_through(proposal, change)

    async def expire(self, proposal: Proposal) -> bool:
        """Expire a proposal nobody answered in time (claimed atomically)."""
        if expire(proposal, self.now) is not Outcome.EXPIRED:
            return False
        if not await self.store.close(proposal.match_id, (Status.OPEN,), Status.EXPIRED, self.now):
            return False
        if mentor_missed(proposal):
            await self.store.count_answer(proposal.mentor_id, accepted=False)
        self.unit.emit(MatchExpired(**proposal.parties()), discriminator=proposal.match_id)
        await self.free(proposal, back_to=Seat.WAITING)
        return True

    async def withdraw(self, proposal: Proposal, reason: str) -> None:
        """Take an open proposal back."""
        if not await self.store.close(
            proposal.match_id, (Status.OPEN,), Status.WITHDRAWN, self.now
        ):
            return
        self.unit.emit(
            MatchWithdrawn(**proposal.parties(), reason=reason), discriminator=proposal.match_id
        )
        await self.free(proposal, back_to=Seat.WAITING)

    async def free(self, proposal: Proposal, *, back_to: Seat) -> None:
        """A closed proposal gives the mentor's slot back and the mentee their seat."""
        await self.store.release_mentor(proposal.mentor_id)
        moved = await self.store.move_seat(
            proposal.programme_id, proposal.mentee_id, proposal.match_id, back_to, self.now
        )
        if moved and back_to is Seat.WAITING:
            self.follow_ups.mentee(proposal.programme_id, proposal.mentee_id)
        self.follow_ups.mentor(proposal.mentor_id)

    # --- the work queue ---------------------------------------------------------------

    async def settle(self) -> None:
        """Do the follow-ups, and those they cause, until none is left. Each proposal
        opened is a pair never proposed before, so this ends."""
        queue = self.follow_ups
        while queue.early or queue.mentees or queue.mentors:
            if queue.early:
                await self._apply_kept(queue.early.popleft())
            elif queue.mentees:
                programme_id, mentee_id = queue.mentees.popleft()
                mentee = await self.store.person(mentee_id)
                if mentee is not None:
                    await self.propose(mentee, programme_id)
            else:
                await self.offer(queue.mentors.popleft())

    async def _apply_kept(self, match_id: str) -> None:
        """What came before the proposal: declines, ends and sessions first (an answer
        that closes the proposal wins over acceptances), then acceptances."""
        kept = await self.store.take_early(match_id)
        for person_id, kind in sorted(kept, key=lambda k: k[1] == "accept"):
            proposal = await self.store.proposal(match_id)
            if proposal is None:
                return
            if kind == "end":
                await self.end(proposal)
            elif kind == "session":
                await self.met(proposal)
            else:
                await self.answer(proposal, person_id, accepted=kind == "accept")
