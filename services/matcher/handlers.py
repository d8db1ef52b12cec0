"""The matcher's use cases, one thin handler per event type, and the dispatch table.

A signup, for example, walks each layer once:

    signed_up (here)                          what a profile change means
      -> Matching.propose / offer (matching)  the moves, for this unit of work
        -> DirectorySnapshot.rank (snapshot)  candidates allowed by every rule in
             MentorIndex.rank (ranking)       constraints.py, fully scored, best first,
                                              against one index built per batch
        -> Matching.open                      reserve -> take seat -> store -> emit
          -> MatcherStore (store)             conditional updates, documents built there
          -> unit.emit(MatchProposed)         published after the unit commits
      -> Matching.settle                      the follow-ups queued on the way

`MatcherHandlers` is what the runtime calls: it binds a store to the unit of work,
hands the event to its handler and settles the follow-ups. The units of one batch
share the store (`Stores.bound` gives the batch's, which answers from its cache and
writes in bulk before the commit) and the directory snapshot they rank against.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Generic, Protocol, TypeVar

from shared.clock import Clock, SystemClock
from shared.events import (
    CloudEvent,
    CohortMatchRequested,
    EventData,
    MatchAccepted,
    MatchDeclined,
    MentorshipEnded,
    ProfileDeleted,
    ProfileUpserted,
    SessionCompleted,
)

from .cohort_run import run_cohort
from .directory import Directory
from .matching import Matching, Unit
from .policy import PolicyBook
from .profiles import Person
from .proposals import HOLDS_CAPACITY, Proposal, Seat, Status, seeks_mentor, withdrawal_reason
from .snapshot import DirectorySnapshot
from .store import EarlyKind, MatcherStore

log = logging.getLogger(__name__)

U = TypeVar("U", bound=Unit)
U_contra = TypeVar("U_contra", bound=Unit, contravariant=True)


class Stores(Protocol[U_contra]):
    """Where the matcher's store comes from: bound to a unit of work, or unbound for
    reads outside one (the directory's polls, the expiry scan)."""

    def bound(self, unit: U_contra) -> MatcherStore: ...

    def unbound(self) -> MatcherStore: ...


# --- profiles ------------------------------------------------------------------------


async def signed_up(matching: Matching, profile: ProfileUpserted) -> None:
    """A signup or a profile change: store it, withdraw what it no longer allows, put the
    mentee in line and propose, offer a mentor's room."""
    store = matching.store
    previous = await store.person(profile.person_id)
    if previous is None and await store.is_erased("person", profile.person_id):
        return  # a late event about someone erased: they stay erased
    if previous is not None and previous.revision >= profile.revision:
        log.info("stale revision %d of %s ignored", profile.revision, profile.person_id)
        return
    current = Person.from_profile(profile)
    await store.save_profile(profile, current, previous)
    matching.profile_saved(previous, current)
    if previous is not None:
        await _withdraw_what_no_longer_holds(matching, current)
    if current.is_mentee:
        for programme_id in sorted(current.programmes):
            seat = None if previous is None else await store.seat(programme_id, current.person_id)
            if seeks_mentor(previous, current, programme_id, seat):
                if seat is not Seat.WAITING:
                    await store.wait_for_mentor(programme_id, profile, matching.now)
                await matching.propose(current, programme_id)
    if (
        previous is not None
        and previous.is_mentee
        and (not current.is_mentee or previous.programmes != current.programmes)
    ):
        await store.leave_programmes(
            current.person_id, current.programmes if current.is_mentee else ()
        )
    if current.is_mentor:
        matching.follow_ups.mentor(current.person_id)


async def _withdraw_what_no_longer_holds(matching: Matching, person: Person) -> None:
    """Open proposals the new profile no longer allows (paused, language, programme, time
    zone, role) are withdrawn, freeing the other person."""
    store = matching.store
    for proposal in await store.proposals_involving(person.person_id, (Status.OPEN,)):
        is_mentee = proposal.mentee_id == person.person_id
        other = await store.person(proposal.mentor_id if is_mentee else proposal.mentee_id)
        if other is None:
            reason: str | None = "the other person left"
        else:
            mentee, mentor = (person, other) if is_mentee else (other, person)
            policy = matching.policy(proposal.programme_id)
            reason = withdrawal_reason(mentee, mentor, proposal.programme_id, policy)
        if reason is not None:
            await matching.withdraw(proposal, reason)


async def left(matching: Matching, deleted: ProfileDeleted) -> None:
    """The person left: their open proposals are withdrawn, their mentorships end, and
    everything about them is erased."""
    store = matching.store
    for proposal in await store.proposals_involving(deleted.person_id, HOLDS_CAPACITY):
        if proposal.status is Status.OPEN:
            await matching.withdraw(proposal, "a participant left")
        elif await store.close(proposal.match_id, (Status.STARTED,), Status.ENDED, matching.now):
            await matching.free(proposal, back_to=Seat.WAITING)
    await store.forget_person(deleted.person_id)


# --- answers, ends and sessions ---------------------------------------------------------


async def _stored(
    matching: Matching, match_id: str, person_id: str, kind: EarlyKind
) -> Proposal | None:
    """The proposal an answer, end or session is about. When it is not stored (yet), the
    event is kept for when it appears, unless the proposal or the person was erased (then
    it would wait forever, holding an erased id)."""
    store = matching.store
    proposal = await store.proposal(match_id)
    if proposal is not None:
        return proposal
    if await store.is_erased("match", match_id):
        return None
    if person_id and await store.is_erased("person", person_id):
        return None
    await store.keep_early(match_id, person_id, kind)
    return None


async def accepted(matching: Matching, answer: MatchAccepted) -> None:
    if proposal := await _stored(matching, answer.match_id, answer.person_id, "accept"):
        await matching.answer(proposal, answer.person_id, accepted=True)


async def declined(matching: Matching, answer: MatchDeclined) -> None:
    if proposal := await _stored(matching, answer.match_id, answer.person_id, "decline"):
        await matching.answer(proposal, answer.person_id, accepted=False)


async def ended(matching: Matching, ending: MentorshipEnded) -> None:
    if proposal := await _stored(matching, ending.mentorship_id, "", "end"):
        await matching.end(proposal)


async def session_completed(matching: Matching, session: SessionCompleted) -> None:
    """A completed session counts in the mentor's responsiveness."""
    if proposal := await _stored(matching, session.mentorship_id, "", "session"):
        await matching.met(proposal)


# --- admin --------------------------------------------------------------------------------


async def cohort_requested(matching: Matching, request: CohortMatchRequested) -> None:
    await run_cohort(matching, request)


Handler = Callable[[Matching, Any], Awaitable[None]]

HANDLERS: Mapping[type[EventData], Handler] = {
    ProfileUpserted: signed_up,
    ProfileDeleted: left,
    MatchAccepted: accepted,
    MatchDeclined: declined,
    MentorshipEnded: ended,
    SessionCompleted: session_completed,
    CohortMatchRequested: cohort_requested,
}


class MatcherHandlers(Generic[U]):
    """The matcher as the runtime sees it: policies, the process's directory, a clock and
    where stores come from."""

    def __init__(
        self,
        policies: PolicyBook,
        stores: Stores[U],
        clock: Clock | None = None,
        directory: Directory | None = None,
    ) -> None:
        self.policies = policies
        self.stores = stores
        self.clock: Clock = clock or SystemClock()
        self.directory = directory or Directory()

    async def begin(self, unit: U) -> Matching:
        """The unit's matching service; what it writes is re-read into the directory
        after commit."""
        store = self.stores.bound(unit)
        await self.directory.catch_up(store)
        # One snapshot of the directory for the whole batch (see snapshot.py).
        snapshot = unit.batch.cached(
            (DirectorySnapshot, id(self)), lambda: DirectorySnapshot(self.directory)
        )

        def committed() -> None:
            self.directory.touch_mentors(store.touched_mentors)
            self.directory.touch_mentees(store.touched_mentees)

        unit.after_commit(committed)
        # Event time keeps replays reproducible; the clock stops a backlog of old events
        # from creating proposals that are already past their expiry.
        now = max(unit.event_time, self.clock.now())
        return Matching(unit, store, self.policies, snapshot, now)

    async def handle(self, unit: U, event: CloudEvent[Any]) -> None:
        handler = HANDLERS.get(type(event.data))
        if handler is None:
            return  # e.g. introduction answers share the responses topic: the network's
        matching = await self.begin(unit)
        await handler(matching, event.data)
        await matching.settle()
