"""The notifier's state in MongoDB, bound to one transaction's session.

Collections: `mentorships`, `proposals`, `people` (a person's zones and the times of
their recent nudges, for the weekly limit), `tombstones` (erased people, by keyed
one-way name), `timers`, `nudges` (what was sent, for reports), `watermarks` (latest
event time committed, one document per process), and `leases` (`timers.Leases`),
which erasure clears too. `docs/privacy.md` says what each keeps and for how long.

A store remembers every document it read or wrote and answers later reads from that,
so a read always sees the store's own earlier writes. Its writes wait in a buffer
until `flush()`, which sends one bulk write per collection. A store of a batch
(`MongoNotifierStore.of_batch`) flushes once, just before the batch's transaction
commits; a store made with `MongoNotifierStore(db, session)` flushes after every write.
Either way it lives no longer than one transaction (or, without one, one sequence of
calls that nobody else writes under, as in tests): what it remembers is not re-read.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Generic, TypeVar

from pymongo import ASCENDING, DESCENDING, DeleteMany, InsertOne, ReplaceOne, UpdateOne
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

from shared.documents import Document, in_slices
from shared.runtime import UnitOfWork

from .engine import Nudge, Timer
from .facts import (
    MentorshipFacts,
    PersonFacts,
    ProposalFacts,
    instant,
    parse_subject_key,
    subject_key,
)

Facts = TypeVar("Facts", MentorshipFacts, ProposalFacts)
Model = TypeVar("Model")
# Under this key a batch keeps its one notifier store (`shared.runtime.BatchScope`).
BATCH_KEY = "notifier.MongoNotifierStore"
WriteOp = InsertOne[Document] | ReplaceOne[Document] | UpdateOne | DeleteMany


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


def _facts_document(facts: MentorshipFacts | ProposalFacts) -> Document:
    return _document(facts.id, {**facts.model_dump(), "people": list(facts.named)})


class _Collection(Generic[Model]):
    """What a store knows of one collection: each document it read or wrote, as a
    model (None: absent), which of them the database holds, and which changed since
    the last flush. Writes follow from that: a new document is inserted (cheaper than
    an upsert), a stored one replaced, a removed one deleted."""

    def __init__(
        self,
        name: str,
        to_doc: Callable[[Model], Document],
        from_doc: Callable[[Document], Model],
        delete_only: Document | None = None,
    ) -> None:
        self.name = name
        self.to_doc = to_doc
        self.from_doc = from_doc
        # A deletion applies only to a document that still matches this.
        self.delete_only = delete_only or {}
        self.known: dict[str, Model | None] = {}
        self.stored: set[str] = set()
        self.dirty: set[str] = set()
        # Written without having been read: whether the database holds them is asked
        # at the flush, in one query.
        self.unsure: set[str] = set()

    def learn(self, doc: Document) -> Model | None:
        """A document as read from the database; what the store wrote itself since is
        newer, and wins."""
        ident = doc["_id"]
        if ident not in self.known:
            self.known[ident] = self.from_doc(doc)
            self.stored.add(ident)
        return self.known[ident]

    async def load(
        self, db: AsyncDatabase[Document], session: AsyncClientSession | None, ids: Iterable[str]
    ) -> None:
        for unknown in in_slices(sorted({i for i in ids if i not in self.known})):
            cursor = db[self.name].find({"_id": {"$in": unknown}}, session=session)
            async for doc in cursor:
                self.learn(doc)
            for ident in unknown:
                self.known.setdefault(ident, None)

    def put(self, ident: str, model: Model | None) -> None:
        if ident not in self.known:
            self.unsure.add(ident)
        self.known[ident] = model
        self.dirty.add(ident)

    def present(self) -> list[Model]:
        return [m for m in self.known.values() if m is not None]

    async def writes(
        self, db: AsyncDatabase[Document], session: AsyncClientSession | None
    ) -> list[WriteOp]:
        unsure = sorted(self.unsure & self.dirty)
        if unsure:
            cursor = db[self.name].find({"_id": {"$in": unsure}}, {"_id": 1}, session=session)
            self.stored |= {doc["_id"] async for doc in cursor}
        self.unsure.clear()
        ops: list[WriteOp] = []
        removed: list[str] = []
        for ident in sorted(self.dirty):
            model = self.known[ident]
            if model is None:
                if ident in self.stored:
                    removed.append(ident)
                    self.stored.discard(ident)
            elif ident in self.stored:
                ops.append(ReplaceOne({"_id": ident}, self.to_doc(model)))
            else:
                ops.append(InsertOne(self.to_doc(model)))
                self.stored.add(ident)
        self.dirty.clear()
        # One statement per slice of ids rather than one per document: the same
        # documents go, for less than half the server's work on SecantusDB.
        ops += [DeleteMany({"_id": {"$in": ids}, **self.delete_only}) for ids in in_slices(removed)]
        return ops


def _same(doc: Document) -> Document:
    return doc


def _facts(model: type[Facts]) -> Callable[[Document], Facts]:
    def parse(doc: Document) -> Facts:
        return model.model_validate(_fields(doc))

    return parse


class MongoNotifierStore:
    """`NotifierStore` on MongoDB; every call runs in `session` (see the module
    docstring for what it remembers and when it writes)."""

    def __init__(
        self,
        db: AsyncDatabase[Document],
        session: AsyncClientSession | None,
        *,
        buffered: bool = False,
    ) -> None:
        self.db = db
        self.session = session
        self.buffered = buffered
        self._mentorships = _Collection("mentorships", _facts_document, _facts(MentorshipFacts))
        self._proposals = _Collection("proposals", _facts_document, _facts(ProposalFacts))
        self._people = _Collection("people", _same, _same)
        # Settling changes a timer that is still pending: a deletion must not undo that.
        self._timers = _Collection("timers", timer_document, timer_from, {"state": "pending"})
        self._nudges = _Collection("nudges", _same, _same)
        self._tombstones: dict[str, datetime | None] = {}
        self._watermarks: dict[str, datetime] = {}
        self._by_subject: dict[str, set[str]] = defaultdict(set)
        self._by_recipient: dict[str, set[str]] = defaultdict(set)
        # Queries whose every match is known: a subject's timers, a recipient's pending
        # timers at one instant, and a recipient's pending timers due by an instant.
        self._subjects_read: set[str] = set()
        self._instants_read: set[tuple[str, datetime]] = set()
        self._due_read: dict[str, datetime] = {}
        # Whether a batch's read-ahead ran (the handler asks for it once per batch).
        self.read_ahead_done = False

    @classmethod
    def of_batch(cls, uow: UnitOfWork) -> MongoNotifierStore:
        """The one store of `uow`'s batch: it writes what the batch's events changed
        once, in bulk, before the batch commits."""

        def build() -> MongoNotifierStore:
            store = cls(uow.batch.db, uow.batch.session, buffered=True)
            uow.batch.before_commit(store.flush)
            return store

        return uow.batch.cached(BATCH_KEY, build)

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

    # --- writing -------------------------------------------------------------------

    async def flush(self) -> None:
        """Write everything buffered: at most one bulk write per collection."""
        s = self.session
        for collection in (
            self._mentorships,
            self._proposals,
            self._people,
            self._timers,
            self._nudges,
        ):
            ops = await collection.writes(self.db, s)
            if ops:
                await self.db[collection.name].bulk_write(ops, ordered=False, session=s)
        if self._watermarks:
            marks = [
                UpdateOne({"_id": p}, {"$max": {"time": at}}, upsert=True)
                for p, at in sorted(self._watermarks.items())
            ]
            self._watermarks = {}
            await self.db.watermarks.bulk_write(marks, ordered=False, session=s)

    async def _written(self) -> None:
        if not self.buffered:
            await self.flush()

    # --- reading ahead ---------------------------------------------------------------

    async def read_ahead(
        self, subjects: Sequence[str], people: Sequence[str], tombstones: Sequence[str]
    ) -> None:
        """One query per collection for what a batch's events will look at, instead of
        one per event (see `NotifierStore.read_ahead`)."""
        self.read_ahead_done = True
        s = self.session
        kinds = [parse_subject_key(key) for key in sorted(set(subjects))]
        await self._mentorships.load(self.db, s, [i for k, i in kinds if k == "mentorship"])
        await self._proposals.load(self.db, s, [i for k, i in kinds if k == "proposal"])
        for unread in in_slices(sorted(set(subjects) - self._subjects_read)):
            async for doc in self.db.timers.find({"subject": {"$in": unread}}, session=s):
                self._learn_timer(doc)
            self._subjects_read.update(unread)
        await self._people.load(self.db, s, people)
        if tombstones:
            await self.erased_at(tombstones)

    # --- erasure -----------------------------------------------------------------

    async def erased_at(self, tombstones: Sequence[str]) -> datetime | None:
        unknown = [t for t in tombstones if t not in self._tombstones]
        if unknown:
            self._tombstones.update(dict.fromkeys(unknown))
            cursor = self.db.tombstones.find({"_id": {"$in": unknown}}, session=self.session)
            async for doc in cursor:
                self._tombstones[doc["_id"]] = instant(doc["at"])
        times = [self._tombstones[t] for t in tombstones]
        return max((t for t in times if t is not None), default=None)

    async def forget(self, person_id: str, tombstone: str, at: datetime) -> None:
        # Erasure is rare and deletes by query: what is buffered goes first, so that
        # the deletions below reach it too.
        await self.flush()
        s = self.session
        await self.db.tombstones.update_one(
            {"_id": tombstone}, {"$max": {"at": at}}, upsert=True, session=s
        )
        self._tombstones.pop(tombstone, None)
        await self.db.people.delete_one({"_id": person_id}, session=s)
        await self.db.timers.delete_many({"people": person_id}, session=s)
        await self.db.nudges.delete_many({"people": person_id}, session=s)
        # Whoever holds the lease finds nothing left to settle; a dead holder's lease
        # would otherwise keep the id until someone happens to need that person again.
        await self.db.leases.delete_many({"_id": person_id}, session=s)
        self._people.known[person_id] = None
        self._people.stored.discard(person_id)
        for timer in self._timers.present():
            if person_id in timer.people:
                self._timers.known[timer.id] = None
                self._timers.stored.discard(timer.id)
        for nudge in self._nudges.present():
            if person_id in nudge["people"]:
                self._nudges.known[nudge["_id"]] = None
                self._nudges.stored.discard(nudge["_id"])

    # --- facts -------------------------------------------------------------------

    async def mentorship(self, mentorship_id: str) -> MentorshipFacts | None:
        await self._mentorships.load(self.db, self.session, [mentorship_id])
        facts = self._mentorships.known[mentorship_id]
        if facts is None:
            self._no_facts(subject_key("mentorship", mentorship_id))
        return facts

    def _no_facts(self, subject: str) -> None:
        """A subject without facts has no timers stored: the workflow saves a subject's
        facts before its timers, and facts are never deleted (only purged)."""
        if not self._by_subject[subject]:
            self._subjects_read.add(subject)

    async def mentorships_of(self, person_id: str) -> list[MentorshipFacts]:
        async for doc in self.db.mentorships.find({"people": person_id}, session=self.session):
            self._mentorships.learn(doc)
        return [m for m in self._mentorships.present() if person_id in m.named]

    async def save_mentorship(self, facts: MentorshipFacts) -> None:
        self._mentorships.put(facts.id, facts)
        await self._written()

    async def proposal(self, match_id: str) -> ProposalFacts | None:
        await self._proposals.load(self.db, self.session, [match_id])
        facts = self._proposals.known[match_id]
        if facts is None:
            self._no_facts(subject_key("proposal", match_id))
        return facts

    async def proposals_of(self, person_id: str) -> list[ProposalFacts]:
        async for doc in self.db.proposals.find({"people": person_id}, session=self.session):
            self._proposals.learn(doc)
        return [p for p in self._proposals.present() if person_id in p.named]

    async def save_proposal(self, facts: ProposalFacts) -> None:
        self._proposals.put(facts.id, facts)
        await self._written()

    async def person(self, person_id: str) -> PersonFacts | None:
        await self._people.load(self.db, self.session, [person_id])
        doc = self._people.known[person_id]
        return PersonFacts.model_validate(_fields(doc)) if doc else None

    async def save_person(self, facts: PersonFacts) -> None:
        await self._set_person(facts.id, "zones", facts.model_dump()["zones"])

    async def _set_person(self, person_id: str, name: str, value: object) -> None:
        await self._people.load(self.db, self.session, [person_id])
        doc = self._people.known[person_id] or {"_id": person_id}
        self._people.put(person_id, {**doc, name: value})
        await self._written()

    # --- timers ------------------------------------------------------------------

    def _learn_timer(self, doc: Document) -> None:
        timer = self._timers.learn(doc)
        if timer is not None:
            self._index(timer)

    def _index(self, timer: Timer) -> None:
        self._by_subject[timer.subject].add(timer.id)
        self._by_recipient[timer.recipient].add(timer.id)

    def _known_timers(self, ids: Iterable[str]) -> list[Timer]:
        found = (self._timers.known[i] for i in sorted(ids))
        return [t for t in found if t is not None]

    async def _load_timers(self, timer_ids: Iterable[str]) -> None:
        """Learn the stored state of timers about to be written, so that the write
        follows the same rules as the database would."""
        ids = list(timer_ids)
        await self._timers.load(self.db, self.session, ids)
        for timer in self._known_timers(ids):
            self._index(timer)

    async def subject_timers(self, subject: str) -> list[Timer]:
        if subject not in self._subjects_read:
            async for doc in self.db.timers.find({"subject": subject}, session=self.session):
                self._learn_timer(doc)
            self._subjects_read.add(subject)
        return self._known_timers(self._by_subject[subject])

    async def add_timers(self, timers: Sequence[Timer]) -> None:
        for timer in timers:
            # A subject read in full answers for its timers without asking again.
            if timer.subject in self._subjects_read:
                self._timers.known.setdefault(timer.id, None)
        await self._load_timers(t.id for t in timers)
        for timer in timers:
            if self._timers.known[timer.id] is None:
                self._timers.put(timer.id, timer)
                self._index(timer)
        await self._written()

    async def remove_timers(self, timer_ids: Sequence[str]) -> None:
        await self._load_timers(timer_ids)
        for timer_id in timer_ids:
            timer = self._timers.known[timer_id]
            if timer is not None and timer.state == "pending":
                self._timers.put(timer_id, None)
        await self._written()

    async def save_timers(self, timers: Sequence[Timer]) -> None:
        for timer in timers:
            self._timers.put(timer.id, timer)
            self._index(timer)
        await self._written()

    async def timers_at(self, recipient: str, at: datetime) -> list[Timer]:
        read_by = self._due_read.get(recipient)
        if (recipient, at) not in self._instants_read and (read_by is None or at > read_by):
            query = {"recipient": recipient, "state": "pending", "at": at}
            async for doc in self.db.timers.find(query, session=self.session):
                self._learn_timer(doc)
            self._instants_read.add((recipient, at))
        mine = self._known_timers(self._by_recipient[recipient])
        return [t for t in mine if t.state == "pending" and t.at == at]

    async def load_due(self, recipients: Sequence[str], now: datetime) -> None:
        """Read, in a few queries, what settling `recipients` up to `now` will look at:
        their pending timers due by then, the facts of those timers' subjects, and the
        recipients' own documents (zones, send log)."""
        unread = sorted({r for r in recipients if r not in self._due_read})
        if not unread:
            return
        query = {"recipient": {"$in": unread}, "state": "pending", "at": {"$lte": now}}
        async for doc in self.db.timers.find(query, session=self.session):
            self._learn_timer(doc)
        self._due_read.update(dict.fromkeys(unread, now))
        subjects = {t.subject for r in unread for t in self._known_timers(self._by_recipient[r])}
        kinds = [parse_subject_key(key) for key in sorted(subjects)]
        s = self.session
        await self._mentorships.load(self.db, s, [i for k, i in kinds if k == "mentorship"])
        await self._proposals.load(self.db, s, [i for k, i in kinds if k == "proposal"])
        await self._people.load(self.db, s, unread)

    # --- sending -----------------------------------------------------------------

    async def sent_log(self, recipient: str) -> list[datetime]:
        await self._people.load(self.db, self.session, [recipient])
        doc = self._people.known[recipient]
        return [instant(x) for x in doc.get("sent", [])] if doc else []

    async def save_sent_log(self, recipient: str, sent: Sequence[datetime]) -> None:
        await self._set_person(recipient, "sent", list(sent))

    async def record_nudges(self, nudges: Sequence[Nudge]) -> None:
        for n in nudges:
            doc = {
                "_id": n.data.nudge_id,
                **n.data.model_dump(exclude={"nudge_id"}),
                "at": n.at,
                "rules": list(n.rule_ids),
                "timers": list(n.timer_ids),
                "people": list(n.people),
            }
            self._nudges.put(n.data.nudge_id, doc)
        await self._written()

    # --- event time --------------------------------------------------------------

    async def advance_watermark(self, process_id: str, at: datetime) -> None:
        self._watermarks[process_id] = max(at, self._watermarks.get(process_id, at))
        await self._written()

    async def watermark(self) -> datetime | None:
        """The latest event time any process committed (not what this store buffers)."""
        cursor = self.db.watermarks.find({}, session=self.session).sort("time", DESCENDING)
        docs = await cursor.limit(1).to_list()
        return instant(docs[0]["time"]) if docs else None
