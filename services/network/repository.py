"""The network service's state in MongoDB, the source of truth that every network
process rebuilds its graph from and follows.

Collections: `people` (the profile facts ranking needs), `ties` (one document per
pair: live and ended mentorships, an accepted introduction, session boost, and the
platform's connections by hashed connection id, a removed one as a marker),
`mentorships` (who, and the completed sessions, stored even before the
mentorship is known), `introductions` (every suggestion, `_id` derived from the
pair so a pair can exist once), `offers` (introductions offered on request, until
one of the two accepts or declines, or `OFFER_DAYS` pass), `load` (suggestions
per candidate per ISO week), `runs` (when a person last got suggestions) and `erased` (keyed one-way
tombstones of people and mentorships that were deleted, so a late event cannot
bring them back; `shared/erasure.py`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from pymongo import ReplaceOne, ReturnDocument
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.cursor import AsyncCursor
from pymongo.asynchronous.database import AsyncDatabase

from services.network.documents import (
    Document,
    StoredTie,
    load_key,
    person_from_doc,
    stored_tie,
    tie_from_doc,
    without_person,
)
from services.network.people import Person
from services.network.ties import pair_key
from shared.erasure import Pseudonyms
from shared.events import derived_id

PEOPLE, TIES, MENTORSHIPS, INTRODUCTIONS, OFFERS, LOAD, RUNS, ERASED = (
    "people", "ties", "mentorships", "introductions", "offers", "load", "runs", "erased"
)  # fmt: skip
# Introductions offered on request are kept this long for an acceptance to find.
OFFER_DAYS = 30
# The collections whose changes every process applies to its in-memory state.
FOLLOWED = (PEOPLE, TIES, INTRODUCTIONS, LOAD)


class MongoNetworkStore:
    """The network's documents in MongoDB; every call runs in `session` (the unit of
    work's transaction), or outside any transaction when it is None (start-up,
    reports)."""

    def __init__(
        self,
        db: AsyncDatabase[Document],
        session: AsyncClientSession | None = None,
        pseudonyms: Pseudonyms | None = None,
    ) -> None:
        self.db = db
        self.session = session
        self._pseudonyms = pseudonyms

    @property
    def pseudonyms(self) -> Pseudonyms:
        if self._pseudonyms is None:
            raise RuntimeError("this store was opened without the erasure key (pseudonyms)")
        return self._pseudonyms

    async def ensure_indexes(self) -> None:
        await self.db[TIES].create_index("a")
        await self.db[TIES].create_index("b")
        await self.db[MENTORSHIPS].create_index("mentee")
        await self.db[MENTORSHIPS].create_index("mentor")
        # The `_id` already makes a pair unique; this index says so where it is asked.
        await self.db[INTRODUCTIONS].create_index([("pair", 1)], unique=True)
        for role in ("person", "candidate", "introducer", "mentions"):
            await self.db[INTRODUCTIONS].create_index(role)
        await self.db[LOAD].create_index("candidate")
        for field in ("introducer", "mentions"):
            await self.db[OFFERS].create_index(field)
        await self.db[OFFERS].create_index("stored_at", expireAfterSeconds=OFFER_DAYS * 86_400)

    # --- people ------------------------------------------------------------

    async def revision(self, person_id: str) -> int | None:
        doc = await self.db[PEOPLE].find_one(
            {"_id": person_id}, {"revision": 1}, session=self.session
        )
        return None if doc is None else int(doc["revision"])

    async def save_person(self, doc: Document) -> None:
        await self.db[PEOPLE].replace_one(
            {"_id": doc["_id"]}, doc, upsert=True, session=self.session
        )

    async def people(self, ids: Iterable[str]) -> dict[str, Person]:
        docs = self.db[PEOPLE].find({"_id": {"$in": list(ids)}}, session=self.session)
        return {d["_id"]: person_from_doc(d) async for d in docs}

    async def erase(self, person_id: str) -> None:
        """Remove every trace of the person, remembering only a keyed one-way
        tombstone of their id (and of their mentorships' ids). Introductions they
        merely introduced keep their pair (a declined pair stays declined) but lose
        the introducer, and their reasons are rendered again without them."""
        db, s = self.db, self.session
        gone = [
            d["_id"]
            async for d in db[MENTORSHIPS].find(
                {"$or": [{"mentee": person_id}, {"mentor": person_id}]}, {"_id": 1}, session=s
            )
        ]
        tombstones = [("person", person_id)] + [("mentorship", m) for m in gone]
        for kind, ident in tombstones:
            await db[ERASED].update_one(
                {"_id": self.pseudonyms.tombstone(kind, ident)},
                {"$set": {"kind": kind}},
                upsert=True,
                session=s,
            )
        await db[MENTORSHIPS].delete_many({"_id": {"$in": gone}}, session=s)
        await db[PEOPLE].delete_one({"_id": person_id}, session=s)
        await db[TIES].delete_many({"$or": [{"a": person_id}, {"b": person_id}]}, session=s)
        await db[INTRODUCTIONS].delete_many(
            {"$or": [{"person": person_id}, {"candidate": person_id}]}, session=s
        )
        async for intro in db[INTRODUCTIONS].find(
            {"$or": [{"introducer": person_id}, {"mentions": person_id}]}, session=s
        ):
            await db[INTRODUCTIONS].update_one(
                {"_id": intro["_id"]}, {"$set": without_person(intro, person_id)}, session=s
            )
        await db[OFFERS].delete_many(
            {"$or": [{"mentions": person_id}, {"introducer": person_id}]}, session=s
        )
        await db[LOAD].delete_many({"candidate": person_id}, session=s)
        await db[RUNS].delete_one({"_id": person_id}, session=s)

    async def is_erased(self, kind: str, ident: str) -> bool:
        key = self.pseudonyms.tombstone(kind, ident)
        return await self.db[ERASED].find_one({"_id": key}, session=self.session) is not None

    # --- mentorships and ties ------------------------------------------------

    async def add_session(
        self, mentorship_id: str, session_id: str, occurred_at: datetime
    ) -> tuple[Document | None, bool]:
        """Store a completed session (even for a mentorship not yet known).
        Returns the mentorship as it was before, and whether the session is new."""
        key = derived_id("session", session_id)
        before = await self.db[MENTORSHIPS].find_one_and_update(
            {"_id": mentorship_id},
            {"$set": {f"sessions.{key}": occurred_at}},
            upsert=True,
            return_document=ReturnDocument.BEFORE,
            session=self.session,
        )
        new = before is None or key not in before.get("sessions", {})
        return before, new

    async def start_mentorship(
        self, mentorship_id: str, mentee: str, mentor: str, programme: str, at: datetime
    ) -> Document | None:
        """Record who the mentorship is between; returns the document as it was before."""
        return await self.db[MENTORSHIPS].find_one_and_update(
            {"_id": mentorship_id},
            {"$set": {"mentee": mentee, "mentor": mentor, "programme": programme,
                      "started": True, "started_at": at}},
            upsert=True,
            return_document=ReturnDocument.BEFORE,
            session=self.session,
        )  # fmt: skip

    async def end_mentorship(self, mentorship_id: str) -> Document | None:
        return await self.db[MENTORSHIPS].find_one_and_update(
            {"_id": mentorship_id},
            {"$set": {"ended": True}},
            upsert=True,
            return_document=ReturnDocument.BEFORE,
            session=self.session,
        )

    async def mentorship(self, mentorship_id: str) -> Document | None:
        return await self.db[MENTORSHIPS].find_one({"_id": mentorship_id}, session=self.session)

    async def tie_mentorship(
        self, a: str, b: str, mentorship_id: str, *, ended: bool, boost: float = 0.0
    ) -> StoredTie:
        """Record the mentorship on the pair as live, or as ended (no longer live)."""
        if ended:
            update: Document = {"$pull": {"active": mentorship_id},
                                "$addToSet": {"ended": mentorship_id}}  # fmt: skip
        else:
            update = {"$addToSet": {"active": mentorship_id}}
        if boost:
            update["$inc"] = {"boost": boost}
        return await self._update_tie(a, b, update)

    async def strengthen_tie(self, a: str, b: str, boost: float) -> StoredTie:
        """Add a completed session's credit to the pair."""
        return await self._update_tie(a, b, {"$inc": {"boost": boost}})

    async def mark_introduced(self, a: str, b: str) -> StoredTie:
        """Both accepted an introduction: they know each other now."""
        return await self._update_tie(a, b, {"$set": {"introduced": True}})

    async def _update_tie(self, a: str, b: str, update: Document) -> StoredTie:
        """Apply `update` to the pair's document and return the tie it now describes."""
        low, high = sorted((a, b))
        update = {**update, "$set": {**update.get("$set", {}), "a": low, "b": high}}
        doc = await self.db[TIES].find_one_and_update(
            {"_id": pair_key(a, b)},
            update,
            upsert=True,
            return_document=ReturnDocument.AFTER,
            session=self.session,
        )
        assert doc is not None  # upserted
        return stored_tie(doc)

    async def connect(
        self, a: str, b: str, connection_id: str, connection: Document
    ) -> StoredTie | None:
        """Store one of the platform's connections on the pair; None when this
        connection id was removed before (a late or repeated add)."""
        key = derived_id("connection", connection_id)
        doc = await self.db[TIES].find_one(
            {"_id": pair_key(a, b)}, {f"connections.{key}": 1}, session=self.session
        )
        if ((doc or {}).get("connections") or {}).get(key, {}).get("removed"):
            return None
        return await self._update_tie(a, b, {"$set": {f"connections.{key}": connection}})

    async def disconnect(self, a: str, b: str, connection_id: str) -> StoredTie:
        """Remove a connection, leaving a marker so a late add cannot bring it back."""
        key = derived_id("connection", connection_id)
        return await self._update_tie(a, b, {"$set": {f"connections.{key}": {"removed": True}}})

    async def tied_pairs(self, keys: Iterable[str]) -> set[str]:
        docs = self.db[TIES].find({"_id": {"$in": list(keys)}}, session=self.session)
        return {d["_id"] async for d in docs if tie_from_doc(d) is not None}

    # --- introductions -------------------------------------------------------

    async def introductions_exist(self, ids: Iterable[str]) -> set[str]:
        docs = self.db[INTRODUCTIONS].find(
            {"_id": {"$in": list(ids)}}, {"_id": 1}, session=self.session
        )
        return {d["_id"] async for d in docs}

    async def add_introduction(self, doc: Document) -> None:
        await self.db[INTRODUCTIONS].insert_one(doc, session=self.session)

    async def introduction(self, intro_id: str) -> Document | None:
        return await self.db[INTRODUCTIONS].find_one({"_id": intro_id}, session=self.session)

    async def accept_introduction(
        self, intro_id: str, person_id: str, connected: bool, at: datetime
    ) -> None:
        update: Document = {"$addToSet": {"accepted_by": person_id}}
        if connected:
            update["$set"] = {"status": "connected", "settled_at": at}
        await self.db[INTRODUCTIONS].update_one({"_id": intro_id}, update, session=self.session)

    async def decline_introduction(self, intro_id: str, person_id: str, at: datetime) -> None:
        await self.db[INTRODUCTIONS].update_one(
            {"_id": intro_id},
            {"$set": {"status": "declined", "declined_by": person_id, "settled_at": at}},
            session=self.session,
        )

    async def save_offers(self, docs: Sequence[Document]) -> None:
        """Remember introductions offered on request (the latest offer of a pair wins)."""
        if docs:
            await self.db[OFFERS].bulk_write(
                [ReplaceOne({"_id": d["_id"]}, d, upsert=True) for d in docs],
                session=self.session,
            )

    async def take_offer(self, intro_id: str) -> Document | None:
        """The offered introduction with this id, no longer an offer from now on."""
        return await self.db[OFFERS].find_one_and_delete({"_id": intro_id}, session=self.session)

    async def read_loads(self, candidates: Iterable[str], week: str) -> None:
        return None  # written through: each load is read as it is taken

    async def take_load(self, candidate: str, week: str, cap: int) -> int | None:
        """Count one more suggestion naming `candidate` this week, unless the cap is
        reached (None). Two processes racing here conflict, and one retries."""
        key = load_key(candidate, week)
        doc = await self.db[LOAD].find_one({"_id": key}, session=self.session)
        count = 0 if doc is None else int(doc["n"])
        if count >= cap:
            return None
        await self.db[LOAD].update_one(
            {"_id": key},
            {"$set": {"candidate": candidate, "week": week, "n": count + 1}},
            upsert=True,
            session=self.session,
        )
        return count + 1

    async def last_run(self, person_id: str) -> datetime | None:
        doc = await self.db[RUNS].find_one({"_id": person_id}, session=self.session)
        return None if doc is None else doc["at"]

    async def record_run(self, person_id: str, at: datetime) -> None:
        await self.db[RUNS].update_one(
            {"_id": person_id}, {"$max": {"at": at}}, upsert=True, session=self.session
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
