"""The network service's state in MongoDB, the source of truth that every network
process rebuilds its graph from and follows.

Collections: `people` (the profile facts ranking needs), `ties` (one document per
pair: live and ended mentorships, an accepted introduction, session boost),
`mentorships` (who, and the completed sessions, stored even before the
mentorship is known), `introductions` (every suggestion, `_id` derived from the
pair so a pair can exist once), `load` (suggestions per candidate per ISO week),
`runs` (when a person last got suggestions) and `erased` (ids of people and
mentorships that were deleted, so a late event cannot bring them back).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pymongo import ReturnDocument
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.cursor import AsyncCursor
from pymongo.asynchronous.database import AsyncDatabase

from services.network.people import Person
from services.network.ties import Tie, TieKind, make_tie, pair_key
from shared.events import derived_id

Document = dict[str, Any]
Session = AsyncClientSession | None

PEOPLE, TIES, MENTORSHIPS, INTRODUCTIONS, LOAD, RUNS, ERASED = (
    "people", "ties", "mentorships", "introductions", "load", "runs", "erased"
)  # fmt: skip
# The collections whose changes every process applies to its in-memory state.
FOLLOWED = (PEOPLE, TIES, INTRODUCTIONS, LOAD, ERASED)


def introduction_id(a: str, b: str) -> str:
    """One introduction per pair, ever: the id is the pair's."""
    return derived_id("introduction", pair_key(a, b))


def person_to_doc(person: Person, revision: int, programmes: list[str]) -> Document:
    return {
        "_id": person.id,
        "goals": sorted(person.goals),
        "passions": sorted(person.passions),
        "skills": sorted(person.skills),
        "open": person.open_to_introductions,
        "paused": person.paused,
        "programmes": programmes,
        "revision": revision,
    }


def person_from_doc(doc: Document) -> Person:
    return Person(
        id=doc["_id"],
        goals=frozenset(doc.get("goals", ())),
        passions=frozenset(doc.get("passions", ())),
        skills=frozenset(doc.get("skills", ())),
        open_to_introductions=bool(doc.get("open", False)),
        paused=bool(doc.get("paused", False)),
        programme=(doc.get("programmes") or ["default"])[0],
    )


def tie_from_doc(doc: Document) -> Tie | None:
    """The tie a stored pair document describes; None when nothing ties them."""
    kinds = set()
    if doc.get("active"):
        kinds.add(TieKind.MENTORSHIP)
    if doc.get("ended"):
        kinds.add(TieKind.ALUMNI)
    if doc.get("introduced"):
        kinds.add(TieKind.INTRODUCTION)
    if not kinds:
        return None
    return make_tie(frozenset(kinds), boost=float(doc.get("boost", 0.0)))


@dataclass(frozen=True)
class StoredTie:
    a: str
    b: str
    tie: Tie | None


def _stored(doc: Document) -> StoredTie:
    return StoredTie(doc["a"], doc["b"], tie_from_doc(doc))


