"""What the matcher keeps, as the matching service sees it: people and mentors with
their standing, each mentee's seat per programme, proposals, answers that came
before their proposal, and tombstones of erased people and proposals.

MongoDB in the service (`repository.MongoMatcherStore`, bound to the unit of work's
session), memory in fast tests (`memory_store.MemoryMatcherStore`); one contract test
suite (`tests/matcher/test_store_contract.py`) runs against both.

Nothing is written read-then-write: capacity and seats are reserved with conditional
updates (`load < capacity`, `seat == waiting`). Inside the runtime's transaction a
concurrent writer of the same document gets a write conflict and is retried, so
concurrent matcher processes cannot over-book a mentor or give a mentee two proposals.
Writes to mentors and seats carry a `changed_at` stamp and are recorded in
`touched_mentors` / `touched_mentees`, so each process's `Directory` can take them in.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal, Protocol

from shared.documents import Document
from shared.events import ProfileUpserted

from .profiles import MentorStanding, Person
from .proposals import HOLDS_CAPACITY, FollowThrough, Proposal, Seat, Status
from .ranking import Candidate

# What can arrive before the proposal it is about: kept, then applied when it appears.
EarlyKind = Literal["accept", "decline", "end", "session"]
# What a tombstone stands for: an erased person, or a proposal erased with them.
ErasedKind = Literal["person", "match"]


@dataclass(frozen=True)
class MentorRecord:
    """A mentor as the directory mirrors them (the profile as stored, parsed lazily)."""

    mentor_id: str
    profile: Document
    standing: MentorStanding
    capacity: int


@dataclass(frozen=True)
class SeatRecord:
    """A mentee's seat in one programme, with the profile copy waiting lines rank on."""

    seat_id: str
    programme_id: str
    mentee_id: str
    seat: Seat
    profile: Document | None


class MatcherStore(Protocol):
    touched_mentors: set[str]
    touched_mentees: set[str]

    # --- people and mentors ---------------------------------------------------------

    async def person(self, person_id: str) -> Person | None: ...

    async def mentor(self, mentor_id: str) -> tuple[Person, MentorStanding] | None: ...

    async def mentors_in(self, programme_id: str) -> list[tuple[Person, MentorStanding]]:
        """Every mentor enrolled in the programme, with their standing."""

    async def save_profile(
        self, profile: ProfileUpserted, person: Person, previous: Person | None
    ) -> None:
        """Store the profile everywhere it is copied; the caller checked it is newer."""

    async def reserve_mentor(self, mentor_id: str, capacity: int) -> bool:
        """Take one unit of the mentor's capacity if any is left and the mentor is not
        paused, atomically. `capacity` is the one the caller ranked with: if it changed
        since, nothing is reserved."""

    async def release_mentor(self, mentor_id: str) -> None:
        """Give one unit of capacity back (never below zero)."""

    async def count_answer(self, mentor_id: str, *, accepted: bool) -> None: ...

    async def mark_follow_through(self, proposal: Proposal, to: FollowThrough) -> bool:
        """Move the proposal's follow-through from what `proposal` shows to `to`,
        atomically, and count the change in the mentor's standing; False if it moved
        meanwhile."""

    async def forget_person(self, person_id: str) -> None:
        """Erase the person: profile, standing, seats, their proposals and answers kept
        for later. Only tombstones (keyed one-way hashes) of the person and of their
        proposals stay, so late events about them are dropped. Their proposals must be
        closed first."""

    async def is_erased(self, kind: ErasedKind, ident: str) -> bool: ...

    # --- seats ------------------------------------------------------------------------

    async def seat(self, programme_id: str, mentee_id: str) -> Seat | None: ...

    async def wait_for_mentor(
        self, programme_id: str, profile: ProfileUpserted, at: datetime
    ) -> None:
        """Put the mentee in the waiting line of the programme."""

    async def take_seat(self, programme_id: str, mentee_id: str, match_id: str) -> bool:
        """Move a waiting mentee to `proposed`, atomically; False if not waiting."""

    async def move_seat(
        self, programme_id: str, mentee_id: str, match_id: str, seat: Seat, at: datetime
    ) -> bool:
        """Move the seat held by `match_id` (only that one) to `seat`."""

    async def leave_programmes(self, mentee_id: str, keep: Iterable[str]) -> None:
        """Drop the mentee's waiting or idle seats outside `keep`."""

    async def waiting_in(self, programme_id: str) -> list[Person]:
        """The mentees waiting in the programme, in id order."""

    # --- proposals --------------------------------------------------------------------

    async def open_proposal(
        self, match_id: str, candidate: Candidate, opened_at: datetime, expires_at: datetime
    ) -> None: ...

    async def proposal(self, match_id: str) -> Proposal | None: ...

    async def accept(self, match_id: str, person_id: str) -> Proposal | None:
        """Record one acceptance of an open proposal; the proposal afterwards."""

    async def close(
        self, match_id: str, from_statuses: Iterable[Status], to: Status, at: datetime
    ) -> bool:
        """Move the proposal to `to` if it is in one of `from_statuses`, atomically."""

    async def proposals_involving(
        self, person_id: str, statuses: Iterable[Status] = HOLDS_CAPACITY
    ) -> list[Proposal]:
        """The person's proposals in those statuses, in match id order."""

    async def mentors_proposed_to(self, mentee_id: str) -> set[str]:
        """Every mentor ever proposed to this mentee (in any programme, any status)."""

    async def mentees_proposed_to(self, mentor_id: str) -> set[str]: ...

    async def due(self, now: datetime, limit: int = 200) -> list[tuple[str, datetime]]:
        """Open proposals whose time is up, oldest first: (match_id, expires_at)."""

    # --- what came before its proposal --------------------------------------------------

    async def keep_early(self, match_id: str, person_id: str, kind: EarlyKind) -> None: ...

    async def take_early(self, match_id: str) -> list[tuple[str, EarlyKind]]:
        """(person_id, kind) kept for `match_id`, removed as they are taken."""

    # --- what the directory mirrors ------------------------------------------------------

    async def mentor_records(
        self, mentor_ids: Iterable[str] | None = None, changed_since: datetime | None = None
    ) -> list[MentorRecord]:
        """Mentors by id, or changed since a stamp, or all (both None)."""

    async def seat_records(
        self, mentee_ids: Iterable[str] | None = None, changed_since: datetime | None = None
    ) -> list[SeatRecord]:
        """Seats of these mentees, or changed since a stamp, or all (both None)."""


