"""One contract for both network stores: every test runs against the Mongo store
(real database) and the in-memory one, so the handler tests on memory say what the
service does on MongoDB."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, cast

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from services.network.batch_store import BatchNetworkStore
from services.network.documents import Document, introduction_doc, person_to_doc
from services.network.explanation import Explanation
from services.network.memory_store import MemoryNetworkStore
from services.network.people import Person
from services.network.repository import MongoNetworkStore
from services.network.store import NetworkStore
from services.network.ties import TieKind, pair_key
from shared.events import IntroductionSuggested
from shared.settings import Settings
from tests.network.factories import T0, days
from tests.support import Stack, mongo_client

PSEUDONYMS = Settings().pseudonyms()


@dataclass
class Subject:
    store: NetworkStore
    dump: Callable[[], Awaitable[str]]  # every document, as JSON text


class EachCallABatch:
    """The batch store as the runtime uses it, one batch per call: a fresh store reads
    what the call needs and writes what it changed, so every call goes through the
    database."""

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.db = db

    def __getattr__(self, name: str) -> Callable[..., Awaitable[Any]]:
        async def call(*args: Any, **kwargs: Any) -> Any:
            store = BatchNetworkStore(self.db, None, PSEUDONYMS)
            result = await getattr(store, name)(*args, **kwargs)
            await store.flush()
            return result

        return call


STORES = [
    "memory",
    pytest.param("mongo", marks=pytest.mark.infra),
    # The batch store, one batch for the whole test (what it keeps in memory), and
    # one batch per call (what it reads and writes back).
    pytest.param("one batch", marks=pytest.mark.infra),
    pytest.param("batch per call", marks=pytest.mark.infra),
]


@pytest.fixture(params=STORES)
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def stack_if_needed(kind: str, request: pytest.FixtureRequest) -> Stack | None:
    """The real database's stack for the Mongo stores only (started outside the loop)."""
    return None if kind == "memory" else request.getfixturevalue("stack")


@pytest.fixture
async def subject(kind: str, stack_if_needed: Stack | None) -> AsyncIterator[Subject]:
    if stack_if_needed is None:
        memory = MemoryNetworkStore(PSEUDONYMS)

        async def dump_memory() -> str:
            return json.dumps(memory.documents(), default=str)

        yield Subject(memory, dump_memory)
        return
    client = mongo_client(stack_if_needed.settings())
    db = client[f"contract_{uuid.uuid4().hex[:10]}"]
    await MongoNetworkStore(db).ensure_indexes()
    store: NetworkStore = MongoNetworkStore(db, None, PSEUDONYMS)
    if kind == "one batch":
        store = one_batch = BatchNetworkStore(db, None, PSEUDONYMS)
    elif kind == "batch per call":
        store = cast(NetworkStore, EachCallABatch(db))

    async def dump_mongo() -> str:
        if kind == "one batch":
            await one_batch.flush()
        names = sorted(await db.list_collection_names())
        return json.dumps({n: [d async for d in db[n].find({})] for n in names}, default=str)

    try:
        yield Subject(store, dump_mongo)
    finally:
        await client.drop_database(db.name)
        await client.close()


def intro(person: str, candidate: str, introducer: str) -> dict[str, Any]:
    explanation = Explanation(person, candidate, (introducer,), 1, ())
    data = IntroductionSuggested(
        introduction_id=f"i-{person}-{candidate}", introducer_id=introducer, person_id=person,
        candidate_id=candidate, score=0.5, reasons=list(explanation.reasons()),
    )  # fmt: skip
    return introduction_doc(data, explanation, T0, "2025-W10")


async def test_a_person_is_stored_with_their_revision(subject: Subject) -> None:
    store = subject.store
    assert await store.revision("ann") is None
    await store.save_person(person_to_doc(Person(id="ann", goals=frozenset({"go"})), 3, ["p"]))
    assert await store.revision("ann") == 3
    people = await store.people(["ann", "nobody"])
    assert list(people) == ["ann"] and people["ann"].goals == {"go"}
    assert people["ann"].programme == "p"


async def test_sessions_stored_before_the_start_come_back_with_it(subject: Subject) -> None:
    store = subject.store
    before, new = await store.add_session("m1", "s1", T0)
    assert before is None and new
    _, again = await store.add_session("m1", "s1", T0)
    assert not again
    before = await store.start_mentorship("m1", "ann", "bo", "default", T0)
    assert before is not None and len(before["sessions"]) == 1 and not before.get("started")
    mentorship = await store.mentorship("m1")
    assert mentorship is not None and (mentorship["mentee"], mentorship["started"]) == ("ann", True)


