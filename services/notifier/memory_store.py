"""The notifier's state in memory: for the simulator and for unit tests."""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from datetime import datetime

from .engine import Nudge, Timer
from .facts import MentorshipFacts, PersonFacts, ProposalFacts


class MemoryNotifierStore:
    def __init__(self) -> None:
        self.mentorships: dict[str, MentorshipFacts] = {}
        self.proposals: dict[str, ProposalFacts] = {}
        self.people: dict[str, PersonFacts] = {}
        self.timers: dict[str, Timer] = {}
        self.sent: dict[str, list[datetime]] = {}
        self.nudges: dict[str, Nudge] = {}
        self.tombstones: dict[str, datetime] = {}
        # (at, recipient, timer id) of pending timers; stale entries are skipped on pop.
        self._queue: list[tuple[datetime, str, str]] = []
        self._by_subject: dict[str, set[str]] = {}
        self._by_recipient: dict[str, set[str]] = {}

    # --- the NotifierStore protocol ------------------------------------------------

    async def read_ahead(
        self, subjects: Sequence[str], people: Sequence[str], tombstones: Sequence[str]
    ) -> None:
        return None

    async def erased_at(self, tombstones: Sequence[str]) -> datetime | None:
        times = [self.tombstones.get(key) for key in tombstones]
        return max((t for t in times if t is not None), default=None)

    async def forget(self, person_id: str, tombstone: str, at: datetime) -> None:
        self.tombstones[tombstone] = max(at, self.tombstones.get(tombstone, at))
        self.people.pop(person_id, None)
        self.sent.pop(person_id, None)
        await self.remove_timers([t.id for t in self.timers.values() if person_id in t.people])
        for nudge_id in [n for n, nudge in self.nudges.items() if person_id in nudge.people]:
            del self.nudges[nudge_id]

    async def mentorship(self, mentorship_id: str) -> MentorshipFacts | None:
        return self.mentorships.get(mentorship_id)

    async def mentorships_of(self, person_id: str) -> list[MentorshipFacts]:
        return [m for m in self.mentorships.values() if person_id in m.named]

    async def save_mentorship(self, facts: MentorshipFacts) -> None:
        self.mentorships[facts.id] = facts

    async def proposal(self, match_id: str) -> ProposalFacts | None:
        return self.proposals.get(match_id)

    async def proposals_of(self, person_id: str) -> list[ProposalFacts]:
        return [p for p in self.proposals.values() if person_id in p.named]

    async def save_proposal(self, facts: ProposalFacts) -> None:
        self.proposals[facts.id] = facts

    async def person(self, person_id: str) -> PersonFacts | None:
        return self.people.get(person_id)

    async def save_person(self, facts: PersonFacts) -> None:
        self.people[facts.id] = facts

    async def subject_timers(self, subject: str) -> list[Timer]:
        return [self.timers[i] for i in sorted(self._by_subject.get(subject, ()))]

    async def add_timers(self, timers: Sequence[Timer]) -> None:
        await self.save_timers([t for t in timers if t.id not in self.timers])

    async def remove_timers(self, timer_ids: Sequence[str]) -> None:
        for timer_id in timer_ids:
            timer = self.timers.pop(timer_id, None)
            if timer is not None:
                self._by_subject[timer.subject].discard(timer_id)
                self._by_recipient[timer.recipient].discard(timer_id)

    async def save_timers(self, timers: Sequence[Timer]) -> None:
        for timer in timers:
            self.timers[timer.id] = timer
            self._by_subject.setdefault(timer.subject, set()).add(timer.id)
            self._by_recipient.setdefault(timer.recipient, set()).add(timer.id)
            if timer.state == "pending":
                heapq.heappush(self._queue, (timer.at, timer.recipient, timer.id))

    async def timers_at(self, recipient: str, at: datetime) -> list[Timer]:
        mine = (self.timers[i] for i in sorted(self._by_recipient.get(recipient, ())))
        return [t for t in mine if t.state == "pending" and t.at == at]

    async def sent_log(self, recipient: str) -> list[datetime]:
        return list(self.sent.get(recipient, []))

    async def save_sent_log(self, recipient: str, sent: Sequence[datetime]) -> None:
        self.sent[recipient] = list(sent)

    async def record_nudges(self, nudges: Sequence[Nudge]) -> None:
        for nudge in nudges:
            self.nudges[nudge.data.nudge_id] = nudge

    # --- for the simulator ------------------------------------------------------------

    def next_due(self) -> tuple[datetime, str] | None:
        """The earliest (instant, recipient) with a pending timer."""
        while self._queue:
            at, recipient, timer_id = self._queue[0]
            timer = self.timers.get(timer_id)
            if timer is not None and timer.state == "pending" and timer.at == at:
                return at, recipient
            heapq.heappop(self._queue)
        return None
