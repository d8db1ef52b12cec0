"""The network's store for one batch of events: the documents the batch is about read
in a few queries, changed in memory, and written back in bulk just before the commit.

Today's Mongo store costs a round trip or more per step of a handler (is this person
erased, the mentorship as it was, the pair's tie after the session...), so a burst of
events cost the database a dozen round trips each. This store:
- on first use reads what the batch's events name (`named_by`): their people, their
  tombstones, their mentorships, and then the ties and last runs of the people those
  mentorships are between: one `$in` query per collection, twice;
- answers every call from those documents, with the very rules of the in-memory store
  (`MemoryNetworkStore`, the handler tests' store, held to the same contract as the
  Mongo one), reading a document the batch did not name when a call first needs it
  (several ids in one query);
- writes, in `flush` (which the runtime awaits before the commit), each collection
  once: the documents new in the batch with one `insert_many`, those it changed with
  one `bulk_write` of whole-document replacements, those it removed with the same.
Erasure is rare and reaches across collections by field: it writes the buffer, then
erases through `MongoNetworkStore` and forgets what it read.

Nothing about concurrency changes: every document is read and written in the batch's
transaction, so another process that changed one of them meanwhile makes the
transaction conflict and the batch is tried again. A write that finds its document
gone, or a new document already there (a race the transaction did not report), is
`BatchContended` too: the batch is applied again in smaller pieces.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from pymongo import DeleteOne, ReplaceOne
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError

from services.network.documents import StoredTie, load_key
from services.network.memory_store import MemoryNetworkStore
from services.network.people import Person
from services.network.repository import (
    ERASED,
    INTRODUCTIONS,
    LOAD,
    MENTORSHIPS,
    OFFERS,
    PEOPLE,
    RUNS,
    TIES,
    MongoNetworkStore,
)
from services.network.ties import pair_key
from shared.documents import Document, in_slices
from shared.erasure import Pseudonyms
from shared.events import (
    CloudEvent,
    ConnectionAdded,
    ConnectionRemoved,
    EventData,
    GoalCheckedIn,
    IntroductionAccepted,
    IntroductionDeclined,
    MentorshipEnded,
    MentorshipStarted,
    ProfileDeleted,
    ProfileUpserted,
    SessionCompleted,
)
from shared.runtime import DUPLICATE_KEY, BatchContended

# The order the buffer is written in; any order is correct inside one transaction.
COLLECTIONS = (PEOPLE, MENTORSHIPS, TIES, INTRODUCTIONS, OFFERS, LOAD, RUNS, ERASED)

Named = dict[str, set[str]]


class BatchNetworkStore(MongoNetworkStore):
    """A `MongoNetworkStore` for the units of one batch (see the module docstring)."""

    def __init__(
        self,
        db: AsyncDatabase[Document],
        session: AsyncClientSession | None,
        pseudonyms: Pseudonyms,
        events: Iterable[CloudEvent[Any]] = (),
    ) -> None:
        super().__init__(db, session, pseudonyms)
        self._events = list(events)
        self._prefetched = False
        self._forget()

    def _forget(self) -> None:
        self._cache = MemoryNetworkStore(self.pseudonyms)
        # What the database held of each document read, as read (None: not there).
        self._read: dict[tuple[str, Any], Document | None] = {}

    # --- reading what the batch needs --------------------------------------------------

    async def _prefetch(self) -> None:
        if self._prefetched:
            return
        self._prefetched = True
        named = named_by(self._events, self.pseudonyms)
        await self._load_named(named)
        # The pairs behind the mentorships the batch changes: their tie, the mentee's
        # profile and last suggestions; and the pairs of the introductions (or offers)
        # it answers: their tie, which an introduction both accept marks.
        around: Named = {}
        for mentorship_id in named.get(MENTORSHIPS, ()):
            doc = self._cache.collections[MENTORSHIPS].get(mentorship_id)
            if doc is not None and "mentee" in doc:
                _name(around, TIES, pair_key(doc["mentee"], doc["mentor"]))
                _name(around, PEOPLE, doc["mentee"])
                _name(around, RUNS, doc["mentee"])
        for intro_id in named.get(INTRODUCTIONS, ()):
            for collection in (INTRODUCTIONS, OFFERS):
                doc = self._cache.collections[collection].get(intro_id)
                if doc is not None and "person" in doc and "candidate" in doc:
                    _name(around, TIES, pair_key(doc["person"], doc["candidate"]))
        await self._load_named(around)

    async def _load_named(self, named: Named) -> None:
        for collection, ids in named.items():
            await self._load(collection, ids)

    async def _load(self, collection: str, ids: Iterable[Any]) -> None:
        """Read the documents among `ids` that this batch has not read yet."""
        for part in in_slices(i for i in ids if (collection, i) not in self._read):
            found = self.db[collection].find({"_id": {"$in": part}}, session=self.session)
            docs = {doc["_id"]: doc async for doc in found}
            for ident in part:
                doc = docs.get(ident)
                self._read[(collection, ident)] = copy.deepcopy(doc)
                if doc is not None:
                    self._cache.collections[collection][ident] = doc

    async def _ready(self, collection: str, *ids: Any) -> MemoryNetworkStore:
        """The batch's documents, with those of `ids` read."""
        await self._prefetch()
        await self._load(collection, ids)
        return self._cache

    # --- writing it back -------------------------------------------------------------

    async def flush(self) -> None:
        """Write what the batch changed: per collection, new documents in one
        `insert_many`, changed and removed ones in one `bulk_write`."""
        for collection in COLLECTIONS:
            await self._write(collection)

    async def _write(self, collection: str) -> None:
        now = self._cache.collections[collection]
        new: list[Document] = []
        changes: list[ReplaceOne[Document] | DeleteOne] = []
        for (name, ident), before in self._read.items():
            if name != collection:
                continue
            after = now.get(ident)
            if after == before:
                continue
            if before is None:
                new.append(after)  # type: ignore[arg-type]  # after != before
            elif after is None:
                changes.append(DeleteOne({"_id": ident}))
            else:
                changes.append(ReplaceOne({"_id": ident}, after))
            self._read[(name, ident)] = copy.deepcopy(after)
        for ident, doc in now.items():
            # Every call reads its documents before changing them; a document that
            # appears unread is still written, rather than lost.
            if (collection, ident) not in self._read:
                new.append(doc)
                self._read[(collection, ident)] = copy.deepcopy(doc)
        if new:
            try:
                await self.db[collection].insert_many(new, session=self.session)
            except BulkWriteError as exc:
                errors = exc.details.get("writeErrors", [])
                if errors and all(e.get("code") == DUPLICATE_KEY for e in errors):
                    raise _contended(collection, "already stored") from exc
                raise
        if changes:
            result = await self.db[collection].bulk_write(
                changes, ordered=True, session=self.session
            )
            hit = result.matched_count + result.deleted_count
            if hit != len(changes):
                raise _contended(collection, "no longer stored")

    # --- people and erasure ----------------------------------------------------------

    async def revision(self, person_id: str) -> int | None:
        return await (await self._ready(PEOPLE, person_id)).revision(person_id)

    async def save_person(self, doc: Document) -> None:
        await (await self._ready(PEOPLE, doc["_id"])).save_person(doc)

    async def people(self, ids: Iterable[str]) -> dict[str, Person]:
        ids = list(ids)
        return await (await self._ready(PEOPLE, *ids)).people(ids)

    async def erase(self, person_id: str) -> None:
        await self.flush()
        await super().erase(person_id)
        self._forget()
        self._prefetched = False  # what the batch names is read again, as erased

    async def is_erased(self, kind: str, ident: str) -> bool:
        key = self.pseudonyms.tombstone(kind, ident)
        return await (await self._ready(ERASED, key)).is_erased(kind, ident)

    # --- mentorships and ties --------------------------------------------------------

    async def add_session(
        self, mentorship_id: str, session_id: str, occurred_at: datetime
    ) -> tuple[Document | None, bool]:
        cache = await self._ready(MENTORSHIPS, mentorship_id)
        return await cache.add_session(mentorship_id, session_id, occurred_at)

    async def start_mentorship(
        self, mentorship_id: str, mentee: str, mentor: str, programme: str, at: datetime
    ) -> Document | None:
        cache = await self._ready(MENTORSHIPS, mentorship_id)
        return await cache.start_mentorship(mentorship_id, mentee, mentor, programme, at)

    async def end_mentorship(self, mentorship_id: str) -> Document | None:
        return await (await self._ready(MENTORSHIPS, mentorship_id)).end_mentorship(mentorship_id)

    async def mentorship(self, mentorship_id: str) -> Document | None:
        return await (await self._ready(MENTORSHIPS, mentorship_id)).mentorship(mentorship_id)

    async def tie_mentorship(
        self, a: str, b: str, mentorship_id: str, *, ended: bool, boost: float = 0.0
    ) -> StoredTie:
        cache = await self._ready(TIES, pair_key(a, b))
        return await cache.tie_mentorship(a, b, mentorship_id, ended=ended, boost=boost)

    async def strengthen_tie(self, a: str, b: str, boost: float) -> StoredTie:
        return await (await self._ready(TIES, pair_key(a, b))).strengthen_tie(a, b, boost)

    async def mark_introduced(self, a: str, b: str) -> StoredTie:
        return await (await self._ready(TIES, pair_key(a, b))).mark_introduced(a, b)

    async def connect(
        self, a: str, b: str, connection_id: str, connection: Document
    ) -> StoredTie | None:
        cache = await self._ready(TIES, pair_key(a, b))
        return await cache.connect(a, b, connection_id, connection)

    async def disconnect(self, a: str, b: str, connection_id: str) -> StoredTie:
        return await (await self._ready(TIES, pair_key(a, b))).disconnect(a, b, connection_id)

    async def tied_pairs(self, keys: Iterable[str]) -> set[str]:
        keys = list(keys)
        return await (await self._ready(TIES, *keys)).tied_pairs(keys)

    # --- introductions ---------------------------------------------------------------

    async def introductions_exist(self, ids: Iterable[str]) -> set[str]:
        ids = list(ids)
        return await (await self._ready(INTRODUCTIONS, *ids)).introductions_exist(ids)

    async def add_introduction(self, doc: Document) -> None:
        await (await self._ready(INTRODUCTIONS, doc["_id"])).add_introduction(doc)

    async def introduction(self, intro_id: str) -> Document | None:
        return await (await self._ready(INTRODUCTIONS, intro_id)).introduction(intro_id)

    async def accept_introduction(
        self, intro_id: str, person_id: str, connected: bool, at: datetime
    ) -> None:
        cache = await self._ready(INTRODUCTIONS, intro_id)
        await cache.accept_introduction(intro_id, person_id, connected, at)

    async def decline_introduction(self, intro_id: str, person_id: str, at: datetime) -> None:
        cache = await self._ready(INTRODUCTIONS, intro_id)
        await cache.decline_introduction(intro_id, person_id, at)

    async def save_offers(self, docs: Sequence[Document]) -> None:
        await (await self._ready(OFFERS, *(d["_id"] for d in docs))).save_offers(docs)

    async def take_offer(self, intro_id: str) -> Document | None:
        return await (await self._ready(OFFERS, intro_id)).take_offer(intro_id)

    async def read_loads(self, candidates: Iterable[str], week: str) -> None:
        await self._ready(LOAD, *(load_key(candidate, week) for candidate in candidates))

    async def take_load(self, candidate: str, week: str, cap: int) -> int | None:
        cache = await self._ready(LOAD, load_key(candidate, week))
        return await cache.take_load(candidate, week, cap)

    async def last_run(self, person_id: str) -> datetime | None:
        return await (await self._ready(RUNS, person_id)).last_run(person_id)

    async def record_run(self, person_id: str, at: datetime) -> None:
        await (await self._ready(RUNS, person_id)).record_run(person_id, at)


