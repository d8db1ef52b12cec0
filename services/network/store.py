"""What the network's handlers keep and ask, as they see it. MongoDB in the service
(`repository.MongoNetworkStore`, bound to the unit of work's transaction), memory
in tests (`memory_store.MemoryNetworkStore`); one contract test suite runs against
both (tests/network/test_store_contract.py)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Protocol

from services.network.documents import Document, StoredTie
from services.network.people import Person


class NetworkStore(Protocol):
    # --- people and erasure ----------------------------------------------------

    async def revision(self, person_id: str) -> int | None: ...

    async def save_person(self, doc: Document) -> None: ...

    async def people(self, ids: Iterable[str]) -> dict[str, Person]: ...

    async def erase(self, person_id: str) -> None:
        """Remove every trace of the person, keeping only keyed one-way tombstones of
        their id and their mentorships' ids; introductions they only introduced
        lose them, their reasons rendered again with a stand-in."""

    async def is_erased(self, kind: str, ident: str) -> bool: ...

    # --- mentorships and ties ----------------------------------------------------

    async def add_session(
        self, mentorship_id: str, session_id: str, occurred_at: datetime
    ) -> tuple[Document | None, bool]:
        """Store a completed session (even for a mentorship not yet known): the
        mentorship as it was before, and whether the session is new."""

    async def start_mentorship(
        self, mentorship_id: str, mentee: str, mentor: str, programme: str, at: datetime
    ) -> Document | None:
        """Record who the mentorship is between: the document as it was before."""

    async def end_mentorship(self, mentorship_id: str) -> Document | None:
        """Mark it ended: the document as it was before."""

    async def mentorship(self, mentorship_id: str) -> Document | None: ...

    async def tie_mentorship(
        self, a: str, b: str, mentorship_id: str, *, ended: bool, boost: float = 0.0
    ) -> StoredTie:
        """Record the mentorship on the pair as live, or as ended (no longer live)."""

    async def strengthen_tie(self, a: str, b: str, boost: float) -> StoredTie: ...

    async def mark_introduced(self, a: str, b: str) -> StoredTie: ...

    async def connect(
        self, a: str, b: str, connection_id: str, connection: Document
    ) -> StoredTie | None:
        """Store one of the platform's connections; None if this id was removed before."""

    async def disconnect(self, a: str, b: str, connection_id: str) -> StoredTie:
        """Remove a connection for good (a late add of the same id stays out)."""

    async def tied_pairs(self, keys: Iterable[str]) -> set[str]:
        """The pair keys among `keys` whose people are tied."""

    # --- introductions ---------------------------------------------------------

    async def introductions_exist(self, ids: Iterable[str]) -> set[str]: ...

    async def add_introduction(self, doc: Document) -> None: ...

    async def introduction(self, intro_id: str) -> Document | None: ...

    async def accept_introduction(
        self, intro_id: str, person_id: str, connected: bool, at: datetime
    ) -> None: ...

    async def decline_introduction(self, intro_id: str, person_id: str, at: datetime) -> None: ...

    async def save_offers(self, docs: Sequence[Document]) -> None:
        """Remember introductions offered on request (the latest offer of a pair wins)."""

    async def take_offer(self, intro_id: str) -> Document | None:
        """The offered introduction with this id, no longer an offer from now on."""

    async def read_loads(self, candidates: Iterable[str], week: str) -> None:
        """Read, together, the weekly loads `take_load` may ask for next (a store that
        reads each of them cheaply anyway does nothing)."""

    async def take_load(self, candidate: str, week: str, cap: int) -> int | None:
        """Count one more suggestion naming `candidate` this week, unless the cap is
        reached (None)."""

    async def last_run(self, person_id: str) -> datetime | None: ...

    async def record_run(self, person_id: str, at: datetime) -> None: ...
