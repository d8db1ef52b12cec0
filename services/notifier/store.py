"""What the notifier keeps, as the workflow sees it: facts, timers, send logs and
the nudges sent. MongoDB in the service (`repository.MongoNotifierStore`), memory in
the simulator and in tests (`memory_store.MemoryNotifierStore`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from .engine import Nudge, Timer
from .facts import MentorshipFacts, PersonFacts, ProposalFacts


class NotifierStore(Protocol):
    async def read_ahead(
        self, subjects: Sequence[str], people: Sequence[str], tombstones: Sequence[str]
    ) -> None:
        """Read at once what applying a batch of events will look at: the facts and
        timers of these subjects (`facts.subject_key`), these people's documents and
        these tombstones. What the store reads one at a time otherwise; a store in
        memory has nothing to do."""

    async def erased_at(self, tombstones: Sequence[str]) -> datetime | None:
        """The latest time recorded under any of these tombstones, if any."""

    async def forget(self, person_id: str, tombstone: str, at: datetime) -> None:
        """Delete the person's zone facts, send log, lease, every timer and nudge record
        naming them, and keep only `tombstone` (a keyed one-way name of the person,
        `shared.erasure`) with the time."""

    async def mentorship(self, mentorship_id: str) -> MentorshipFacts | None: ...

    async def mentorships_of(self, person_id: str) -> list[MentorshipFacts]:
        """The mentorships whose facts name the person (`MentorshipFacts.named`)."""

    async def save_mentorship(self, facts: MentorshipFacts) -> None: ...

    async def proposal(self, match_id: str) -> ProposalFacts | None: ...

    async def proposals_of(self, person_id: str) -> list[ProposalFacts]:
        """The proposals whose facts name the person (`ProposalFacts.named`)."""

    async def save_proposal(self, facts: ProposalFacts) -> None: ...

    async def person(self, person_id: str) -> PersonFacts | None: ...

    async def save_person(self, facts: PersonFacts) -> None: ...

    async def subject_timers(self, subject: str) -> list[Timer]:
        """Every stored timer about one subject (its typed key: `facts.subject_key`), in any
        state."""

    async def add_timers(self, timers: Sequence[Timer]) -> None:
        """Store the timers whose id is not stored yet; leave the others untouched."""

    async def remove_timers(self, timer_ids: Sequence[str]) -> None: ...

    async def save_timers(self, timers: Sequence[Timer]) -> None:
        """Replace stored timers by id."""

    async def timers_at(self, recipient: str, at: datetime) -> list[Timer]:
        """The recipient's pending timers to be looked at exactly at `at`."""

    async def sent_log(self, recipient: str) -> list[datetime]: ...

    async def save_sent_log(self, recipient: str, sent: Sequence[datetime]) -> None: ...

    async def record_nudges(self, nudges: Sequence[Nudge]) -> None: ...
