"""The network's state in memory, for handler tests: the same documents as the
Mongo store (`documents.py`), in one dict per collection."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

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

if TYPE_CHECKING:
    from services.network.store import NetworkStore
from shared.events import derived_id


class MemoryNetworkStore:
    def __init__(self, pseudonyms: Pseudonyms) -> None:
        self.pseudonyms = pseudonyms
        self.collections: dict[str, dict[Any, Document]] = {
            name: {}
            for name in ("people", "ties", "mentorships", "introductions", "offers", "load",
                         "runs", "erased")
        }  # fmt: skip

    def _get(self, collection: str, key: Any) -> Document | None:
        """A copy, as a database read returns one."""
        found = self.collections[collection].get(key)
        return None if found is None else copy.deepcopy(found)

    # --- people and erasure ----------------------------------------------------

    async def revision(self, person_id: str) -> int | None:
        doc = self.collections["people"].get(person_id)
        return None if doc is None else int(doc["revision"])

    async def save_person(self, doc: Document) -> None:
        self.collections["people"][doc["_id"]] = copy.deepcopy(doc)

    async def people(self, ids: Iterable[str]) -> dict[str, Person]:
        stored = self.collections["people"]
        return {pid: person_from_doc(stored[pid]) for pid in ids if pid in stored}

    async def erase(self, person_id: str) -> None:
        c = self.collections
        gone = [m for m, doc in c["mentorships"].items()
                if person_id in (doc.get("mentee"), doc.get("mentor"))]  # fmt: skip
        for kind, ident in [("person", person_id)] + [("mentorship", m) for m in gone]:
            key = self.pseudonyms.tombstone(kind, ident)
            c["erased"][key] = {"_id": key, "kind": kind}
        for m in gone:
            del c["mentorships"][m]
        c["people"].pop(person_id, None)
        _drop(c["ties"], lambda d: person_id in (d["a"], d["b"]))
        _drop(c["introductions"], lambda d: person_id in (d["person"], d["candidate"]))
        for intro in c["introductions"].values():
            if intro.get("introducer") == person_id or person_id in intro.get("mentions", ()):
                intro.update(without_person(intro, person_id))
        _drop(c["offers"], lambda d: person_id in [*d.get("mentions", ()), d["introducer"]])
        _drop(c["load"], lambda d: d["candidate"] == person_id)
        c["runs"].pop(person_id, None)

    async def is_erased(self, kind: str, ident: str) -> bool:
        return self.pseudonyms.tombstone(kind, ident) in self.collections["erased"]

    # --- mentorships and ties ----------------------------------------------------

    async def add_session(
        self, mentorship_id: str, session_id: str, occurred_at: datetime
    ) -> tuple[Document | None, bool]:
        key = derived_id("session", session_id)
        before = self._get("mentorships", mentorship_id)
        doc = self.collections["mentorships"].setdefault(mentorship_id, {"_id": mentorship_id})
        doc.setdefault("sessions", {})[key] = occurred_at
        return before, before is None or key not in before.get("sessions", {})

    async def start_mentorship(
        self, mentorship_id: str, mentee: str, mentor: str, programme: str, at: datetime
    ) -> Document | None:
        before = self._get("mentorships", mentorship_id)
        doc = self.collections["mentorships"].setdefault(mentorship_id, {"_id": mentorship_id})
        doc.update(mentee=mentee, mentor=mentor, programme=programme, started=True, started_at=at)
        return before

    async def end_mentorship(self, mentorship_id: str) -> Document | None:
        before = self._get("mentorships", mentorship_id)
        doc = self.collections["mentorships"].setdefault(mentorship_id, {"_id": mentorship_id})
        doc["ended"] = True
        return before

    async def mentorship(self, mentorship_id: str) -> Document | None:
        return self._get("mentorships", mentorship_id)

    def _tie(self, a: str, b: str) -> Document:
        low, high = sorted((a, b))
        key = pair_key(a, b)
        return self.collections["ties"].setdefault(key, {"_id": key, "a": low, "b": high})

    async def tie_mentorship(
        self, a: str, b: str, mentorship_id: str, *, ended: bool, boost: float = 0.0
    ) -> StoredTie:
        doc = self._tie(a, b)
        if ended:
            doc["active"] = [m for m in doc.get("active", []) if m != mentorship_id]
        state = doc.setdefault("ended" if ended else "active", [])
        if mentorship_id not in state:
            state.append(mentorship_id)
        if boost:
            doc["boost"] = doc.get("boost", 0.0) + boost
        return stored_tie(doc)

    async def strengthen_tie(self, a: str, b: str, boost: float) -> StoredTie:
        doc = self._tie(a, b)
        doc["boost"] = doc.get("boost", 0.0) + boost
        return stored_tie(doc)

    async def mark_introduced(self, a: str, b: str) -> StoredTie:
        doc = self._tie(a, b)
        doc["introduced"] = True
        return stored_tie(doc)

    async def connect(
        self, a: str, b: str, connection_id: str, connection: Document
    ) -> StoredTie | None:
        key = derived_id("connection", connection_id)
        doc = self._tie(a, b)
        connections = doc.setdefault("connections", {})
        if connections.get(key, {}).get("removed"):
            return None
        connections[key] = dict(connection)
        return stored_tie(doc)

    async def disconnect(self, a: str, b: str, connection_id: str) -> StoredTie:
        doc = self._tie(a, b)
        doc.setdefault("connections", {})[derived_id("connection", connection_id)] = {
            "removed": True
        }
        return stored_tie(doc)

    async def tied_pairs(self, keys: Iterable[str]) -> set[str]:
        ties = self.collections["ties"]
        return {k for k in keys if k in ties and tie_from_doc(ties[k]) is not None}

    # --- introductions ---------------------------------------------------------

    async def introductions_exist(self, ids: Iterable[str]) -> set[str]:
        return {i for i in ids if i in self.collections["introductions"]}

    async def add_introduction(self, doc: Document) -> None:
        introductions = self.collections["introductions"]
        if doc["_id"] in introductions:
            raise KeyError(f"duplicate introduction {doc['_id']}")  # as a unique index would
        introductions[doc["_id"]] = copy.deepcopy(doc)

    async def introduction(self, intro_id: str) -> Document | None:
        return self._get("introductions", intro_id)

    async def accept_introduction(
        self, intro_id: str, person_id: str, connected: bool, at: datetime
    ) -> None:
        doc = self.collections["introductions"].get(intro_id)
        if doc is None:
            return
        if person_id not in doc.setdefault("accepted_by", []):
            doc["accepted_by"].append(person_id)
        if connected:
            doc.update(status="connected", settled_at=at)

    async def decline_introduction(self, intro_id: str, person_id: str, at: datetime) -> None:
        doc = self.collections["introductions"].get(intro_id)
        if doc is not None:
            doc.update(status="declined", declined_by=person_id, settled_at=at)

    async def save_offers(self, docs: Sequence[Document]) -> None:
        for doc in docs:
            self.collections["offers"][doc["_id"]] = copy.deepcopy(doc)

    async def take_offer(self, intro_id: str) -> Document | None:
        return self.collections["offers"].pop(intro_id, None)

    async def read_loads(self, candidates: Iterable[str], week: str) -> None:
        return None  # held in memory

    async def take_load(self, candidate: str, week: str, cap: int) -> int | None:
        key = load_key(candidate, week)
        load = self.collections["load"]
        count = int(load.get(key, {}).get("n", 0))
        if count >= cap:
            return None
        load[key] = {"_id": key, "candidate": candidate, "week": week, "n": count + 1}
        return count + 1

    async def last_run(self, person_id: str) -> datetime | None:
        doc = self.collections["runs"].get(person_id)
        return None if doc is None else doc["at"]

    async def record_run(self, person_id: str, at: datetime) -> None:
        runs = self.collections["runs"]
        previous = runs.get(person_id, {}).get("at")
        runs[person_id] = {"_id": person_id, "at": at if previous is None else max(previous, at)}

    def documents(self) -> dict[str, list[Document]]:
        """Every stored document by collection (for tests that read everything)."""
        return {name: list(docs.values()) for name, docs in self.collections.items()}


def _drop(docs: dict[Any, Document], condition: Callable[[Document], bool]) -> None:
    for key in [k for k, d in docs.items() if condition(d)]:
        del docs[key]


if TYPE_CHECKING:  # the in-memory store keeps the handlers' contract

    def _is_a_network_store(store: MemoryNetworkStore) -> NetworkStore:
        return store