async def test_a_mentorship_tie_is_live_then_alumni_and_sessions_strengthen_it(
    subject: Subject,
) -> None:
    store = subject.store
    live = await store.tie_mentorship("bo", "ann", "m1", ended=False, boost=0.5)
    assert (live.a, live.b) == ("ann", "bo")
    assert live.tie is not None and live.tie.kinds == {TieKind.MENTORSHIP}
    stronger = await store.strengthen_tie("ann", "bo", 0.25)
    assert stronger.tie is not None and stronger.tie.boost == pytest.approx(0.75)
    ended = await store.tie_mentorship("ann", "bo", "m1", ended=True)
    assert ended.tie is not None and ended.tie.kinds == {TieKind.ALUMNI}
    introduced = await store.mark_introduced("ann", "bo")
    assert introduced.tie is not None and TieKind.INTRODUCTION in introduced.tie.kinds
    assert await store.tied_pairs([pair_key("ann", "bo"), pair_key("ann", "cy")]) == {
        pair_key("ann", "bo")
    }


async def test_a_connection_can_be_removed_and_a_late_add_of_it_stays_out(
    subject: Subject,
) -> None:
    store = subject.store
    added = await store.connect("ann", "bo", "c1", {"kind": "colleague", "from": "ann",
                                                    "weight": None, "since": T0})  # fmt: skip
    assert added is not None and added.tie is not None
    assert added.tie.kinds == {TieKind.COLLEAGUE}
    removed = await store.disconnect("ann", "bo", "c1")
    assert removed.tie is None
    assert await store.tied_pairs([pair_key("ann", "bo")]) == set()
    late = await store.connect("ann", "bo", "c1", {"kind": "colleague", "from": "ann",
                                                   "weight": None, "since": T0})  # fmt: skip
    assert late is None


async def test_an_introduction_is_accepted_by_each_then_connected_or_declined(
    subject: Subject,
) -> None:
    store = subject.store
    await store.add_introduction(intro("ann", "bo", "cy"))
    await store.add_introduction(intro("ann", "di", "cy"))
    assert await store.introductions_exist(["i-ann-bo", "i-x-y"]) == {"i-ann-bo"}
    await store.accept_introduction("i-ann-bo", "ann", False, T0)
    first = await store.introduction("i-ann-bo")
    assert first is not None and (first["status"], first["accepted_by"]) == ("suggested", ["ann"])
    await store.accept_introduction("i-ann-bo", "bo", True, T0 + days(1))
    both = await store.introduction("i-ann-bo")
    assert both is not None and both["status"] == "connected"
    assert both["settled_at"] == T0 + days(1)
    await store.decline_introduction("i-ann-di", "di", T0)
    declined = await store.introduction("i-ann-di")
    assert declined is not None and (declined["status"], declined["declined_by"]) == (
        "declined",
        "di",
    )


async def test_an_offer_is_taken_once(subject: Subject) -> None:
    store = subject.store
    offer = {**intro("ann", "bo", "cy"), "stored_at": T0}
    await store.save_offers([offer])
    taken = await store.take_offer(offer["_id"])
    assert taken is not None and taken["candidate"] == "bo"
    assert await store.take_offer(offer["_id"]) is None


async def test_load_is_counted_up_to_the_weekly_cap(subject: Subject) -> None:
    store = subject.store
    assert [await store.take_load("bo", "2025-W10", 2) for _ in range(3)] == [1, 2, None]
    assert await store.take_load("bo", "2025-W11", 2) == 1


async def test_loads_read_together_are_taken_as_if_read_one_by_one(subject: Subject) -> None:
    store = subject.store
    assert await store.take_load("bo", "2025-W10", 2) == 1
    await store.read_loads(["bo", "cy", "dee"], "2025-W10")
    assert await store.take_load("bo", "2025-W10", 2) == 2
    assert await store.take_load("bo", "2025-W10", 2) is None
    assert await store.take_load("cy", "2025-W10", 2) == 1
    await store.read_loads(["cy"], "2025-W10")
    assert await store.take_load("cy", "2025-W10", 2) == 2


async def test_the_latest_run_is_kept(subject: Subject) -> None:
    store = subject.store
    await store.record_run("ann", T0 + days(2))
    await store.record_run("ann", T0)
    assert await store.last_run("ann") == T0 + days(2)


async def test_erasure_keeps_only_keyed_tombstones_and_rewrites_what_named_them(
    subject: Subject,
) -> None:
    store = subject.store
    gone = "erased-person-q7"
    await store.save_person(person_to_doc(Person(id=gone), 1, ["default"]))
    await store.start_mentorship("m-gone", gone, "bo", "default", T0)
    await store.tie_mentorship(gone, "bo", "m-gone", ended=False)
    await store.connect(gone, "cy", "c1", {"kind": "follows", "from": gone, "weight": None,
                                           "since": T0})  # fmt: skip
    await store.add_introduction(intro(gone, "bo", "cy"))
    await store.add_introduction(intro("bo", "cy", gone))
    await store.save_offers([{**intro("di", "bo", gone), "stored_at": T0}])
    await store.take_load(gone, "2025-W10", 3)
    await store.record_run(gone, T0)

    await store.erase(gone)

    assert await store.is_erased("person", gone)
    assert await store.is_erased("mentorship", "m-gone")
    assert not await store.is_erased("person", "bo")
    text = await subject.dump()
    assert gone not in text and "m-gone" not in text
    kept = await store.introduction("i-bo-cy")
    assert kept is not None and kept["introducer"] is None
    assert kept["reasons"] == ["1 mutual contact of bo and cy: someone who has left"]
