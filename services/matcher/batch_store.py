"""The matcher's store for one batch of events: answers from what the batch read and
wrote, and writes the batch's signups in bulk just before the commit.

A burst of signups costs the database a handful of round trips per batch instead of
several per signup:
- on first use it reads, with one query per collection, what the batch's events are
  about: their people, tombstones and proposals (`prefetch`);
- the signup path (a new profile, a seat in line, a mentor reserved, a seat taken, a
  proposal opened, a slot given back) is buffered per collection and written in
  `flush`, which the runtime awaits before the commit: documents new in the batch with
  one `insert_many` each (a seat taken or a mentor reserved in the batch that created
  them is changed in the buffer, not updated: an update costs the database far more
  than an insert), then one ordered `bulk_write` of updates, one per mentor however
  many of their slots the batch took;
- the loads and waiting seats are read one by one at first, and all at once (one
  query) once the batch has missed a few of them;
- reads of what the batch wrote or prefetched are answered from its cache; any other
  read goes to the database in the batch's transaction, after the buffer it depends on
  is written (a query by field is flushed first; a document by id that is not cached
  has nothing buffered, since everything buffered is cached).
Answers, ends and sessions are buffered too: the proposals the batch's events name are
read with the prefetch, and an accept, a close, a seat moved or a mentor's counts
change the cached document and queue a conditional update (the condition the cache
saw: a proposal still open, a seat still holding the match). What is left (erasure, a
changed profile, answers that came before their proposal) is rarer: it writes the
buffer, then writes through as `MongoMatcherStore` does, and the cache is dropped.

Capacity is still reserved atomically. A reservation is granted from the mentor's load
as read in the batch's transaction plus the batch's own reservations, and the batch's
`n` reservations of one mentor are written as one conditional update (`load <=
capacity - n`, `load < capacity` for one); another process that reserved the same mentor
meanwhile makes the transaction conflict, and the batch is tried again on fresh loads.
Every buffered write must hit exactly one document: if one does not (a race the
transaction did not catch), the batch is abandoned as `BatchContended` and applied
again in smaller pieces, never committed with a proposal its mentor had no room for.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime

from pymongo import UpdateOne
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

from shared.documents import Document, in_slices
from shared.erasure import Pseudonyms
from shared.events import ProfileUpserted
from shared.runtime import BatchContended

from .profiles import MentorStanding, Person
from .proposals import HOLDS_CAPACITY, FollowThrough, Proposal, Seat, Status
from .ranking import Candidate
from .repository import MongoMatcherStore
from .store import (
    EarlyKind,
    ErasedKind,
    MentorRecord,
    SeatRecord,
    changed_now,
    person_from,
    proposal_document,
    proposal_from,
    seat_id,
    standing_from,
    waiting_seat,
)

# The order buffered writes are sent in (a proposal's mentor and seat before it).
COLLECTIONS = ("people", "mentors", "seats", "proposals")
# Loads or seats read one by one in a batch before the rest are read in one query.
MISSES_BEFORE_BULK = 4


@dataclass(frozen=True)
class MentorState:
    person: Person
    standing: MentorStanding
    capacity: int


@dataclass(frozen=True)
class SeatState:
    seat: Seat
    match_id: str | None


class BatchMatcherStore(MongoMatcherStore):
    """A `MongoMatcherStore` for the units of one batch (see the module docstring)."""

    def __init__(
        self,
        db: AsyncDatabase[Document],
        session: AsyncClientSession | None,
        pseudonyms: Pseudonyms,
        people: Iterable[str] = (),
        proposals: Iterable[str] = (),
    ) -> None:
        super().__init__(db, session, pseudonyms)
        self._about = sorted(set(people))
        self._answered = sorted(set(proposals))
        self._prefetched = False
        self._inserts: dict[str, dict[str, Document]] = {name: {} for name in COLLECTIONS}
        self._updates: dict[str, list[UpdateOne]] = {name: [] for name in COLLECTIONS}
        # mentor -> (capacity reserved against, slots taken minus slots given back)
        self._room_taken: dict[str, tuple[int, int]] = {}
        self._forget()

    def _forget(self) -> None:
        self._persons: dict[str, Person | None] = {}
        self._erased_keys: dict[str, bool] = {}
        self._mentor_states: dict[str, MentorState | None] = {}
        self._seat_states: dict[str, SeatState | None] = {}
        self._proposal_docs: dict[str, Document] = {}
        self._mentors_of: dict[str, set[str]] = {}  # mentee -> mentors ever proposed
        self._mentees_of: dict[str, set[str]] = {}  # mentor -> mentees ever proposed
        self._early_ids: set[str] | None = None
        self._new_people: set[str] = set()  # nothing of theirs is stored
        self._misses = {"mentors": 0, "seats": 0}
        self._loaded: set[str] = set()  # collections read in bulk

    # --- the batch's reads and writes ----------------------------------------------------

    async def prefetch(self) -> None:
        """Read what the batch's events are about, one query per collection."""
        if self._prefetched:
            return
        self._prefetched = True
        ids, s = self._about, self._s
        for match_ids in in_slices(self._answered):
            async for doc in self._proposals.find({"_id": {"$in": match_ids}}, session=s):
                self._proposal_docs[doc["_id"]] = doc
        if not ids:
            return
        self._persons.update(dict.fromkeys(ids))
        async for doc in self._people.find({"_id": {"$in": ids}}, {"profile": 1}, session=s):
            self._persons[doc["_id"]] = person_from(doc["profile"])
        keys = {self._pseudonyms.tombstone("person", i): i for i in ids}
        self._erased_keys.update(dict.fromkeys(keys, False))
        async for doc in self._erased.find({"_id": {"$in": list(keys)}}, {"_id": 1}, session=s):
            self._erased_keys[doc["_id"]] = True
        for person_id in ids:
            self._mentors_of[person_id] = set()
            self._mentees_of[person_id] = set()
        query = {"$or": [{"mentee_id": {"$in": ids}}, {"mentor_id": {"$in": ids}}]}
        projection = {"mentee_id": 1, "mentor_id": 1}
        async for doc in self._proposals.find(query, projection, session=s):
            mentee_id, mentor_id = doc["mentee_id"], doc["mentor_id"]
            self._mentors_of.get(mentee_id, set()).add(mentor_id)
            self._mentees_of.get(mentor_id, set()).add(mentee_id)

    async def flush(self) -> None:
        """Write what the batch buffered: new documents, then updates, per collection."""
        for mentor_id, (capacity, taken) in self._room_taken.items():
            self._updates["mentors"].append(_room_update(mentor_id, capacity, taken))
        self._room_taken = {}
        for name in COLLECTIONS:
            inserts, self._inserts[name] = self._inserts[name], {}
            updates, self._updates[name] = self._updates[name], []
            if inserts:
                await self._db[name].insert_many(list(inserts.values()), session=self._s)
            if not updates:
                continue
            result = await self._db[name].bulk_write(updates, ordered=True, session=self._s)
            hit = result.matched_count + result.upserted_count
            if hit != len(updates):
                raise BatchContended(
                    f"{len(updates) - hit} of {len(updates)} updates of {name} found their "
                    "document changed by another process"
                )

    async def _write_through(self) -> None:
        """Before a write the cache does not follow: the buffer goes first, then the
        cache is dropped (re-read on demand)."""
        await self.flush()
        self._forget()

    async def _flushed(self, *names: str) -> None:
        pending = (self._inserts[n] or self._updates[n] for n in names)
        if any(pending) or ("mentors" in names and self._room_taken):
            await self.flush()

    # --- people and mentors -----------------------------------------------------

    async def person(self, person_id: str) -> Person | None:
        await self.prefetch()
        if person_id not in self._persons:
            self._persons[person_id] = await super().person(person_id)
        return self._persons[person_id]

    async def is_erased(self, kind: ErasedKind, ident: str) -> bool:
        await self.prefetch()
        key = self._pseudonyms.tombstone(kind, ident)
        if key not in self._erased_keys:
            self._erased_keys[key] = await super().is_erased(kind, ident)
        return self._erased_keys[key]

    async def _mentor_state(self, mentor_id: str) -> MentorState | None:
        if mentor_id not in self._mentor_states and await self._missed("mentors"):
            # Every mentor who could take someone: the batch will reserve many of them.
            async for doc in self._mentors.find({"capacity": {"$gt": 0}}, session=self._s):
                self._mentor_states.setdefault(doc["_id"], _mentor_state(doc))
        if mentor_id not in self._mentor_states:
            found = await self._mentors.find_one({"_id": mentor_id}, session=self._s)
            self._mentor_states[mentor_id] = None if found is None else _mentor_state(found)
        return self._mentor_states[mentor_id]

    async def _missed(self, name: str) -> bool:
        """Count a cache miss; True once it is time to read the collection in bulk."""
        if name in self._loaded:
            return False
        self._misses[name] += 1
        if self._misses[name] < MISSES_BEFORE_BULK:
            return False
        self._loaded.add(name)
        return True

    async def mentor(self, mentor_id: str) -> tuple[Person, MentorStanding] | None:
        state = await self._mentor_state(mentor_id)
        return None if state is None else (state.person, state.standing)

    async def save_profile(
        self, profile: ProfileUpserted, person: Person, previous: Person | None
    ) -> None:
        await self.prefetch()
        if previous is not None:
            # A changed profile is copied into seats and mentors: written through.
            await self._write_through()
            await super().save_profile(profile, person, previous)
            return
        # A new person: no seat, mentor or proposal of theirs is stored (erasure removes
        # them with the person), so what the batch writes is all there is.
        dumped = profile.model_dump(mode="json")
        self._inserts["people"][profile.person_id] = {
            "_id": profile.person_id, "profile": dumped, "revision": profile.revision
        }  # fmt: skip
        self._persons[profile.person_id] = person
        self._new_people.add(profile.person_id)
        self._mentors_of.setdefault(profile.person_id, set())
        self._mentees_of.setdefault(profile.person_id, set())
        if person.is_mentor:
            self._inserts["mentors"][profile.person_id] = {
                "_id": profile.person_id, "profile": dumped, "changed_at": changed_now(),
                "capacity": person.capacity, "load": 0, "accepted": 0, "declined": 0,
                "met": 0, "missed": 0,
            }  # fmt: skip
            self._mentor_states[profile.person_id] = MentorState(
                person, MentorStanding(), person.capacity
            )
            self.touched_mentors.add(profile.person_id)

    async def reserve_mentor(self, mentor_id: str, capacity: int) -> bool:
        self.touched_mentors.add(mentor_id)
        state = await self._mentor_state(mentor_id)
        if (
            state is None
            or state.capacity != capacity
            or state.person.paused
            or state.standing.load >= capacity
        ):
            return False
        self._take_room(mentor_id, capacity, 1)
        standing = replace(state.standing, load=state.standing.load + 1)
        self._mentor_states[mentor_id] = replace(state, standing=standing)
        return True

    def _take_room(self, mentor_id: str, capacity: int, slots: int) -> None:
        new = self._inserts["mentors"].get(mentor_id)
        if new is not None:
            new["load"] += slots
            new["changed_at"] = changed_now()
            return
        _, taken = self._room_taken.get(mentor_id, (capacity, 0))
        self._room_taken[mentor_id] = (capacity, taken + slots)

    async def release_mentor(self, mentor_id: str) -> None:
        self.touched_mentors.add(mentor_id)
        state = await self._mentor_state(mentor_id)
        if state is None or state.standing.load <= 0:
            return  # what the conditional update would do: nothing
        self._take_room(mentor_id, state.capacity, -1)
        standing = replace(state.standing, load=state.standing.load - 1)
        self._mentor_states[mentor_id] = replace(state, standing=standing)

    async def count_answer(self, mentor_id: str, *, accepted: bool) -> None:
        await self._count(mentor_id, {"accepted" if accepted else "declined": 1})

    async def mark_follow_through(self, proposal: Proposal, to: FollowThrough) -> bool:
        doc = await self._proposal_doc(proposal.match_id)
        was = None if proposal.follow_through is None else proposal.follow_through.value
        if doc is None or doc.get("follow_through") != was:
            return False
        doc["follow_through"] = to.value
        self._change_proposal(doc, {"follow_through": was}, {"$set": {"follow_through": to.value}})
        change = {to.value: 1}
        if was is not None:
            change[was] = -1
        await self._count(proposal.mentor_id, change)
        return True

    async def _count(self, mentor_id: str, change: dict[str, int]) -> None:
        """Add to a mentor's counts, in the batch's buffer and its cache (nothing for a
        mentor not stored, as the update would find nothing)."""
        self.touched_mentors.add(mentor_id)
        state = await self._mentor_state(mentor_id)
        if state is None:
            return
        new = self._inserts["mentors"].get(mentor_id)
        if new is not None:
            for name, step in change.items():
                new[name] += step
        else:
            update = {"$inc": change, "$set": {"changed_at": changed_now()}}
            self._updates["mentors"].append(UpdateOne({"_id": mentor_id}, update))
        counts = {name: getattr(state.standing, name) + step for name, step in change.items()}
        self._mentor_states[mentor_id] = replace(state, standing=replace(state.standing, **counts))

    async def forget_person(self, person_id: str) -> None:
        await self._write_through()
        await super().forget_person(person_id)
        self._forget()

    async def mentors_in(self, programme_id: str) -> list[tuple[Person, MentorStanding]]:
        await self._flushed("mentors")
        return await super().mentors_in(programme_id)

    # --- seats ------------------------------------------------------------------

    async def _seat_state(self, programme_id: str, mentee_id: str) -> SeatState | None:
        key = seat_id(programme_id, mentee_id)
        if key not in self._seat_states and await self._missed("seats"):
            # Every waiting seat: the batch's offers go to the waiting lines.
            waiting = self._seats.find({"seat": Seat.WAITING.value}, {"match_id": 1},
                                       session=self._s)  # fmt: skip
            async for doc in waiting:
                state = SeatState(Seat.WAITING, doc.get("match_id"))
                self._seat_states.setdefault(doc["_id"], state)
        if key not in self._seat_states:
            found = await self._seats.find_one({"_id": key}, {"seat": 1, "match_id": 1},
                                               session=self._s)  # fmt: skip
            self._seat_states[key] = (
                None if found is None else SeatState(Seat(found["seat"]), found.get("match_id"))
            )
        return self._seat_states[key]

    async def seat(self, programme_id: str, mentee_id: str) -> Seat | None:
        state = await self._seat_state(programme_id, mentee_id)
        return None if state is None else state.seat

    async def wait_for_mentor(
        self, programme_id: str, profile: ProfileUpserted, at: datetime
    ) -> None:
        key = seat_id(programme_id, profile.person_id)
        fields = waiting_seat(programme_id, profile, at)
        if profile.person_id in self._new_people:
            self._inserts["seats"][key] = {"_id": key, **fields}
        else:
            self._updates["seats"].append(UpdateOne({"_id": key}, {"$set": fields}, upsert=True))
        self._seat_states[key] = SeatState(Seat.WAITING, None)
        self.touched_mentees.add(profile.person_id)

    async def take_seat(self, programme_id: str, mentee_id: str, match_id: str) -> bool:
        self.touched_mentees.add(mentee_id)
        state = await self._seat_state(programme_id, mentee_id)
        if state is None or state.seat is not Seat.WAITING:
            return False
        key = seat_id(programme_id, mentee_id)
        change = {"seat": Seat.PROPOSED.value, "match_id": match_id, "changed_at": changed_now()}
        new = self._inserts["seats"].get(key)
        if new is not None:
            new.update(change)
        else:
            self._updates["seats"].append(
                UpdateOne({"_id": key, "seat": Seat.WAITING.value}, {"$set": change})
            )
        self._seat_states[key] = SeatState(Seat.PROPOSED, match_id)
        return True

    async def move_seat(
        self, programme_id: str, mentee_id: str, match_id: str, seat: Seat, at: datetime
    ) -> bool:
        self.touched_mentees.add(mentee_id)
        state = await self._seat_state(programme_id, mentee_id)
        if state is None or state.match_id != match_id:
            return False
        key = seat_id(programme_id, mentee_id)
        change = {"seat": seat.value, "since": at, "changed_at": changed_now()}
        new = self._inserts["seats"].get(key)
        if new is not None:
            new.update(change)
        else:
            self._updates["seats"].append(
                UpdateOne({"_id": key, "match_id": match_id}, {"$set": change})
            )
        self._seat_states[key] = SeatState(seat, match_id)
        return True

    async def leave_programmes(self, mentee_id: str, keep: Iterable[str]) -> None:
        await self._write_through()
        await super().leave_programmes(mentee_id, keep)

    async def waiting_in(self, programme_id: str) -> list[Person]:
        await self._flushed("seats")
        return await super().waiting_in(programme_id)

    # --- proposals ------------------------------------------------------------------

    async def open_proposal(
        self, match_id: str, candidate: Candidate, opened_at: datetime, expires_at: datetime
    ) -> None:
        doc = proposal_document(match_id, candidate, opened_at, expires_at)
        self._inserts["proposals"][match_id] = doc
        self._proposal_docs[match_id] = doc
        mentee_id, mentor_id = candidate.mentee.person_id, candidate.mentor.person_id
        if mentee_id in self._mentors_of:
            self._mentors_of[mentee_id].add(mentor_id)
        if mentor_id in self._mentees_of:
            self._mentees_of[mentor_id].add(mentee_id)

    async def proposal(self, match_id: str) -> Proposal | None:
        doc = await self._proposal_doc(match_id)
        return None if doc is None else proposal_from(doc)

    async def accept(self, match_id: str, person_id: str) -> Proposal | None:
        doc = await self._proposal_doc(match_id)
        if doc is None:
            return None
        accepted_by = list(doc.get("accepted_by", ()))
        if doc["status"] == Status.OPEN.value and person_id not in accepted_by:
            doc["accepted_by"] = [*accepted_by, person_id]
            self._change_proposal(
                doc, {"status": Status.OPEN.value}, {"$addToSet": {"accepted_by": person_id}}
            )
        return proposal_from(doc)

    async def close(
        self, match_id: str, from_statuses: Iterable[Status], to: Status, at: datetime
    ) -> bool:
        doc = await self._proposal_doc(match_id)
        allowed = [s.value for s in from_statuses]
        if doc is None or doc["status"] not in allowed:
            return False
        doc.update(status=to.value, closed_at=at)
        change = {"$set": {"status": to.value, "closed_at": at}}
        self._change_proposal(doc, {"status": {"$in": allowed}}, change)
        return True

    async def _proposal_doc(self, match_id: str) -> Document | None:
        """The proposal as the batch knows it (read once, then changed in the cache)."""
        await self.prefetch()
        if match_id not in self._proposal_docs:
            found = await self._proposals.find_one({"_id": match_id}, session=self._s)
            if found is None:
                return None
            self._proposal_docs[match_id] = found
        return self._proposal_docs[match_id]

    def _change_proposal(self, doc: Document, was: Document, change: Document) -> None:
        """Buffer a change already made to `doc` in the cache: a proposal new in the
        batch is inserted as it is now; a stored one gets a conditional update, which
        must still find it as it `was`."""
        if doc["_id"] not in self._inserts["proposals"]:
            self._updates["proposals"].append(UpdateOne({"_id": doc["_id"], **was}, change))

    async def proposals_involving(
        self, person_id: str, statuses: Iterable[Status] = HOLDS_CAPACITY
    ) -> list[Proposal]:
        await self._flushed("proposals")
        return await super().proposals_involving(person_id, statuses)

    async def mentors_proposed_to(self, mentee_id: str) -> set[str]:
        await self.prefetch()
        if mentee_id not in self._mentors_of:
            await self._flushed("proposals")
            self._mentors_of[mentee_id] = await super().mentors_proposed_to(mentee_id)
        return set(self._mentors_of[mentee_id])

    async def mentees_proposed_to(self, mentor_id: str) -> set[str]:
        await self.prefetch()
        if mentor_id not in self._mentees_of:
            await self._flushed("proposals")
            self._mentees_of[mentor_id] = await super().mentees_proposed_to(mentor_id)
        return set(self._mentees_of[mentor_id])

    async def due(self, now: datetime, limit: int = 200) -> list[tuple[str, datetime]]:
        await self._flushed("proposals")
        return await super().due(now, limit)

    # --- what came before its proposal ----------------------------------------------

    async def keep_early(self, match_id: str, person_id: str, kind: EarlyKind) -> None:
        await self._write_through()
        await super().keep_early(match_id, person_id, kind)

    async def take_early(self, match_id: str) -> list[tuple[str, EarlyKind]]:
        if self._early_ids is None:
            # Answers rarely come before their proposal: one query says which did.
            self._early_ids = set(await self._early.distinct("match_id", session=self._s))
        if match_id not in self._early_ids:
            return []
        await self._write_through()
        return await super().take_early(match_id)

    # --- what the directory mirrors ------------------------------------------------------

    async def mentor_records(
        self, mentor_ids: Iterable[str] | None = None, changed_since: datetime | None = None
    ) -> list[MentorRecord]:
        await self._flushed(*COLLECTIONS)
        return await super().mentor_records(mentor_ids, changed_since)

    async def seat_records(
        self, mentee_ids: Iterable[str] | None = None, changed_since: datetime | None = None
    ) -> list[SeatRecord]:
        await self._flushed(*COLLECTIONS)
        return await super().seat_records(mentee_ids, changed_since)


def _mentor_state(doc: Document) -> MentorState:
    return MentorState(person_from(doc["profile"]), standing_from(doc), doc["capacity"])


def _room_update(mentor_id: str, capacity: int, taken: int) -> UpdateOne:
    """The batch's reservations (and slots given back) of one mentor, in one conditional
    update: never past `capacity`, never below zero."""
    change = {"$inc": {"load": taken}, "$set": {"changed_at": changed_now()}}
    if taken > 0:
        fits = {"capacity": capacity, "profile.paused": False, "load": {"$lte": capacity - taken}}
        return UpdateOne({"_id": mentor_id, **fits}, change)
    return UpdateOne({"_id": mentor_id, "load": {"$gte": -taken}}, change)