class NetworkStore:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.db = db

    async def ensure_indexes(self) -> None:
        await self.db[TIES].create_index("a")
        await self.db[TIES].create_index("b")
        await self.db[MENTORSHIPS].create_index("mentee")
        await self.db[MENTORSHIPS].create_index("mentor")
        # The `_id` already makes a pair unique; this index says so where it is asked.
        await self.db[INTRODUCTIONS].create_index([("pair", 1)], unique=True)
        for role in ("person", "candidate", "introducer"):
            await self.db[INTRODUCTIONS].create_index(role)
        await self.db[LOAD].create_index("candidate")

    # --- people ------------------------------------------------------------

    async def revision(self, person_id: str, session: Session) -> int | None:
        doc = await self.db[PEOPLE].find_one({"_id": person_id}, {"revision": 1}, session=session)
        return None if doc is None else int(doc["revision"])

    async def save_person(self, doc: Document, session: Session) -> None:
        await self.db[PEOPLE].replace_one({"_id": doc["_id"]}, doc, upsert=True, session=session)

    async def people(self, ids: Iterable[str], session: Session) -> dict[str, Person]:
        docs = self.db[PEOPLE].find({"_id": {"$in": list(ids)}}, session=session)
        return {d["_id"]: person_from_doc(d) async for d in docs}

    async def erase(self, person_id: str, session: Session) -> None:
        """Remove every trace of the person, remembering only that the id is gone.
        Introductions they merely introduced keep their pair (a declined pair stays
        declined) but lose the introducer."""
        db = self.db
        gone = [
            d["_id"]
            async for d in db[MENTORSHIPS].find(
                {"$or": [{"mentee": person_id}, {"mentor": person_id}]}, {"_id": 1},
                session=session,
            )
        ]  # fmt: skip
        tombstones = [("person", person_id)] + [("mentorship", m) for m in gone]
        for kind, ident in tombstones:
            await db[ERASED].update_one(
                {"_id": f"{kind}:{ident}"}, {"$set": {"kind": kind}}, upsert=True, session=session
            )
        await db[MENTORSHIPS].delete_many({"_id": {"$in": gone}}, session=session)
        await db[PEOPLE].delete_one({"_id": person_id}, session=session)
        await db[TIES].delete_many({"$or": [{"a": person_id}, {"b": person_id}]}, session=session)
        await db[INTRODUCTIONS].delete_many(
            {"$or": [{"person": person_id}, {"candidate": person_id}]}, session=session
        )
        await db[INTRODUCTIONS].update_many(
            {"introducer": person_id}, {"$set": {"introducer": None}}, session=session
        )
        await db[LOAD].delete_many({"candidate": person_id}, session=session)
        await db[RUNS].delete_one({"_id": person_id}, session=session)

    async def is_erased(self, kind: str, ident: str, session: Session) -> bool:
        return (
            await self.db[ERASED].find_one({"_id": f"{kind}:{ident}"}, session=session) is not None
        )

    # --- mentorships and ties ------------------------------------------------

    async def add_session(
        self, mentorship_id: str, session_id: str, occurred_at: datetime, session: Session
    ) -> tuple[Document | None, bool]:
        """Store a completed session (even for a mentorship not yet known).
        Returns the mentorship as it was before, and whether the session is new."""
        key = derived_id("session", session_id)
        before = await self.db[MENTORSHIPS].find_one_and_update(
            {"_id": mentorship_id},
            {"$set": {f"sessions.{key}": occurred_at}},
            upsert=True,
            return_document=ReturnDocument.BEFORE,
            session=session,
        )
        new = before is None or key not in before.get("sessions", {})
        return before, new

    async def start_mentorship(
        self, mentorship_id: str, mentee: str, mentor: str, programme: str, session: Session
    ) -> Document | None:
        """Record who the mentorship is between; returns the document as it was before."""
        return await self.db[MENTORSHIPS].find_one_and_update(
            {"_id": mentorship_id},
            {"$set": {"mentee": mentee, "mentor": mentor, "programme": programme,
                      "started": True}},
            upsert=True,
            return_document=ReturnDocument.BEFORE,
            session=session,
        )  # fmt: skip

    async def end_mentorship(self, mentorship_id: str, session: Session) -> Document | None:
        return await self.db[MENTORSHIPS].find_one_and_update(
            {"_id": mentorship_id},
            {"$set": {"ended": True}},
            upsert=True,
            return_document=ReturnDocument.BEFORE,
            session=session,
        )

    async def mentorship(self, mentorship_id: str, session: Session) -> Document | None:
        return await self.db[MENTORSHIPS].find_one({"_id": mentorship_id}, session=session)

    async def update_tie(self, a: str, b: str, update: Document, session: Session) -> StoredTie:
        """Apply `update` to the pair's document and return the tie it now describes."""
        low, high = sorted((a, b))
        update = {**update, "$set": {**update.get("$set", {}), "a": low, "b": high}}
        doc = await self.db[TIES].find_one_and_update(
            {"_id": pair_key(a, b)},
            update,
            upsert=True,
            return_document=ReturnDocument.AFTER,
            session=session,
        )
        assert doc is not None  # upserted
        return _stored(doc)

    async def tied_pairs(self, keys: Iterable[str], session: Session) -> set[str]:
        docs = self.db[TIES].find({"_id": {"$in": list(keys)}}, session=session)
        return {d["_id"] async for d in docs if tie_from_doc(d) is not None}

    # --- introductions -------------------------------------------------------

    async def introductions_exist(self, ids: Iterable[str], session: Session) -> set[str]:
        docs = self.db[INTRODUCTIONS].find({"_id": {"$in": list(ids)}}, {"_id": 1}, session=session)
        return {d["_id"] async for d in docs}

    async def add_introduction(self, doc: Document, session: Session) -> None:
        await self.db[INTRODUCTIONS].insert_one(doc, session=session)

    async def introduction(self, intro_id: str, session: Session) -> Document | None:
        return await self.db[INTRODUCTIONS].find_one({"_id": intro_id}, session=session)

    async def update_introduction(self, intro_id: str, update: Document, session: Session) -> None:
        await self.db[INTRODUCTIONS].update_one({"_id": intro_id}, update, session=session)

    async def take_load(self, candidate: str, week: str, cap: int, session: Session) -> int | None:
        """Count one more suggestion naming `candidate` this week, unless the cap is
        reached (None). Two processes racing here conflict, and one retries."""
        key = f"{candidate}|{week}"
        doc = await self.db[LOAD].find_one({"_id": key}, session=session)
        count = 0 if doc is None else int(doc["n"])
        if count >= cap:
            return None
        await self.db[LOAD].update_one(
            {"_id": key},
            {"$set": {"candidate": candidate, "week": week, "n": count + 1}},
            upsert=True,
            session=session,
        )
        return count + 1

    async def last_run(self, person_id: str, session: Session) -> datetime | None:
        doc = await self.db[RUNS].find_one({"_id": person_id}, session=session)
        return None if doc is None else doc["at"]

    async def record_run(self, person_id: str, at: datetime, session: Session) -> None:
        await self.db[RUNS].update_one(
            {"_id": person_id}, {"$max": {"at": at}}, upsert=True, session=session
        )

    # --- reading everything (start-up, reports) ------------------------------

    def all_people(self) -> AsyncCursor[Document]:
        return self.db[PEOPLE].find({}, batch_size=10_000)

    def all_ties(self) -> AsyncCursor[Document]:
        return self.db[TIES].find({}, batch_size=10_000)

    def all_introductions(self) -> AsyncCursor[Document]:
        return self.db[INTRODUCTIONS].find({}, batch_size=10_000)

    def all_load(self) -> AsyncCursor[Document]:
        return self.db[LOAD].find({}, batch_size=10_000)
