"""The matcher's state in memory (`store.MatcherStore`): for fast tests.

It keeps the same documents as `repository.MongoMatcherStore`, collection by
collection, so the shared contract tests and the erasure scan read both the same way.
A `MemoryDatabase` holds the documents; each unit of work gets its own
`MemoryMatcherStore` over it (its own `touched_*` sets), like a Mongo store bound to a
session. A stored document is never changed in place (a write stores a new one), so a
snapshot for rolling a unit back is a copy of each collection's map, not of every
document.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from shared.documents import Document
from shared.erasure import Pseudonyms
from shared.events import ProfileUpserted

from .profiles import MentorStanding, Person
from .proposals import HOLDS_CAPACITY, FollowThrough, Proposal, Seat, Status
from .ranking import Candidate
from .store import (
    SEP,
    EarlyKind,
    ErasedKind,
    MentorRecord,
    SeatRecord,
    changed_now,
    mentor_record,
    person_from,
    proposal_document,
    proposal_from,
    seat_id,
    seat_record,
    standing_from,
    waiting_seat,
)

COLLECTIONS = ("people", "mentors", "seats", "proposals", "early_answers", "erased")


class MemoryDatabase:
    """Documents by collection and id."""

    def __init__(self) -> None:
        self.collections: dict[str, dict[str, Document]] = {name: {} for name in COLLECTIONS}

    def snapshot(self) -> dict[str, dict[str, Document]]:
        return {name: dict(docs) for name, docs in self.collections.items()}

    def restore(self, snapshot: dict[str, dict[str, Document]]) -> None:
        self.collections = snapshot


class MemoryMatcherStore:
    def __init__(self, db: MemoryDatabase, pseudonyms: Pseudonyms) -> None:
        self._db = db
        self._pseudonyms = pseudonyms
        self.touched_mentors: set[str] = set()
        self.touched_mentees: set[str] = set()

    def _c(self, name: str) -> dict[str, Document]:
        return self._db.collections[name]

    def _where(self, name: str, test: Callable[[Document], bool]) -> list[Document]:
        return [doc for doc in self._c(name).values() if test(doc)]

    def _change(self, name: str, key: str, **fields: Any) -> None:
        """Store a new version of the document with `fields` set."""
        docs = self._c(name)
        docs[key] = {**docs[key], **fields}

    # --- people and mentors ------------------------------------------------------

    async def person(self, person_id: str) -> Person | None:
        doc = self._c("people").get(person_id)
        return person_from(doc["profile"]) if doc else None

    async def mentor(self, mentor_id: str) -> tuple[Person, MentorStanding] | None:
        doc = self._c("mentors").get(mentor_id)
        return (person_from(doc["profile"]), standing_from(doc)) if doc else None

    async def mentors_in(self, programme_id: str) -> list[tuple[Person, MentorStanding]]:
        docs = self._where("mentors", lambda d: programme_id in d["profile"]["programmes"])
        found = [(person_from(doc["profile"]), standing_from(doc)) for doc in docs]
        return sorted(found, key=lambda m: m[0].person_id)

    async def save_profile(
        self, profile: ProfileUpserted, person: Person, previous: Person | None
    ) -> None:
        dumped = profile.model_dump(mode="json")
        self._c("people")[profile.person_id] = {
            "_id": profile.person_id,
            "profile": dumped,
            "revision": profile.revision,
        }
        summary = {"profile": dumped, "changed_at": changed_now()}
        mentors = self._c("mentors")
        if person.is_mentor:
            counts = {"load": 0, "accepted": 0, "declined": 0, "met": 0, "missed": 0}
            mentors.setdefault(profile.person_id, {"_id": profile.person_id, **counts})
            self._change("mentors", profile.person_id, **summary, capacity=person.capacity)
            self.touched_mentors.add(profile.person_id)
        elif previous is not None and previous.is_mentor:
            if profile.person_id in mentors:
                self._change("mentors", profile.person_id, **summary, capacity=0)
            self.touched_mentors.add(profile.person_id)
        if previous is not None:
            for doc in self._where("seats", lambda d: d["mentee_id"] == profile.person_id):
                self._change("seats", doc["_id"], **summary)
            self.touched_mentees.add(profile.person_id)

    async def reserve_mentor(self, mentor_id: str, capacity: int) -> bool:
        self.touched_mentors.add(mentor_id)
        doc = self._c("mentors").get(mentor_id)
        if doc is None or doc["capacity"] != capacity or doc["profile"]["paused"]:
            return False
        if doc["load"] >= capacity:
            return False
        self._change("mentors", mentor_id, load=doc["load"] + 1, changed_at=changed_now())
        return True

    async def release_mentor(self, mentor_id: str) -> None:
        self.touched_mentors.add(mentor_id)
        doc = self._c("mentors").get(mentor_id)
        if doc is not None and doc["load"] > 0:
            self._change("mentors", mentor_id, load=doc["load"] - 1, changed_at=changed_now())

    async def count_answer(self, mentor_id: str, *, accepted: bool) -> None:
        self._count(mentor_id, {"accepted" if accepted else "declined": 1})

    async def mark_follow_through(self, proposal: Proposal, to: FollowThrough) -> bool:
        was = proposal.follow_through
        doc = self._c("proposals").get(proposal.match_id)
        if doc is None or doc["follow_through"] != (None if was is None else was.value):
            return False
        self._change("proposals", proposal.match_id, follow_through=to.value)
        change = {to.value: 1}
        if was is not None:
            change[was.value] = -1
        self._count(proposal.mentor_id, change)
        return True

    def _count(self, mentor_id: str, change: dict[str, int]) -> None:
        self.touched_mentors.add(mentor_id)
        doc = self._c("mentors").get(mentor_id)
        if doc is not None:
            counts = {key: doc.get(key, 0) + delta for key, delta in change.items()}
            self._change("mentors", mentor_id, **counts, changed_at=changed_now())

    async def forget_person(self, person_id: str) -> None:
        proposals = self._c("proposals")
        matches = sorted(
            key for key, d in proposals.items() if person_id in (d["mentee_id"], d["mentor_id"])
        )
        for kind, ident in [("person", person_id), *(("match", m) for m in matches)]:
            key = self._pseudonyms.tombstone(kind, ident)
            self._c("erased")[key] = {"_id": key, "kind": kind}
        self._c("people").pop(person_id, None)
        self._c("mentors").pop(person_id, None)
        for doc in self._where("seats", lambda d: d["mentee_id"] == person_id):
            del self._c("seats")[doc["_id"]]
        for match_id in matches:
            del proposals[match_id]
        gone = set(matches)
        for doc in self._where(
            "early_answers", lambda d: d["person_id"] == person_id or d["match_id"] in gone
        ):
            del self._c("early_answers")[doc["_id"]]
        self.touched_mentors.add(person_id)
        self.touched_mentees.add(person_id)

    async def is_erased(self, kind: ErasedKind, ident: str) -> bool:
        return self._pseudonyms.tombstone(kind, ident) in self._c("erased")

    # --- seats ------------------------------------------------------------------

    async def seat(self, programme_id: str, mentee_id: str) -> Seat | None:
        doc = self._c("seats").get(seat_id(programme_id, mentee_id))
        return Seat(doc["seat"]) if doc else None

    async def wait_for_mentor(
        self, programme_id: str, profile: ProfileUpserted, at: datetime
    ) -> None:
        key = seat_id(programme_id, profile.person_id)
        self._c("seats").setdefault(key, {"_id": key})
        self._change("seats", key, **waiting_seat(programme_id, profile, at))
        self.touched_mentees.add(profile.person_id)

    async def take_seat(self, programme_id: str, mentee_id: str, match_id: str) -> bool:
        self.touched_mentees.add(mentee_id)
        key = seat_id(programme_id, mentee_id)
        doc = self._c("seats").get(key)
        if doc is None or doc["seat"] != Seat.WAITING.value:
            return False
        self._change(
            "seats", key, seat=Seat.PROPOSED.value, match_id=match_id, changed_at=changed_now()
        )
        return True

    async def move_seat(
        self, programme_id: str, mentee_id: str, match_id: str, seat: Seat, at: datetime
    ) -> bool:
        self.touched_mentees.add(mentee_id)
        key = seat_id(programme_id, mentee_id)
        doc = self._c("seats").get(key)
        if doc is None or doc.get("match_id") != match_id:
            return False
        self._change("seats", key, seat=seat.value, since=at, changed_at=changed_now())
        return True

    async def leave_programmes(self, mentee_id: str, keep: Iterable[str]) -> None:
        kept = set(keep)
        loose = (Seat.WAITING.value, Seat.IDLE.value)
        for doc in self._where(
            "seats",
            lambda d: (
                d["mentee_id"] == mentee_id and d["programme_id"] not in kept and d["seat"] in loose
            ),
        ):
            del self._c("seats")[doc["_id"]]
        self.touched_mentees.add(mentee_id)

    async def waiting_in(self, programme_id: str) -> list[Person]:
        docs = self._where(
            "seats",
            lambda d: d["programme_id"] == programme_id and d["seat"] == Seat.WAITING.value,
        )
        return sorted((person_from(d["profile"]) for d in docs), key=lambda p: p.person_id)

    # --- proposals ----------------------------------------------------------------

    async def open_proposal(
        self, match_id: str, candidate: Candidate, opened_at: datetime, expires_at: datetime
    ) -> None:
        if match_id in self._c("proposals"):
            raise KeyError(f"duplicate proposal {match_id}")
        self._c("proposals")[match_id] = proposal_document(
            match_id, candidate, opened_at, expires_at
        )

    async def proposal(self, match_id: str) -> Proposal | None:
        doc = self._c("proposals").get(match_id)
        return proposal_from(doc) if doc else None

    async def accept(self, match_id: str, person_id: str) -> Proposal | None:
        doc = self._c("proposals").get(match_id)
        if doc is None or doc["status"] != Status.OPEN.value:
            return await self.proposal(match_id)
        if person_id not in doc["accepted_by"]:
            self._change("proposals", match_id, accepted_by=[*doc["accepted_by"], person_id])
        return await self.proposal(match_id)

    async def close(
        self, match_id: str, from_statuses: Iterable[Status], to: Status, at: datetime
    ) -> bool:
        doc = self._c("proposals").get(match_id)
        if doc is None or doc["status"] not in {s.value for s in from_statuses}:
            return False
        self._change("proposals", match_id, status=to.value, closed_at=at)
        return True

    async def proposals_involving(
        self, person_id: str, statuses: Iterable[Status] = HOLDS_CAPACITY
    ) -> list[Proposal]:
        wanted = {s.value for s in statuses}
        docs = self._where(
            "proposals",
            lambda d: person_id in (d["mentee_id"], d["mentor_id"]) and d["status"] in wanted,
        )
        return [proposal_from(d) for d in sorted(docs, key=lambda d: str(d["_id"]))]

    async def mentors_proposed_to(self, mentee_id: str) -> set[str]:
        return {
            d["mentor_id"] for d in self._where("proposals", lambda d: d["mentee_id"] == mentee_id)
        }

    async def mentees_proposed_to(self, mentor_id: str) -> set[str]:
        return {
            d["mentee_id"] for d in self._where("proposals", lambda d: d["mentor_id"] == mentor_id)
        }

    async def due(self, now: datetime, limit: int = 200) -> list[tuple[str, datetime]]:
        docs = self._where(
            "proposals", lambda d: d["status"] == Status.OPEN.value and d["expires_at"] <= now
        )
        docs.sort(key=lambda d: (d["expires_at"], d["_id"]))
        return [(d["_id"], d["expires_at"]) for d in docs[:limit]]

    # --- what came before its proposal ----------------------------------------------

    async def keep_early(self, match_id: str, person_id: str, kind: EarlyKind) -> None:
        key = f"{match_id}{SEP}{person_id}{SEP}{kind}"
        self._c("early_answers")[key] = {
            "_id": key,
            "match_id": match_id,
            "person_id": person_id,
            "kind": kind,
        }

    async def take_early(self, match_id: str) -> list[tuple[str, EarlyKind]]:
        docs = self._where("early_answers", lambda d: d["match_id"] == match_id)
        for doc in docs:
            del self._c("early_answers")[doc["_id"]]
        return sorted((d["person_id"], d["kind"]) for d in docs)

    # --- what the directory mirrors ------------------------------------------------------

    async def mentor_records(
        self, mentor_ids: Iterable[str] | None = None, changed_since: datetime | None = None
    ) -> list[MentorRecord]:
        docs = _select(self._c("mentors").values(), "_id", mentor_ids, changed_since)
        return [mentor_record(d) for d in docs]

    async def seat_records(
        self, mentee_ids: Iterable[str] | None = None, changed_since: datetime | None = None
    ) -> list[SeatRecord]:
        docs = _select(self._c("seats").values(), "mentee_id", mentee_ids, changed_since)
        return [seat_record(d) for d in docs]


def _select(
    docs: Iterable[Document], key: str, ids: Iterable[str] | None, since: datetime | None
) -> list[Document]:
    wanted: Any = None if ids is None else set(ids)
    return [
        d
        for d in docs
        if (wanted is None or d[key] in wanted) and (since is None or d["changed_at"] >= since)
    ]


class MemoryStores:
    """`handlers.Stores` over one memory database: every unit sees the same documents."""

    def __init__(self, db: MemoryDatabase, pseudonyms: Pseudonyms) -> None:
        self.db = db
        self.pseudonyms = pseudonyms

    def bound(self, unit: object) -> MemoryMatcherStore:
        return MemoryMatcherStore(self.db, self.pseudonyms)

    def unbound(self) -> MemoryMatcherStore:
        return MemoryMatcherStore(self.db, self.pseudonyms)
