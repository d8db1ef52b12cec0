"""The notifier's state in MongoDB, bound to one transaction's session.

Collections: `mentorships`, `proposals`, `people` (a person's zones and the times of
their recent nudges, for the weekly limit), `tombstones` (erased people, by keyed
one-way name), `timers`, `nudges` (what was sent, for reports), `watermarks` (latest
event time committed, one document per process), and `leases` (`timers.Leases`),
which erasure clears too. `docs/privacy.md` says what each keeps and for how long.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING, ReplaceOne, UpdateOne
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

from .engine import Nudge, Timer
from .facts import MentorshipFacts, PersonFacts, ProposalFacts, instant

Document = dict[str, Any]


def _document(model_id: str, body: Document) -> Document:
    body = dict(body)
    body.pop("id", None)
    return {"_id": model_id, **body}


def _fields(doc: Document) -> Document:
    body = dict(doc)
    body["id"] = body.pop("_id")
    return body


def timer_document(timer: Timer) -> Document:
    return _document(timer.id, timer.model_dump())


def timer_from(doc: Document) -> Timer:
    return Timer.model_validate(_fields(doc))


class MongoStore:
    """`NotifierStore` on MongoDB; every call runs in `session` (the unit of work)."""

    def __init__(self, db: AsyncDatabase[Document], session: AsyncClientSession | None) -> None:
        self.db = db
        self.session = session
        # One read of a person's document serves both their zones and their send log;
        # a store lives for one unit of work, so the cache cannot go stale.
        self._people: dict[str, Document | None] = {}

    async def _person_doc(self, person_id: str) -> Document | None:
        if person_id not in self._people:
            self._people[person_id] = await self.db.people.find_one(
                {"_id": person_id}, session=self.session
            )
        return self._people[person_id]

    @staticmethod
    async def ensure_indexes(db: AsyncDatabase[Document]) -> None:
        await db.timers.create_index([("state", ASCENDING), ("at", ASCENDING)])
        await db.timers.create_index(
            [("recipient", ASCENDING), ("state", ASCENDING), ("at", ASCENDING)]
        )
        await db.timers.create_index("subject")
        await db.timers.create_index("people")
        await db.mentorships.create_index("people")
        await db.proposals.create_index("people")
        await db.nudges.create_index("people")
        await db.leases.create_index("until")

    # --- erasure -----------------------------------------------------------------

    async def erased_at(self, tombstones: Sequence[str]) -> datetime | None:
        cursor = self.db.tombstones.find({"_id": {"$in": list(tombstones)}}, session=self.session)
        return max([instant(doc["at"]) async for doc in cursor], default=None)

    async def forget(self, person_id: str, tombstone: str, at: datetime) -> None:
        s = self.session
        await self.db.tombstones.update_one(
            {"_id": tombstone}, {"$max": {"at": at}}, upsert=True, session=s
        )
        await self.db.people.delete_one({"_id": person_id}, session=s)
        self._people.pop(person_id, None)
        await self.db.timers.delete_many({"people": person_id}, session=s)
        await self.db.nudges.delete_many({"people": person_id}, session=s)
        # Whoever holds the lease finds nothing left to settle; a dead holder's lease
        # would otherwise keep the id until someone happens to need that person again.
        await self.db.leases.delete_many({"_id": person_id}, session=s)

    # --- facts -------------------------------------------------------------------

    async def mentorship(self, mentorship_id: str) -> MentorshipFacts | None:
        doc = await self.db.mentorships.find_one({"_id": mentorship_id}, session=self.session)
        return MentorshipFacts.model_validate(_fields(doc)) if doc else None

    async def mentorships_of(self, person_id: str) -> list[MentorshipFacts]:
        cursor = self.db.mentorships.find({"people": person_id}, session=self.session)
        return [MentorshipFacts.model_validate(_fields(d)) async for d in cursor]

    async def save_mentorship(self, facts: MentorshipFacts) -> None:
        doc = _document(facts.id, {**facts.model_dump(), "people": list(facts.named)})
        await self.db.mentorships.replace_one(
            {"_id": facts.id}, doc, upsert=True, session=self.session
        )

    async def proposal(self, match_id: str) -> ProposalFacts | None:
        doc = await self.db.proposals.find_one({"_id": match_id}, session=self.session)
        return ProposalFacts.model_validate(_fields(doc)) if doc else None

    async def proposals_of(self, person_id: str) -> list[ProposalFacts]:
        cursor = self.db.proposals.find({"people": person_id}, session=self.session)
        return [ProposalFacts.model_validate(_fields(d)) async for d in cursor]

    async def save_proposal(self, facts: ProposalFacts) -> None:
        doc = _document(facts.id, {**facts.model_dump(), "people": list(facts.named)})
        await self.db.proposals.replace_one(
            {"_id": facts.id}, doc, upsert=True, session=self.session
        )

    async def person(self, person_id: str) -> PersonFacts | None:
        doc = await self._person_doc(person_id)
        return PersonFacts.model_validate(_fields(doc)) if doc else None

    async def save_person(self, facts: PersonFacts) -> None:
        zones = facts.model_dump()["zones"]
        await self.db.people.update_one(
            {"_id": facts.id}, {"$set": {"zones": zones}}, upsert=True, session=self.session
        )
        self._people.pop(facts.id, None)

    # --- timers ------------------------------------------------------------------

    async def subject_timers(self, subject: str) -> list[Timer]:
        cursor = self.db.timers.find({"subject": subject}, session=self.session)
        return [timer_from(d) async for d in cursor]

    async def add_timers(self, timers: Sequence[Timer]) -> None:
        if timers:
            ops = [
                UpdateOne({"_id": t.id}, {"$setOnInsert": timer_document(t)}, upsert=True)
                for t in timers
            ]
            await self.db.timers.bulk_write(ops, ordered=False, session=self.session)

    async def remove_timers(self, timer_ids: Sequence[str]) -> None:
        if timer_ids:
            await self.db.timers.delete_many(
                {"_id": {"$in": list(timer_ids)}, "state": "pending"}, session=self.session
            )

    async def save_timers(self, timers: Sequence[Timer]) -> None:
        if timers:
            ops = [ReplaceOne({"_id": t.id}, timer_document(t)) for t in timers]
            await self.db.timers.bulk_write(ops, ordered=False, session=self.session)

    async def timers_at(self, recipient: str, at: datetime) -> list[Timer]:
        cursor = self.db.timers.find(
            {"recipient": recipient, "state": "pending", "at": at}, session=self.session
        )
        return sorted([timer_from(d) async for d in cursor], key=lambda t: t.id)

    # --- sending -----------------------------------------------------------------

    async def sent_log(self, recipient: str) -> list[datetime]:
        doc = await self._person_doc(recipient)
        return [instant(x) for x in doc.get("sent", [])] if doc else []

    async def save_sent_log(self, recipient: str, sent: Sequence[datetime]) -> None:
        await self.db.people.update_one(
            {"_id": recipient}, {"$set": {"sent": list(sent)}}, upsert=True, session=self.session
        )
        self._people.pop(recipient, None)

    async def record_nudges(self, nudges: Sequence[Nudge]) -> None:
        if not nudges:
            return
        docs = [
            {
                "_id": n.data.nudge_id,
                **n.data.model_dump(exclude={"nudge_id"}),
                "at": n.at,
                "rules": list(n.rule_ids),
                "timers": list(n.timer_ids),
                "people": list(n.people),
            }
            for n in nudges
        ]
        ops = [ReplaceOne({"_id": d["_id"]}, d, upsert=True) for d in docs]
        await self.db.nudges.bulk_write(ops, ordered=False, session=self.session)

    # --- event time --------------------------------------------------------------

    async def advance_watermark(self, process_id: str, at: datetime) -> None:
        await self.db.watermarks.update_one(
            {"_id": process_id}, {"$max": {"time": at}}, upsert=True, session=self.session
        )

    async def watermark(self) -> datetime | None:
        cursor = self.db.watermarks.find({}, session=self.session).sort("time", DESCENDING)
        docs = await cursor.limit(1).to_list()
        return instant(docs[0]["time"]) if docs else None
