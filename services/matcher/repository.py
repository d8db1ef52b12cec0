"""The matcher's state in MongoDB (`store.MatcherStore`, bound to one session).

Collections:
- `people`: the latest profile of each person (revision order, lookups by id).
- `mentors`: one per mentor: a copy of the profile, the `load` (open + started
  proposals, across programmes) and the counts behind responsiveness.
- `seats`: one per (programme, mentee): where the mentee stands (see `proposals.Seat`),
  with a copy of the mentee's profile for the directory's waiting lines.
- `proposals`: every proposal with its status; the pair history that forbids repeats.
- `early_answers`: answers, ends and sessions of proposals not stored (yet).
- `erased`: tombstones, keyed by `settings.pseudonyms().tombstone(kind, id)`.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from pymongo import ASCENDING
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

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


class MongoMatcherStore:
    """Storage for one unit of work: every call runs in `session` (None outside one)."""

    def __init__(
        self,
        db: AsyncDatabase[Document],
        session: AsyncClientSession | None,
        pseudonyms: Pseudonyms,
    ) -> None:
        self._db = db
        self._people = db["people"]
        self._mentors = db["mentors"]
        self._seats = db["seats"]
        self._proposals = db["proposals"]
        self._early = db["early_answers"]
        self._erased = db["erased"]
        self._s = session
        self._pseudonyms = pseudonyms
        self.touched_mentors: set[str] = set()
        self.touched_mentees: set[str] = set()

    @staticmethod
    async def ensure_indexes(db: AsyncDatabase[Document]) -> None:
        await db["mentors"].create_index("changed_at")
        await db["mentors"].create_index("profile.programmes")
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
        return person_from(doc["profile"]) if doc else None

    async def mentor(self, mentor_id: str) -> tuple[Person, MentorStanding] | None:
        doc = await self._mentors.find_one({"_id": mentor_id}, session=self._s)
        return (person_from(doc["profile"]), standing_from(doc)) if doc else None

    async def mentors_in(self, programme_id: str) -> list[tuple[Person, MentorStanding]]:
        cursor = self._mentors.find({"profile.programmes": programme_id}, session=self._s)
        found = [(person_from(doc["profile"]), standing_from(doc)) async for doc in cursor]
        return sorted(found, key=lambda m: m[0].person_id)

    async def save_profile(
        self, profile: ProfileUpserted, person: Person, previous: Person | None
    ) -> None:
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
                    "$setOnInsert": {"load": 0, "accepted": 0, "declined": 0, "met": 0,
                                     "missed": 0},
                },
                upsert=True,
                session=self._s,
            )  # fmt: skip
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
        await self._count(mentor_id, {"accepted" if accepted else "declined": 1})

    async def mark_follow_through(self, proposal: Proposal, to: FollowThrough) -> bool:
        was = proposal.follow_through
        result = await self._proposals.update_one(
            {"_id": proposal.match_id, "follow_through": None if was is None else was.value},
            {"$set": {"follow_through": to.value}},
            session=self._s,
        )
        if result.modified_count != 1:
            return False
        change = {to.value: 1}
        if was is not None:
            change[was.value] = -1
        await self._count(proposal.mentor_id, change)
        return True

    async def _count(self, mentor_id: str, change: dict[str, int]) -> None:
        await self._mentors.update_one(
            {"_id": mentor_id},
            {"$inc": change, "$set": {"changed_at": changed_now()}},
            session=self._s,
        )
        self.touched_mentors.add(mentor_id)

    async def forget_person(self, person_id: str) -> None:
        s = self._s
        query = {"$or": [{"mentee_id": person_id}, {"mentor_id": person_id}]}
        matches = [doc["_id"] async for doc in self._proposals.find(query, {"_id": 1}, session=s)]
        await self._bury([("person", person_id), *(("match", m) for m in matches)])
        await self._people.delete_one({"_id": person_id}, session=s)
        await self._mentors.delete_one({"_id": person_id}, session=s)
        await self._seats.delete_many({"mentee_id": person_id}, session=s)
        await self._proposals.delete_many({"_id": {"$in": matches}}, session=s)
        await self._early.delete_many(
            {"$or": [{"person_id": person_id}, {"match_id": {"$in": matches}}]}, session=s
        )
        self.touched_mentors.add(person_id)
        self.touched_mentees.add(person_id)

    async def _bury(self, gone: Iterable[tuple[ErasedKind, str]]) -> None:
        for kind, ident in gone:
            await self._erased.update_one(
                {"_id": self._pseudonyms.tombstone(kind, ident)},
                {"$set": {"kind": kind}},
                upsert=True,
                session=self._s,
            )

    async def is_erased(self, kind: ErasedKind, ident: str) -> bool:
        key = self._pseudonyms.tombstone(kind, ident)
        return await self._erased.find_one({"_id": key}, {"_id": 1}, session=self._s) is not None

    # --- seats ------------------------------------------------------------------

    async def seat(self, programme_id: str, mentee_id: str) -> Seat | None:
        doc = await self._seats.find_one(
            {"_id": seat_id(programme_id, mentee_id)}, {"seat": 1}, session=self._s
        )
        return Seat(doc["seat"]) if doc else None

    async def wait_for_mentor(
        self, programme_id: str, profile: ProfileUpserted, at: datetime
    ) -> None:
        await self._seats.update_one(
            {"_id": seat_id(programme_id, profile.person_id)},
            {"$set": waiting_seat(programme_id, profile, at)},
            upsert=True,
            session=self._s,
        )
        self.touched_mentees.add(profile.person_id)

    async def take_seat(self, programme_id: str, mentee_id: str, match_id: str) -> bool:
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
        result = await self._seats.update_one(
            {"_id": seat_id(programme_id, mentee_id), "match_id": match_id},
            {"$set": {"seat": seat.value, "since": at, "changed_at": changed_now()}},
            session=self._s,
        )
        self.touched_mentees.add(mentee_id)
        return result.modified_count == 1

    async def leave_programmes(self, mentee_id: str, keep: Iterable[str]) -> None:
        await self._seats.delete_many(
            {
                "mentee_id": mentee_id,
                "programme_id": {"$nin": sorted(keep)},
                "seat": {"$in": [Seat.WAITING.value, Seat.IDLE.value]},
            },
            session=self._s,
        )
        self.touched_mentees.add(mentee_id)

    async def waiting_in(self, programme_id: str) -> list[Person]:
        cursor = self._seats.find(
            {"programme_id": programme_id, "seat": Seat.WAITING.value}, session=self._s
        )
        found = [person_from(doc["profile"]) async for doc in cursor]
        return sorted(found, key=lambda p: p.person_id)

    # --- proposals ----------------------------------------------------------------

    async def open_proposal(
        self, match_id: str, candidate: Candidate, opened_at: datetime, expires_at: datetime
    ) -> None:
        doc = proposal_document(match_id, candidate, opened_at, expires_at)
        await self._proposals.insert_one(doc, session=self._s)

    async def proposal(self, match_id: str) -> Proposal | None:
        doc = await self._proposals.find_one({"_id": match_id}, session=self._s)
        return proposal_from(doc) if doc else None

    async def accept(self, match_id: str, person_id: str) -> Proposal | None:
        await self._proposals.update_one(
            {"_id": match_id, "status": Status.OPEN.value},
            {"$addToSet": {"accepted_by": person_id}},
            session=self._s,
        )
        return await self.proposal(match_id)

    async def close(
        self, match_id: str, from_statuses: Iterable[Status], to: Status, at: datetime
    ) -> bool:
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
                found[doc["_id"]] = proposal_from(doc)
        return [found[key] for key in sorted(found)]

    async def mentors_proposed_to(self, mentee_id: str) -> set[str]:
        cursor = self._proposals.find({"mentee_id": mentee_id}, {"mentor_id": 1}, session=self._s)
        return {doc["mentor_id"] async for doc in cursor}

    async def mentees_proposed_to(self, mentor_id: str) -> set[str]:
        cursor = self._proposals.find({"mentor_id": mentor_id}, {"mentee_id": 1}, session=self._s)
        return {doc["mentee_id"] async for doc in cursor}

    async def due(self, now: datetime, limit: int = 200) -> list[tuple[str, datetime]]:
        cursor = (
            self._proposals.find(
                {"status": Status.OPEN.value, "expires_at": {"$lte": now}},
                {"expires_at": 1},
                session=self._s,
            )
            .sort([("expires_at", ASCENDING), ("_id", ASCENDING)])
            .limit(limit)
        )
        return [(doc["_id"], doc["expires_at"]) async for doc in cursor]

    # --- what came before its proposal ----------------------------------------------

    async def keep_early(self, match_id: str, person_id: str, kind: EarlyKind) -> None:
        await self._early.update_one(
            {"_id": f"{match_id}{SEP}{person_id}{SEP}{kind}"},
            {"$set": {"match_id": match_id, "person_id": person_id, "kind": kind}},
            upsert=True,
            session=self._s,
        )

    async def take_early(self, match_id: str) -> list[tuple[str, EarlyKind]]:
        cursor = self._early.find({"match_id": match_id}, session=self._s)
        found: list[tuple[str, EarlyKind]] = [(d["person_id"], d["kind"]) async for d in cursor]
        if found:
            await self._early.delete_many({"match_id": match_id}, session=self._s)
        return sorted(found)

    # --- what the directory mirrors ------------------------------------------------------

    async def mentor_records(
        self, mentor_ids: Iterable[str] | None = None, changed_since: datetime | None = None
    ) -> list[MentorRecord]:
        query = _records_query("_id", mentor_ids, changed_since)
        return [mentor_record(doc) async for doc in self._mentors.find(query, session=self._s)]

    async def seat_records(
        self, mentee_ids: Iterable[str] | None = None, changed_since: datetime | None = None
    ) -> list[SeatRecord]:
        query = _records_query("mentee_id", mentee_ids, changed_since)
        return [seat_record(doc) async for doc in self._seats.find(query, session=self._s)]


def _records_query(key: str, ids: Iterable[str] | None, changed_since: datetime | None) -> Document:
    query: Document = {}
    if ids is not None:
        query[key] = {"$in": sorted(ids)}
    if changed_since is not None:
        query["changed_at"] = {"$gte": changed_since}
    return query
