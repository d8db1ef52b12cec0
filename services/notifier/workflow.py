"""Applying events and settling due timers against a store: the one sequence of
steps that both the service (inside its Mongo transactions) and the simulator (in
memory) follow, so they cannot disagree."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from shared.erasure import Pseudonyms
from shared.events import (
    CloudEvent,
    EventData,
    FeedbackSubmitted,
    GoalCheckedIn,
    MatchAccepted,
    MatchDeclined,
    MatchExpired,
    MatchProposed,
    MatchWithdrawn,
    MentorshipEnded,
    MentorshipStarted,
    ProfileDeleted,
    ProfileUpserted,
    SessionCancelled,
    SessionCompleted,
    SessionScheduled,
)

from .engine import (
    Settlement,
    Subject,
    Timer,
    mentorship_timers,
    plan_timers,
    proposal_timers,
    settle,
)
from .facts import (
    MentorshipFacts,
    PersonFacts,
    ProposalFacts,
    instant,
    parse_subject_key,
    people_named,
    record_activity,
    record_profile,
    record_proposal,
    subject_key,
)
from .rulebooks import RuleBooks
from .store import NotifierStore

MENTORSHIP_EVENTS = (
    MentorshipStarted,
    MentorshipEnded,
    SessionScheduled,
    SessionCompleted,
    SessionCancelled,
    FeedbackSubmitted,
    GoalCheckedIn,
)
PROPOSAL_EVENTS = (MatchProposed, MatchAccepted, MatchDeclined, MatchExpired, MatchWithdrawn)


class NothingToSettle(Exception):
    """The timer a settlement was asked for is no longer pending at that instant."""


class Notifier:
    """The notifier's behaviour, independent of where its state lives. `pseudonyms`
    name erased people in tombstones (`shared.erasure`), never by their id."""

    def __init__(self, books: RuleBooks, pseudonyms: Pseudonyms) -> None:
        self.books = books
        self.pseudonyms = pseudonyms

    def _tombstone(self, person_id: str) -> str:
        return self.pseudonyms.tombstone("person", person_id)

    async def read_ahead(self, store: NotifierStore, events: Sequence[CloudEvent[Any]]) -> None:
        """Let the store read at once what absorbing `events` will look at."""
        subjects: list[str] = []
        profiles: list[str] = []
        named: list[str] = []
        for event in events:
            data = event.data
            if isinstance(data, MENTORSHIP_EVENTS):
                subjects.append(subject_key("mentorship", data.mentorship_id))
            elif isinstance(data, PROPOSAL_EVENTS):
                subjects.append(subject_key("proposal", data.match_id))
            elif isinstance(data, ProfileUpserted):
                profiles.append(data.person_id)
                named.append(data.person_id)
            named.extend(people_named(data))
        tombstones = [self._tombstone(p) for p in dict.fromkeys(named)]
        await store.read_ahead(subjects, profiles, tombstones)

    async def absorb(self, store: NotifierStore, event: CloudEvent[Any]) -> None:
        """Add one event to the facts and bring the affected timers up to date."""
        absorb = ABSORBS.get(type(event.data))
        # Introductions and nudges are not the notifier's concern.
        if absorb is not None:
            await absorb(self, store, event, instant(event.time))

    async def _profile(self, store: NotifierStore, event: CloudEvent[Any], at: datetime) -> None:
        data = event.data
        if not await self._erased_after(store, (data.person_id,), at):
            person = await store.person(data.person_id) or PersonFacts(id=data.person_id)
            await store.save_person(record_profile(person, data, at))

    async def _deleted(self, store: NotifierStore, event: CloudEvent[Any], at: datetime) -> None:
        await self.erase(store, event.data.person_id, at)

    async def _erased_after(
        self, store: NotifierStore, people: tuple[str, ...], at: datetime
    ) -> bool:
        """Whether any of `people` was erased at or after `at`: an event about them
        from before their erasure, arriving late, must not bring them back."""
        erased = await store.erased_at([self._tombstone(p) for p in people])
        return erased is not None and erased >= at

    async def _names_someone_gone(
        self, store: NotifierStore, people: tuple[str, ...], at: datetime
    ) -> bool:
        """Whether an event about `people` at `at` names someone erased who has not
        signed up again since. Later than the erasure is not enough: another service
        may stamp an event with its own clock after the deletion, having decided it
        before it applied the deletion (a matcher's proposal to a mentor who just left).
        Only a profile newer than the erasure brings a person back."""
        if await self._erased_after(store, people, at):
            return True
        for person_id in people:
            erased = await store.erased_at([self._tombstone(person_id)])
            if erased is not None and await store.person(person_id) is None:
                return True
        return False

    async def _mentorship_event(
        self, store: NotifierStore, event: CloudEvent[Any], at: datetime
    ) -> None:
        data = event.data
        facts = await store.mentorship(data.mentorship_id) or MentorshipFacts(id=data.mentorship_id)
        if facts.purged:
            return
        if await self._names_someone_gone(store, people_named(data), at):
            await self._purge_mentorship(store, facts)
            return
        facts = record_activity(facts, data, at)
        await store.save_mentorship(facts)
        book = self.books.for_programme(facts.programme_id)
        await self._reconcile(store, facts.key, facts, mentorship_timers(facts, book))

    async def _proposal_event(
        self, store: NotifierStore, event: CloudEvent[Any], at: datetime
    ) -> None:
        data = event.data
        facts = await store.proposal(data.match_id) or ProposalFacts(id=data.match_id)
        if facts.purged:
            return
        if await self._names_someone_gone(store, people_named(data), at):
            await self._purge_proposal(store, facts)
            return
        facts = record_proposal(facts, data, at)
        await store.save_proposal(facts)
        book = self.books.for_programme(facts.programme_id)
        await self._reconcile(store, facts.key, facts, proposal_timers(facts, book))

    async def _reconcile(
        self,
        store: NotifierStore,
        key: str,
        subject: Subject | None,
        candidates: list[Timer],
    ) -> None:
        """Bring the stored timers of the subject with typed `key` in line with its facts
        (a proposal's key never names its mentorship's timers, nor the reverse)."""
        existing = {t.id: t for t in await store.subject_timers(key)}
        plan = plan_timers(candidates, existing, subject)
        if plan.remove:
            await store.remove_timers(plan.remove)
        if plan.replace:
            await store.save_timers(plan.replace)
        if plan.add:
            await store.add_timers(plan.add)

    async def erase(self, store: NotifierStore, person_id: str, at: datetime) -> None:
        """`profile.deleted`: the person's mentorships and proposals are forgotten (their
        ids stay, marked purged, so late events about them are dropped), and so is
        everything else naming them."""
        for mentorship in await store.mentorships_of(person_id):
            await self._purge_mentorship(store, mentorship)
        for proposal in await store.proposals_of(person_id):
            await self._purge_proposal(store, proposal)
        await store.forget(person_id, self._tombstone(person_id), at)

    async def _purge_mentorship(self, store: NotifierStore, facts: MentorshipFacts) -> None:
        """Forget the mentorship but for its id, marked purged (late events about it are
        then dropped), and its pending timers."""
        await store.save_mentorship(MentorshipFacts(id=facts.id, purged=True))
        await self._reconcile(store, facts.key, None, [])

    async def _purge_proposal(self, store: NotifierStore, facts: ProposalFacts) -> None:
        await store.save_proposal(ProposalFacts(id=facts.id, purged=True))
        await self._reconcile(store, facts.key, None, [])

    async def settle(
        self, store: NotifierStore, recipient: str, at: datetime, *, first: str | None = None
    ) -> Settlement:
        """Look at the recipient's pending timers due at exactly `at`. The settlement's
        nudges are to be published (they are recorded in the store already). With
        `first`, raise `NothingToSettle` unless that timer is among them."""
        at = instant(at)
        timers = await store.timers_at(recipient, at)
        if first is not None and all(t.id != first for t in timers):
            raise NothingToSettle(first)
        if not timers:
            return Settlement()
        subjects: dict[str, Subject] = {}
        for key in sorted({t.subject for t in timers}):
            kind, ident = parse_subject_key(key)
            found: Subject | None
            if kind == "proposal":
                found = await store.proposal(ident)
            else:
                found = await store.mentorship(ident)
            if found is not None:
                subjects[key] = found
        outcome = settle(
            at,
            timers,
            await store.sent_log(recipient),
            await store.person(recipient),
            subjects,
            self.books.for_programme,
        )
        await store.save_timers(outcome.changed)
        if outcome.follow_ups:
            await store.add_timers(outcome.follow_ups)
        if outcome.nudges:
            await store.save_sent_log(recipient, outcome.sent_log)
            await store.record_nudges(outcome.nudges)
        return outcome


Absorb = Callable[[Notifier, NotifierStore, CloudEvent[Any], datetime], Awaitable[None]]

# What the notifier does with each event it reads; its input topics come from here.
ABSORBS: Mapping[type[EventData], Absorb] = {
    ProfileUpserted: Notifier._profile,
    ProfileDeleted: Notifier._deleted,
    **{kind: Notifier._mentorship_event for kind in MENTORSHIP_EVENTS},
    **{kind: Notifier._proposal_event for kind in PROPOSAL_EVENTS},
}
