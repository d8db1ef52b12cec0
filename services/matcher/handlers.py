"""Applying one event's meaning to the matcher's state, inside the runtime's transaction.

The decisions come from `proposals.py`; this module only reads what they need,
reserves capacity and seats atomically, records the outcome and emits events.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from shared.clock import Clock, SystemClock
from shared.events import (
    CloudEvent,
    MatchAccepted,
    MatchDeclined,
    MatchExpired,
    MatchWithdrawn,
    MentorshipEnded,
    MentorshipStarted,
    ProfileDeleted,
    ProfileUpserted,
    derived_id,
)
from shared.runtime import ServiceRuntime, UnitOfWork

from .directory import Directory
from .policy import PolicyBook
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
    match_id_for,
    mentor_missed,
    proposal_event,
    rank_mentors,
    rank_waiting_mentees,
    score_for_proposal,
    seeks_mentor,
    withdrawal_reason,
)
from .repository import MatcherRepository

log = logging.getLogger(__name__)

# Mentors tried in ranking order when reserving: more than one because a concurrent
# process may take the best one's last slot between the read and the reservation.
CANDIDATES_TRIED = 20


@dataclass
class _FollowUps:
    """Work that a change makes possible for other people, done at the end of a unit."""

    mentees: list[tuple[str, str]] = field(default_factory=list)  # (programme, mentee)
    mentors: list[str] = field(default_factory=list)

    def mentee(self, programme_id: str, mentee_id: str) -> None:
        if (programme_id, mentee_id) not in self.mentees:
            self.mentees.append((programme_id, mentee_id))

    def mentor(self, mentor_id: str) -> None:
        if mentor_id not in self.mentors:
            self.mentors.append(mentor_id)


class Matcher:
    """The matcher's event handlers, bound to its policies and a clock."""

    def __init__(
        self,
        policies: PolicyBook,
        clock: Clock | None = None,
        directory: Directory | None = None,
    ) -> None:
        self.policies = policies
        self.clock: Clock = clock or SystemClock()
        self.directory = directory or Directory()
        # Mentees each mentor was ever proposed to, as last read: pairs are never proposed
        # twice, so this only grows and lets `reconcile` skip mentors with nobody new.
        self._proposed_to: dict[str, set[str]] = {}

    async def _begin(self, uow: UnitOfWork) -> MatcherRepository:
        """The unit's repository; what it writes is re-read into the directory after commit."""
        await self.directory.catch_up(uow.db)
        repo = MatcherRepository(uow.db, uow.session)

        def committed() -> None:
            self.directory.touch_mentors(repo.touched_mentors)
            self.directory.touch_mentees(repo.touched_mentees)

        uow.after_commit(committed)
        return repo

    async def handle(self, uow: UnitOfWork, event: CloudEvent[Any]) -> None:
        data = event.data
        repo = await self._begin(uow)
        if isinstance(data, ProfileUpserted):
            await self.profile_upserted(uow, repo, data)
        elif isinstance(data, ProfileDeleted):
            await self.profile_deleted(uow, repo, data.person_id)
        elif isinstance(data, MatchAccepted):
            await self.answered(uow, repo, data.match_id, data.person_id, accepted=True)
        elif isinstance(data, MatchDeclined):
            await self.answered(uow, repo, data.match_id, data.person_id, accepted=False)
        elif isinstance(data, MentorshipEnded):
            await self.mentorship_ended(uow, repo, data.mentorship_id)
        # Introduction answers share the responses topic; they are the network's concern.

    # --- profiles ---------------------------------------------------------------

    async def profile_upserted(
        self, uow: UnitOfWork, repo: MatcherRepository, profile: ProfileUpserted
    ) -> None:
        previous = await repo.person(profile.person_id)
        if previous is not None and previous.revision >= profile.revision:
            log.info("stale revision %d of %s ignored", profile.revision, profile.person_id)
            return
        current = Person.from_profile(profile)
        await repo.save_profile(profile, current, previous)
        follow = _FollowUps()
        if previous is not None:
            await self._recheck_open_proposals(uow, repo, current, follow)
        if current.is_mentee:
            for programme_id in sorted(current.programmes):
                seat = (
                    None if previous is None else await repo.seat(programme_id, profile.person_id)
                )
                if seeks_mentor(previous, current, programme_id, seat):
                    if seat is not Seat.WAITING:
                        await repo.wait_for_mentor(programme_id, profile, current, self._now(uow))
                    await self._propose_for(uow, repo, current, programme_id)
        if (
            previous is not None
            and previous.is_mentee
            and (not current.is_mentee or previous.programmes != current.programmes)
        ):
            await repo.leave_programmes(
                current.person_id, current.programmes if current.is_mentee else ()
            )
        if current.is_mentor:
            follow.mentor(current.person_id)
        await self._follow_up(uow, repo, follow)

    async def _recheck_open_proposals(
        self, uow: UnitOfWork, repo: MatcherRepository, person: Person, follow: _FollowUps
    ) -> None:
        """Withdraw open proposals the new profile no longer allows (paused, language,
        programme, time zone, role), freeing the other person."""
        for proposal in await repo.proposals_involving(person.person_id, (Status.OPEN,)):
            other_id = (
                proposal.mentor_id if proposal.mentee_id == person.person_id else proposal.mentee_id
            )
            other = await repo.person(other_id)
            if other is None:
                reason: str | None = "the other person left"
            else:
                mentee, mentor = (
                    (person, other) if proposal.mentee_id == person.person_id else (other, person)
                )
                policy = self.policies.for_programme(proposal.programme_id)
                reason = withdrawal_reason(mentee, mentor, proposal.programme_id, policy)
            if reason is not None:
                await self._withdraw(uow, repo, proposal, reason, follow)

    async def profile_deleted(
        self, uow: UnitOfWork, repo: MatcherRepository, person_id: str
    ) -> None:
        follow = _FollowUps()
        for proposal in await repo.proposals_involving(person_id, HOLDS_CAPACITY):
            if proposal.status is Status.OPEN:
                await self._withdraw(uow, repo, proposal, "a participant left", follow)
            elif await repo.close(
                proposal.match_id, (Status.STARTED,), Status.ENDED, self._now(uow)
            ):
                await self._free(uow, repo, proposal, follow, back_to=Seat.WAITING)
        await repo.forget_person(person_id)
        follow.mentees = [(p, m) for p, m in follow.mentees if m != person_id]
        follow.mentors = [m for m in follow.mentors if m != person_id]
        await self._follow_up(uow, repo, follow)

    # --- answers ----------------------------------------------------------------

    async def answered(
        self,
        uow: UnitOfWork,
        repo: MatcherRepository,
        match_id: str,
        person_id: str,
        *,
        accepted: bool,
    ) -> None:
        proposal = await repo.proposal(match_id)
        if proposal is None:
            # The proposal is not stored yet (or was erased): keep the answer for later.
            kind = "accept" if accepted else "decline"
            await repo.keep_early_answer(match_id, person_id, kind)
            return
        follow = _FollowUps()
        await self._apply_answer(uow, repo, proposal, person_id, accepted, follow)
        await self._follow_up(uow, repo, follow)

    async def _apply_answer(
        self,
        uow: UnitOfWork,
        repo: MatcherRepository,
        proposal: Proposal,
        person_id: str,
        accepted: bool,
        follow: _FollowUps,
    ) -> None:
        outcome = answer(proposal, person_id, accepted=accepted)
        if outcome is Outcome.IGNORED:
            return
        if person_id == proposal.mentor_id and person_id not in proposal.accepted_by:
            await repo.count_answer(proposal.mentor_id, accepted=accepted)
        if outcome is Outcome.DECLINED:
            if await repo.close(proposal.match_id, (Status.OPEN,), Status.DECLINED, self._now(uow)):
                await self._free(uow, repo, proposal, follow, back_to=Seat.WAITING)
            return
        updated = await repo.accept(proposal.match_id, person_id)
        if updated is None or answer(updated, person_id, accepted=True) is not Outcome.STARTED:
            return
        if await repo.close(proposal.match_id, (Status.OPEN,), Status.STARTED, self._now(uow)):
            await repo.move_seat(
                proposal.programme_id, proposal.mentee_id, proposal.match_id, Seat.MATCHED,
                self._now(uow),
            )  # fmt: skip
            uow.emit(
                MentorshipStarted(
                    mentorship_id=proposal.match_id,
                    programme_id=proposal.programme_id,
                    mentee_id=proposal.mentee_id,
                    mentor_id=proposal.mentor_id,
                ),
                discriminator=proposal.match_id,
            )

    async def mentorship_ended(
        self, uow: UnitOfWork, repo: MatcherRepository, mentorship_id: str
    ) -> None:
        proposal = await repo.proposal(mentorship_id)
        if proposal is None:
            await repo.keep_early_answer(mentorship_id, "", "end")
            return
        follow = _FollowUps()
        await self._apply_end(uow, repo, proposal, follow)
        await self._follow_up(uow, repo, follow)

    async def _apply_end(
        self, uow: UnitOfWork, repo: MatcherRepository, proposal: Proposal, follow: _FollowUps
    ) -> None:
        if end(proposal) is not Outcome.ENDED:
            return
        if await repo.close(proposal.match_id, HOLDS_CAPACITY, Status.ENDED, self._now(uow)):
            await self._free(uow, repo, proposal, follow, back_to=Seat.IDLE)

    # --- expiry -------------------------------------------------------------------

    async def expire_one(self, uow: UnitOfWork, match_id: str, now: datetime) -> bool:
        """Expire one due proposal (claimed atomically: only one process wins)."""
        repo = await self._begin(uow)
        proposal = await repo.proposal(match_id)
        if proposal is None or expire(proposal, now) is not Outcome.EXPIRED:
            return False
        if not await repo.close(match_id, (Status.OPEN,), Status.EXPIRED, now):
            return False
        if mentor_missed(proposal):
            await repo.count_answer(proposal.mentor_id, accepted=False)
        uow.emit(
            MatchExpired(
                match_id=proposal.match_id,
                programme_id=proposal.programme_id,
                mentee_id=proposal.mentee_id,
                mentor_id=proposal.mentor_id,
            ),
            discriminator=match_id,
        )
        follow = _FollowUps()
        await self._free(uow, repo, proposal, follow, back_to=Seat.WAITING)
        await self._follow_up(uow, repo, follow)
        return True

    # --- reconciliation ---------------------------------------------------------------

    async def reconcile(self, runtime: ServiceRuntime) -> int:
        """Offer mentors with room to waiting mentees they were never proposed to.

        Two units in different processes can miss each other: a mentee ranked before a
        new mentor's signup committed, while that signup looked for waiting mentees
        before the mentee's seat committed. Both are stored, so looking again later
        matches them. Returns how many mentors were offered."""
        offered = 0
        mentors = sorted(self.directory.mentors_with_room(), key=lambda m: m[0].person_id)
        for mentor, standing in mentors:
            waiting = self.directory.waiting(mentor.programmes, mentor.languages)
            policies = {p: self.policies.for_programme(p) for p in mentor.programmes}
            known = self._proposed_to.get(mentor.person_id, set())
            if not rank_waiting_mentees(
                mentor, standing, waiting, policies, blocked_mentees=known, limit=1
            ):
                continue

            async def work(uow: UnitOfWork, mentor_id: str = mentor.person_id) -> None:
                repo = await self._begin(uow)
                await self._offer_mentor(uow, repo, mentor_id)

            cause = derived_id("reconcile", mentor.person_id, uuid.uuid4().hex)
            if await runtime.run_once(cause, self.clock.now(), work):
                offered += 1
        return offered

    # --- shared moves ---------------------------------------------------------------

    def _now(self, uow: UnitOfWork) -> datetime:
        # Event time keeps replays reproducible; the clock stops a backlog of old events
        # from creating proposals that are already past their expiry.
        return max(uow.event_time, self.clock.now())

    async def _withdraw(
        self,
        uow: UnitOfWork,
        repo: MatcherRepository,
        proposal: Proposal,
        reason: str,
        follow: _FollowUps,
    ) -> None:
        if not await repo.close(
            proposal.match_id, (Status.OPEN,), Status.WITHDRAWN, self._now(uow)
        ):
            return
        uow.emit(
            MatchWithdrawn(
                match_id=proposal.match_id,
                programme_id=proposal.programme_id,
                mentee_id=proposal.mentee_id,
                mentor_id=proposal.mentor_id,
                reason=reason,
            ),
            discriminator=proposal.match_id,
        )
        await self._free(uow, repo, proposal, follow, back_to=Seat.WAITING)

    async def _free(
        self,
        uow: UnitOfWork,
        repo: MatcherRepository,
        proposal: Proposal,
        follow: _FollowUps,
        *,
        back_to: Seat,
    ) -> None:
        """A closed proposal gives the mentor's slot back and the mentee their seat."""
        await repo.release_mentor(proposal.mentor_id)
        moved = await repo.move_seat(
            proposal.programme_id, proposal.mentee_id, proposal.match_id, back_to, self._now(uow)
        )
        if moved and back_to is Seat.WAITING:
            follow.mentee(proposal.programme_id, proposal.mentee_id)
        follow.mentor(proposal.mentor_id)

    async def _follow_up(
        self, uow: UnitOfWork, repo: MatcherRepository, follow: _FollowUps
    ) -> None:
        """Propose to mentees put back in line first (they just lost a proposal), then
        offer the freed mentors to whoever still waits."""
        for programme_id, mentee_id in follow.mentees:
            found = await repo.person(mentee_id)
            if found is not None:
                await self._propose_for(uow, repo, found, programme_id)
        for mentor_id in follow.mentors:
            await self._offer_mentor(uow, repo, mentor_id)

    async def _propose_for(
        self, uow: UnitOfWork, repo: MatcherRepository, mentee: Person, programme_id: str
    ) -> bool:
        """Propose the best allowed mentor with room to a waiting mentee."""
        if not mentee.is_mentee or mentee.paused or programme_id not in mentee.programmes:
            return False
        policy = self.policies.for_programme(programme_id)
        candidates = self.directory.candidates(programme_id, mentee.languages)
        if not candidates:
            return False
        blocked = await repo.mentors_proposed_to(mentee.person_id)
        by_id = {m.person_id: (m, s) for m, s in candidates}
        ranked = rank_mentors(
            mentee,
            programme_id,
            candidates,
            policy,
            blocked_mentors=blocked,
            limit=CANDIDATES_TRIED,
        )
        for choice in ranked:
            mentor, standing = by_id[choice.mentor_id]
            if not await repo.reserve_mentor(mentor.person_id, mentor.capacity):
                continue  # the last slot went to someone else meanwhile: try the next one
            match_id = match_id_for(uow.cause_id, programme_id, mentee.person_id, choice.mentor_id)
            if not await repo.take_seat(programme_id, mentee.person_id, match_id):
                await repo.release_mentor(choice.mentor_id)
                return False  # not waiting any more: another proposal got there first
            await self._open(uow, repo, match_id, programme_id, mentee, mentor, standing)
            return True
        return False

    async def _offer_mentor(self, uow: UnitOfWork, repo: MatcherRepository, mentor_id: str) -> None:
        """Offer a mentor's free capacity to the best waiting mentees."""
        found = await repo.mentor(mentor_id)
        if found is None:
            return
        mentor, standing = found
        free = mentor.capacity - standing.load
        if not mentor.is_mentor or mentor.paused or free <= 0:
            return
        waiting = self.directory.waiting(mentor.programmes, mentor.languages)
        if not waiting:
            return
        policies = {p: self.policies.for_programme(p) for p in mentor.programmes}
        blocked = await repo.mentees_proposed_to(mentor_id)
        self._proposed_to[mentor_id] = set(blocked)
        # A few more than the free slots: the directory may list someone no longer waiting.
        chosen = rank_waiting_mentees(
            mentor, standing, waiting, policies, blocked_mentees=blocked,
            limit=free + CANDIDATES_TRIED,
        )  # fmt: skip
        for choice in chosen:
            if free <= 0:
                return
            mentee_id = choice.mentee.person_id
            match_id = match_id_for(uow.cause_id, choice.programme_id, mentee_id, mentor_id)
            if not await repo.reserve_mentor(mentor_id, mentor.capacity):
                return  # no room left after all
            if not await repo.take_seat(choice.programme_id, mentee_id, match_id):
                await repo.release_mentor(mentor_id)
                continue
            await self._open(
                uow, repo, match_id, choice.programme_id, choice.mentee, mentor, standing
            )
            blocked.add(mentee_id)
            standing = replace(standing, load=standing.load + 1)
            free -= 1

    async def _open(
        self,
        uow: UnitOfWork,
        repo: MatcherRepository,
        match_id: str,
        programme_id: str,
        mentee: Person,
        mentor: Person,
        standing: MentorStanding,
    ) -> None:
        policy = self.policies.for_programme(programme_id)
        pair = score_for_proposal(mentee, mentor, policy, standing)
        now = self._now(uow)
        event = proposal_event(match_id, programme_id, mentee, mentor, pair, now, policy)
        await repo.insert_proposal(
            {
                "_id": match_id,
                "programme_id": programme_id,
                "mentee_id": mentee.person_id,
                "mentor_id": mentor.person_id,
                "status": Status.OPEN.value,
                "accepted_by": [],
                "score": event.score,
                "reasons": event.reasons,
                "components": event.components,
                "opened_at": now,
                "expires_at": event.expires_at,
            }
        )
        uow.emit(event, discriminator=match_id)
        await self._apply_early_answers(uow, repo, match_id)

    async def _apply_early_answers(
        self, uow: UnitOfWork, repo: MatcherRepository, match_id: str
    ) -> None:
        early = await repo.take_early_answers(match_id)
        if not early:
            return
        follow = _FollowUps()
        # Declines and ends first: an answer that closes the proposal wins over acceptances.
        for person_id, kind in sorted(early, key=lambda a: a[1] == "accept"):
            proposal = await repo.proposal(match_id)
            if proposal is None:
                return
            if kind == "end":
                await self._apply_end(uow, repo, proposal, follow)
            else:
                accepted = kind == "accept"
                await self._apply_answer(uow, repo, proposal, person_id, accepted, follow)
        await self._follow_up(uow, repo, follow)