def named_by(events: Iterable[CloudEvent[Any]], pseudonyms: Pseudonyms) -> Named:
    """The documents the events name, by collection (what their handlers read first)."""
    named: Named = {}
    for event in events:
        about = ABOUT.get(type(event.data))
        if about is None:
            continue
        for collection, ident in about(event.data):
            if collection == ERASED:
                kind, name = ident.split(":", 1)
                ident = pseudonyms.tombstone(kind, name)
            _name(named, collection, ident)
    return named


def _name(named: Named, collection: str, ident: str) -> None:
    named.setdefault(collection, set()).add(ident)


def _person(person_id: str) -> list[tuple[str, str]]:
    return [(PEOPLE, person_id), (ERASED, f"person:{person_id}")]


def _mentorship(mentorship_id: str) -> list[tuple[str, str]]:
    return [(MENTORSHIPS, mentorship_id), (ERASED, f"mentorship:{mentorship_id}")]


def _connection(data: ConnectionAdded | ConnectionRemoved) -> list[tuple[str, str]]:
    return [
        (TIES, pair_key(data.person_a, data.person_b)),
        (ERASED, f"person:{data.person_a}"),
        (ERASED, f"person:{data.person_b}"),
    ]


def _started(data: MentorshipStarted) -> list[tuple[str, str]]:
    return [
        *_mentorship(data.mentorship_id),
        *_person(data.mentee_id),
        (ERASED, f"person:{data.mentor_id}"),
        (TIES, pair_key(data.mentee_id, data.mentor_id)),
        (RUNS, data.mentee_id),
    ]


def _checked_in(data: GoalCheckedIn) -> list[tuple[str, str]]:
    return [*_mentorship(data.mentorship_id), *_person(data.person_id), (RUNS, data.person_id)]


def _answered(data: IntroductionAccepted | IntroductionDeclined) -> list[tuple[str, str]]:
    return [(INTRODUCTIONS, data.introduction_id), (OFFERS, data.introduction_id)]


# What each event's handler reads first (a tombstone as "kind:id").
ABOUT: Mapping[type[EventData], Callable[[Any], list[tuple[str, str]]]] = {
    ProfileUpserted: lambda d: _person(d.person_id),
    ProfileDeleted: lambda d: _person(d.person_id),
    MentorshipStarted: _started,
    MentorshipEnded: lambda d: _mentorship(d.mentorship_id),
    SessionCompleted: lambda d: _mentorship(d.mentorship_id),
    GoalCheckedIn: _checked_in,
    IntroductionAccepted: _answered,
    IntroductionDeclined: _answered,
    ConnectionAdded: _connection,
    ConnectionRemoved: _connection,
}


def _contended(collection: str, what: str) -> BatchContended:
    return BatchContended(
        f"a document of {collection} the batch wrote was {what} by another process"
    )