SEP = "\x1f"


def changed_now() -> datetime:
    """The stamp every write to mentors and seats carries (wall clock on purpose: it
    orders writes for the directory's poll, whatever clock the handlers were given)."""
    return datetime.now(UTC)


def seat_id(programme_id: str, mentee_id: str) -> str:
    return f"{programme_id}{SEP}{mentee_id}"


def waiting_seat(programme_id: str, profile: ProfileUpserted, at: datetime) -> Document:
    """The fields of a mentee's seat while they wait for a mentor (every store's)."""
    return {
        "programme_id": programme_id,
        "mentee_id": profile.person_id,
        "seat": Seat.WAITING.value,
        "match_id": None,
        "since": at,
        "profile": profile.model_dump(mode="json"),
        "changed_at": changed_now(),
    }


def proposal_document(
    match_id: str, candidate: Candidate, opened_at: datetime, expires_at: datetime
) -> Document:
    """How a proposal is stored, by either store."""
    return {
        "_id": match_id,
        "programme_id": candidate.programme_id,
        "mentee_id": candidate.mentee.person_id,
        "mentor_id": candidate.mentor.person_id,
        "status": Status.OPEN.value,
        "accepted_by": [],
        "score": round(candidate.score, 6),
        "reasons": list(candidate.reasons),
        "components": {name: round(share, 6) for name, share in candidate.components.items()},
        "opened_at": opened_at,
        "expires_at": expires_at,
        "follow_through": None,
    }


def proposal_from(doc: Document) -> Proposal:
    follow = doc.get("follow_through")
    return Proposal(
        match_id=doc["_id"],
        programme_id=doc["programme_id"],
        mentee_id=doc["mentee_id"],
        mentor_id=doc["mentor_id"],
        status=Status(doc["status"]),
        accepted_by=frozenset(doc.get("accepted_by", ())),
        expires_at=doc["expires_at"],
        follow_through=None if follow is None else FollowThrough(follow),
    )


def standing_from(doc: Document) -> MentorStanding:
    return MentorStanding(
        load=int(doc.get("load", 0)),
        accepted=int(doc.get("accepted", 0)),
        declined=int(doc.get("declined", 0)),
        met=int(doc.get("met", 0)),
        missed=int(doc.get("missed", 0)),
    )


def person_from(profile: Document) -> Person:
    # Our own copy, validated when the event arrived: no need to validate again.
    return Person.from_profile(ProfileUpserted.model_construct(**profile))


def seat_record(doc: Document) -> SeatRecord:
    return SeatRecord(
        seat_id=doc["_id"],
        programme_id=doc["programme_id"],
        mentee_id=doc["mentee_id"],
        seat=Seat(doc["seat"]),
        profile=doc.get("profile"),
    )


def mentor_record(doc: Document) -> MentorRecord:
    return MentorRecord(doc["_id"], doc["profile"], standing_from(doc), int(doc["capacity"]))
