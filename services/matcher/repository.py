"""The matcher's state in MongoDB.

Collections:
- `people`: the latest profile of each person (revision order, lookups by id).
- `mentors`: one per mentor: a copy of the profile, the `load` (open + started
  proposals, across programmes) and answer counts (responsiveness).
- `seats`: one per (programme, mentee): where the mentee stands (see `proposals.Seat`),
  with a copy of the mentee's profile for the directory's waiting lines.
- `proposals`: every proposal with its status; the pair history that forbids repeats.
- `early_answers`: answers to proposals not stored (yet), applied when they appear.

Nothing is written read-then-write: capacity and seats are reserved with conditional
updates (`load < capacity`, `seat == waiting`). Inside the runtime's transaction a
concurrent writer of the same document gets a write conflict and is retried, so
concurrent matcher processes cannot over-book a mentor or give a mentee two proposals.
Writes to `mentors` and `seats` carry a `changed_at` stamp and are recorded in
`touched_*`, so each process's `Directory` can take them in.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

from shared.events import ProfileUpserted

from .directory import changed_now
from .profiles import MentorStanding, Person
from .proposals import HOLDS_CAPACITY, Proposal, Seat, Status

Document = dict[str, Any]
_SEP = "\x1f"


def seat_id(programme_id: str, mentee_id: str) -> str:
    return f"{programme_id}{_SEP}{mentee_id}"


def _person(profile: Document) -> Person:
    # Our own copy, validated when the event arrived: no need to validate again.
    return Person.from_profile(ProfileUpserted.model_construct(**profile))


def _standing(doc: Document) -> MentorStanding:
    return MentorStanding(
        load=int(doc.get("load", 0)),
        accepted=int(doc.get("accepted", 0)),
        declined=int(doc.get("declined", 0)),
    )


def _proposal(doc: Document) -> Proposal:
    return Proposal(
        match_id=doc["_id"],
        programme_id=doc["programme_id"],
        mentee_id=doc["mentee_id"],
        mentor_id=doc["mentor_id"],
        status=Status(doc["status"]),
        accepted_by=frozenset(doc.get("accepted_by", ())),
        expires_at=doc["expires_at"],
    )


class MatcherRepository:
    """Storage for one unit of work: every call runs in `session` (None outside one)."""

    def __init__(self, db: AsyncDatabase[Document], session: AsyncClientSession | None) -> None:
        self._people = db["people"]
        self._mentors = db["mentors"]
        self._seats = db["seats"]
        self._proposals = db["proposals"]
        self._early = db["early_answers"]
        self._s = session
        # What this unit wrote, for the process's directory to re-read after commit.
        self.touched_mentors: set[str] = set()
        self.touched_mentees: set[str] = set()

    @staticmethod
    async def ensure_indexes(db: AsyncDatabase[Document]) -> None:
        await db["mentors"].create_index("changed_at")
        await db["seats"].create_index("changed_at")
        await db["seats"].create_index([("programme_id", ASCENDING), ("seat", ASCENDING)])
        await db["seats"].create_index("mentee_id")
        await db["proposals"].create_index("mentee_id")
        await db["proposals"].create_index("mentor_id")
        await db["proposals"].create_index([("status", ASCENDING), ("expires_at", ASCENDING)])
        await db["early_answers"].create_index("match_id")
        await db["early_answers"].create_index("person_id")

    # --- people and mentors ------------------------------------------------------

    async def person(self, person_id: str) -> Person | None:
        doc = await self._people.find_one({"_id": person_id}, {"profile": 1}, session=self._s)
        return _person(doc["profile"]) if doc else None

    async def mentor(self, mentor_id: str) -> tuple[Person, MentorStanding] | None:
        doc = await self._mentors.find_one({"_id": mentor_id}, session=self._s)
        return (_person(doc["profile"]), _standing(doc)) if doc else None

    async def save_profile(
        self, profile: ProfileUpserted, person: Person, previous: Person | None
    ) -> None:
        """Store the profile everywhere it is copied; the caller checked it is newer."""
        dumped = profile.model_dump(mode="json")
        await self._people.update_one(
            {"_id": profile.person_id},
            {"$set": {"profile": dumped, "revision": profile.revision}},
            upsert=True,
            session=self._s,
        )
        summary = {"profile": dumped, "changed_at": changed_now()}
        if person.is_mentor:
            await self._mentors.update_one(
                {"_id": profile.person_id},
                {
                    "$set": {**summary, "capacity": person.capacity},
                    "$setOnInsert": {"load": 0, "accepted": 0, "declined": 0},
                },
                upsert=True,
                session=self._s,
            )
            self.touched_mentors.add(profile.person_id)
        elif previous is not None and previous.is_mentor:
            # No new proposals as a mentor; the load of running mentorships stays counted.
            await self._mentors.update_one(
                {"_id": profile.person_id},
                {"$set": {**summary, "capacity": 0}},
                session=self._s,
            )
            self.touched_mentors.add(profile.person_id)
        if previous is not None:
            await self._seats.update_many(
                {"mentee_id": profile.person_id}, {"$set": summary}, session=self._s
            )
            self.touched_mentees.add(profile.person_id)

    async def reserve_mentor(self, mentor_id: str, capacity: int) -> bool:
        """Take one unit of the mentor's capacity if any is left, atomically. `capacity`
        is the one the caller ranked with: if it changed since, nothing is reserved."""
        result = await self._mentors.update_one(
            {"_id": mentor_id, "capacity": capacity, "profile.paused": False,
             "load": {"$lt": capacity}},
            {"$inc": {"load": 1}, "$set": {"changed_at": changed_now()}},
            session=self._s,
        )  # fmt: skip
        self.touched_mentors.add(mentor_id)
        return result.modified_count == 1

    async def release_mentor(self, mentor_id: str) -> None:
        await self._mentors.update_one(
            {"_id": mentor_id, "load": {"$gt": 0}},
            {"$inc": {"load": -1}, "$set": {"changed_at": changed_now()}},
            session=self._s,
        )
        self.touched_mentors.add(mentor_id)

    async def count_answer(self, mentor_id: str, *, accepted: bool) -> None:
        field = "accepted" if accepted else "declined"
        await self._mentors.update_one(
            {"_id": mentor_id},
            {"$inc": {field: 1}, "$set": {"changed_at": changed_now()}},
            session=self._s,
        )
        self.touched_mentors.add(mentor_id)

    async def forget_person(self, person_id: str) -> None:
        """Erase everything about the person (their proposals must be closed first)."""
        await self._people.delete_one({"_id": person_id}, session=self._s)
        await self._mentors.delete_one({"_id": person_id}, session=self._s)
        await self._seats.delete_many({"mentee_id": person_id}, session=self._s)
        for role in ("mentee_id", "mentor_id"):
            await self._proposals.delete_many({role: person_id}, session=self._s)
        await self._early.delete_many({"person_id": person_id}, session=self._s)
        self.touched_mentors.add(person_id)
        self.touched_mentees.add(person_id)

    # --- seats ------------------------------------------------------------------

    async def seat(self, programme_id: str, mentee_id: str) -> Seat | None:
        doc = await self._seats.find_one(
            {"_id": seat_id(programme_id, mentee_id)}, {"seat": 1}, session=self._s
        )
        return Seat(doc["seat"]) if doc else None

    async def wait_for_mentor(
        self, programme_id: str, profile: ProfileUpserted, mentee: Person, at: datetime
    ) -> None:
        """Put the mentee in the waiting line of the programme."""
        await self._seats.update_one(
            {"_id": seat_id(programme_id, mentee.person_id)},
            {
                "$set": {
                    "programme_id": programme_id,
                    "mentee_id": mentee.person_id,
                    "seat": Seat.WAITING.value,
                    "match_id": None,
                    "since": at,
                    "profile": profile.model_dump(mode="json"),
                    "changed_at": changed_now(),
                }
            },
            upsert=True,
            session=self._s,
        )
        self.touched_mentees.add(mentee.person_id)

    async def take_seat(self, programme_id: str, mentee_id: str, match_id: str) -> bool:
        """Move a waiting mentee to `proposed`, atomically; False if not waiting."""
        result = await self._seats.update_one(
            {"_id": seat_id(programme_id, mentee_id), "seat": Seat.WAITING.value},
            {
                "$set": {
                    "seat": Seat.PROPOSED.value,
                    "match_id": match_id,
                    "changed_at": changed_now(),
                }
            },
            session=self._s,
        )
        self.touched_mentees.add(mentee_id)
        return result.modified_count == 1

    async def move_seat(
        self, programme_id: str, mentee_id: str, match_id: str, seat: Seat, at: datetime
    ) -> bool:
        """Move the seat held by `match_id` (only that one) to `seat`."""
        result = await self._seats.update_one(
            {"_id": seat_id(programme_id, mentee_id), "match_id": match_id},
            {"$set": {"seat": seat.value, "since": at, "changed_at": changed_now()}},
            session=self._s,
        )
        self.touched_mentees.add(mentee_id)
        return result.modified_count == 1

    async def leave_programmes(self, mentee_id: str, keep: Iterable[str]) -> None:
        """Drop the mentee's waiting or idle seats outside `keep`."""
        await self._seats.delete_many(
            {
                "mentee_id": mentee_id,
                "programme_id": {"$nin": sorted(keep)},
                "seat": {"$in": [Seat.WAITING.value, Seat.IDLE.value]},
            },
            session=self._s,
        )
        self.touched_mentees.add(mentee_id)

    # --- proposals ----------------------------------------------------------------

    async def insert_proposal(self, doc: Document) -> None:
        await self._proposals.insert_one(doc, session=self._s)

    async def proposal(self, match_id: str) -> Proposal | None:
        doc = await self._proposals.find_one({"_id": match_id}, session=self._s)
        return _proposal(doc) if doc else None

    async def accept(self, match_id: str, person_id: str) -> Proposal | None:
        """Record one acceptance of an open proposal; the proposal afterwards."""
        await self._proposals.update_one(
            {"_id": match_id, "status": Status.OPEN.value},
            {"$addToSet": {"accepted_by": person_id}},
            session=self._s,
        )
        return await self.proposal(match_id)

    async def close(
        self, match_id: str, from_statuses: Iterable[Status], to: Status, at: datetime
    ) -> bool:
        """Move the proposal to `to` if it is in one of `from_statuses`, atomically."""
        result = await self._proposals.update_one(
            {"_id": match_id, "status": {"$in": [s.value for s in from_statuses]}},
            {"$set": {"status": to.value, "closed_at": at}},
            session=self._s,
        )
        return result.modified_count == 1

    async def proposals_involving(
        self, person_id: str, statuses: Iterable[Status] = HOLDS_CAPACITY
    ) -> list[Proposal]:
        wanted = [s.value for s in statuses]
        found: dict[str, Proposal] = {}
        for role in ("mentee_id", "mentor_id"):
            async for doc in self._proposals.find(
                {role: person_id, "status": {"$in": wanted}}, session=self._s
            ):
                found[doc["_id"]] = _proposal(doc)
        return [found[key] for key in sorted(found)]

    async def mentors_proposed_to(self, mentee_id: str) -> set[str]:
        """Every mentor ever proposed to this mentee (in any programme, any status)."""
        cursor = self._proposals.find({"mentee_id": mentee_id}, {"mentor_id": 1}, session=self._s)
        return {doc["mentor_id"] async for doc in cursor}

    async def mentees_proposed_to(self, mentor_id: str) -> set[str]:
        cursor = self._proposals.find({"mentor_id": mentor_id}, {"mentee_id": 1}, session=self._s)
        return {doc["mentee_id"] async for doc in cursor}

    async def due(self, now: datetime, limit: int = 200) -> list[tuple[str, datetime]]:
        """Open proposals whose time is up, oldest first: (match_id, expires_at)."""
        cursor = (
            self._proposals.find(
                {"status": Status.OPEN.value, "expires_at": {"$lte": now}},
                {"expires_at": 1},
                session=self._s,
            )
            .sort("expires_at", ASCENDING)
            .limit(limit)
        )
        return [(doc["_id"], doc["expires_at"]) async for doc in cursor]

    # --- answers that came before their proposal ----------------------------------

    async def keep_early_answer(self, match_id: str, person_id: str, kind: str) -> None:
        key = f"{match_id}{_SEP}{person_id}{_SEP}{kind}"
        await self._early.update_one(
            {"_id": key},
            {"$set": {"match_id": match_id, "person_id": person_id, "kind": kind}},
            upsert=True,
            session=self._s,
        )

    async def take_early_answers(self, match_id: str) -> list[tuple[str, str]]:
        """(person_id, kind) answers kept for `match_id`, removed as they are taken."""
        cursor = self._early.find({"match_id": match_id}, session=self._s)
        found = [(doc["person_id"], doc["kind"]) async for doc in cursor]
        if found:
            await self._early.delete_many({"match_id": match_id}, session=self._s)
        return sorted(found)
