"""What one network process holds in memory: the graph and the introduction
history, loaded from MongoDB at start and then changed only by applying stored
documents (after this process's own commits, and from the change feed for
everyone's), so every process converges on the same state."""

from __future__ import annotations

import gc
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from services.network.documents import Document, person_from_doc, tie_from_doc
from services.network.graph import SocialGraph
from services.network.history import IntroductionHistory
from services.network.policy import NetworkPolicy
from services.network.repository import INTRODUCTIONS, LOAD, PEOPLE, TIES, MongoNetworkStore
from services.network.ties import pair_of

# Sums for the default weights are kept from the start; a programme with its own
# weights adds its table on first use.
DEFAULT_STRENGTHS = NetworkPolicy().strengths


class NetworkState:
    def __init__(self) -> None:
        self.graph = SocialGraph(strengths=(DEFAULT_STRENGTHS,))
        self.history = IntroductionHistory()

    async def load(self, store: MongoNetworkStore) -> None:
        """Rebuild from the database (at start)."""
        self.graph = SocialGraph(strengths=(DEFAULT_STRENGTHS,))
        self.history = IntroductionHistory()
        with _collector_paused():
            async for doc in store.all_people():
                self.apply_person(doc)
            async for doc in store.all_ties():
                self.apply_tie(doc)
            async for doc in store.all_introductions():
                self.apply_introduction(doc)
            async for doc in store.all_load():
                self.apply_load(doc)

    def rebuild(self, people: Iterable[Document], ties: Iterable[Document]) -> None:
        """Rebuild from documents already in memory (benchmarks, tools)."""
        self.graph = SocialGraph(strengths=(DEFAULT_STRENGTHS,))
        self.history = IntroductionHistory()
        with _collector_paused():
            for doc in people:
                self.apply_person(doc)
            for doc in ties:
                self.apply_tie(doc)

    def apply_person(self, doc: Document) -> None:
        self.graph.put_person(person_from_doc(doc))

    def apply_tie(self, doc: Document) -> None:
        tie = tie_from_doc(doc)
        if tie is None:
            self.graph.remove_tie(doc["a"], doc["b"])
        else:
            self.graph.set_tie(doc["a"], doc["b"], tie)

    def apply_introduction(self, doc: Document) -> None:
        self.history.record_pair(doc["person"], doc["candidate"])

    def apply_load(self, doc: Document) -> None:
        self.history.record_load(doc["candidate"], doc["week"], int(doc["n"]))

    def forget_person(self, person_id: str) -> None:
        self.graph.remove_person(person_id)
        self.history.forget_person(person_id)

    def apply_change(self, change: dict[str, Any]) -> None:
        """One change-stream event on a followed collection."""
        collection = change["ns"]["coll"]
        key = change["documentKey"]["_id"]
        doc = change.get("fullDocument")
        if change["operationType"] == "delete":
            if collection == PEOPLE:
                self.forget_person(key)
            elif collection == TIES:
                self.graph.remove_tie(*pair_of(key))
            elif collection == LOAD:
                candidate, week = key.rsplit("|", 1)
                self.history.forget_load(candidate, week)
            return
        if doc is None:  # gone since: its delete follows
            return
        if collection == PEOPLE:
            self.apply_person(doc)
        elif collection == TIES:
            self.apply_tie(doc)
        elif collection == INTRODUCTIONS:
            self.apply_introduction(doc)
        elif collection == LOAD:
            self.apply_load(doc)


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Building millions of long-lived objects makes the cyclic garbage collector
    rescan them again and again (a 1M-tie rebuild took twice as long); none of them
    form cycles worth collecting meanwhile."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
