"""The contract of `MatcherStore`, run against every store: MongoDB written through, the
batch's MongoDB store (cached, buffered, flushed before each dump as before a commit;
once as one batch for the whole test, once as one batch per call, so every call reads
what earlier ones stored and writes back what it changed) and memory (the fast
tests'), so handler tests on the memory store speak for the service."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, cast

import pytest

from services.matcher.batch_store import BatchMatcherStore
from services.matcher.memory_store import MemoryDatabase, MemoryMatcherStore
from services.matcher.profiles import MentorStanding, Person
from services.matcher.proposals import FollowThrough, Seat, Status
from services.matcher.ranking import Candidate
from services.matcher.repository import MongoMatcherStore
from services.matcher.store import MatcherStore, changed_now
from shared.events import ProfileUpserted
from shared.settings import Settings
from tests.support import Stack, mongo_client

from .builders import profile
from .harness import T0

PSEUDONYMS = Settings().pseudonyms()


@dataclass
class Subject:
    store: MatcherStore
    dump: Callable[[], Awaitable[str]]  # every document the store holds, as JSON text


class EachCallABatch:
    """The batch store as the runtime uses it, one batch per call: a fresh store reads
    what the call needs and writes what it changed before the call returns."""

    def __init__(self, db: Any) -> None:
        self.db = db
        # What the calls' stores touched, for the directory.
        self.touched_mentors: set[str] = set()
        self.touched_mentees: set[str] = set()

    def __getattr__(self, name: str) -> Callable[..., Awaitable[Any]]:
        async def call(*args: Any, **kwargs: Any) -> Any:
            store = BatchMatcherStore(self.db, None, PSEUDONYMS)
            result = await getattr(store, name)(*args, **kwargs)
            await store.flush()
            self.touched_mentors |= store.touched_mentors
            self.touched_mentees |= store.touched_mentees
            return result

        return call


@pytest.fixture(
    params=[
        "memory",
        pytest.param("mongo", marks=pytest.mark.infra),
        pytest.param("mongo-batch", marks=pytest.mark.infra),
        pytest.param("mongo-batch-per-call", marks=pytest.mark.infra),
    ]
)
def backend(request: pytest.FixtureRequest) -> tuple[str, Stack | None]:
    """Which store, and the real database's address (None for memory)."""
    name = str(request.param)
    return name, request.getfixturevalue("stack") if name != "memory" else None


@pytest.fixture
async def subject(backend: tuple[str, Stack | None]) -> AsyncIterator[Subject]:
    kind, stack = backend
    if stack is None:
        db = MemoryDatabase()

        async def dump_memory() -> str:
            return json.dumps(db.collections, default=str)

        yield Subject(MemoryMatcherStore(db, PSEUDONYMS), dump_memory)
        return
    client = mongo_client(stack.settings())
    name = "contract" + uuid.uuid4().hex[:10]
    database = client[name]
    await MongoMatcherStore.ensure_indexes(database)

    store: MatcherStore = MongoMatcherStore(database, None, PSEUDONYMS)
    if kind == "mongo-batch":
        store = BatchMatcherStore(database, None, PSEUDONYMS, people=["e1", "e2", "m1", "m2"])
    elif kind == "mongo-batch-per-call":
        store = cast(MatcherStore, EachCallABatch(database))

    async def dump_mongo() -> str:
        if isinstance(store, BatchMatcherStore):
            await store.flush()
        everything = {
            c: [doc async for doc in database[c].find()]
            for c in await database.list_collection_names()
        }
        return json.dumps(everything, default=str)

    try:
        yield Subject(store, dump_mongo)
    finally:
        await client.drop_database(name)
        await client.close()


async def signed_up(store: MatcherStore, data: ProfileUpserted) -> Person:
    person = Person.from_profile(data)
    await store.save_profile(data, person, await store.person(data.person_id))
    return person


def candidate(mentee: Person, mentor: Person, programme: str = "default") -> Candidate:
    return Candidate(
        programme_id=programme, mentee=mentee, mentor=mentor, standing=MentorStanding(),
        score=0.5, mentor_score=0.4, components={"goal_coverage": 0.5},
        reasons=("Goal 'Go' is covered",),
    )  # fmt: skip


async def proposed(store: MatcherStore, match_id: str, mentee: str = "e1", mentor: str = "m1",
                   expires_in: timedelta = timedelta(days=7)) -> None:  # fmt: skip
    learner = await signed_up(store, profile(mentee))
    teacher = await signed_up(store, profile(mentor, "mentor"))
    await store.open_proposal(match_id, candidate(learner, teacher), T0, T0 + expires_in)


# --- people and mentors ----------------------------------------------------------------


async def test_a_saved_profile_is_read_back_and_a_mentor_starts_with_a_clean_standing(
    subject: Subject,
) -> None:
    store = subject.store
    await signed_up(store, profile("m1", "mentor", skills=["Go"], capacity=3))
    person = await store.person("m1")
    found = await store.mentor("m1")
    assert person is not None and person.skills == {"go": "Go"}
    assert found is not None and found[1] == MentorStanding()
    assert await store.person("nobody") is None and await store.mentor("nobody") is None
    assert "m1" in store.touched_mentors


async def test_a_mentor_who_stops_mentoring_keeps_the_load_but_gets_no_capacity(
    subject: Subject,
) -> None:
    store = subject.store
    await signed_up(store, profile("m1", "mentor", capacity=2))
    assert await store.reserve_mentor("m1", 2)
    await signed_up(store, profile("m1", "mentee", revision=2))
    [record] = await store.mentor_records(mentor_ids=["m1"])
    assert (record.capacity, record.standing.load) == (0, 1)


async def test_mentors_in_a_programme_are_listed_in_id_order(subject: Subject) -> None:
    store = subject.store
    for mentor_id, programmes in [("m2", ["wit"]), ("m1", ["default", "wit"]), ("m3", ["x"])]:
        await signed_up(store, profile(mentor_id, "mentor", programmes=programmes))
    assert [m.person_id for m, _ in await store.mentors_in("wit")] == ["m1", "m2"]


async def test_a_reservation_takes_room_up_to_the_capacity_and_no_more(subject: Subject) -> None:
    store = subject.store
    await signed_up(store, profile("m1", "mentor", capacity=2))
    assert [await store.reserve_mentor("m1", 2) for _ in range(3)] == [True, True, False]
    found = await store.mentor("m1")
    assert found is not None and found[1].load == 2


async def test_a_reservation_refuses_a_paused_mentor_or_a_capacity_that_changed(
    subject: Subject,
) -> None:
    store = subject.store
    await signed_up(store, profile("m1", "mentor", capacity=2))
    assert not await store.reserve_mentor("m1", 3)
    await signed_up(store, profile("m1", "mentor", capacity=2, paused=True, revision=2))
    assert not await store.reserve_mentor("m1", 2)
    assert not await store.reserve_mentor("nobody", 2)


async def test_a_release_gives_room_back_but_never_below_zero(subject: Subject) -> None:
    store = subject.store
    await signed_up(store, profile("m1", "mentor", capacity=2))
    await store.reserve_mentor("m1", 2)
    await store.release_mentor("m1")
    await store.release_mentor("m1")
    found = await store.mentor("m1")
    assert found is not None and found[1].load == 0


async def test_answers_are_counted_in_the_mentors_standing(subject: Subject) -> None:
    store = subject.store
    await signed_up(store, profile("m1", "mentor"))
    await store.count_answer("m1", accepted=True)
    await store.count_answer("m1", accepted=False)
    await store.count_answer("m1", accepted=False)
    found = await store.mentor("m1")
    assert found is not None and (found[1].accepted, found[1].declined) == (1, 2)


async def test_follow_through_moves_once_and_a_late_meeting_turns_missed_into_met(
    subject: Subject,
) -> None:
    store = subject.store
    await proposed(store, "x")
    fresh = await store.proposal("x")
    assert fresh is not None and fresh.follow_through is None
    assert await store.mark_follow_through(fresh, FollowThrough.MISSED)
    assert not await store.mark_follow_through(fresh, FollowThrough.MISSED)  # moved meanwhile
    missed = await store.proposal("x")
    assert missed is not None and missed.follow_through is FollowThrough.MISSED
    assert await store.mark_follow_through(missed, FollowThrough.MET)
    found = await store.mentor("m1")
    assert found is not None and (found[1].met, found[1].missed) == (1, 0)


# --- seats -----------------------------------------------------------------------------


async def test_a_seat_is_taken_only_while_waiting_and_moved_only_by_its_match(
    subject: Subject,
) -> None:
    store = subject.store
    await store.wait_for_mentor("default", profile("e1"), T0)
    assert await store.seat("default", "e1") is Seat.WAITING
    assert await store.take_seat("default", "e1", "x")
    assert not await store.take_seat("default", "e1", "y")
    assert not await store.move_seat("default", "e1", "y", Seat.MATCHED, T0)
    assert await store.move_seat("default", "e1", "x", Seat.MATCHED, T0)
    assert await store.seat("default", "e1") is Seat.MATCHED
    assert await store.seat("wit", "e1") is None
    assert not await store.take_seat("wit", "e1", "z")


async def test_leaving_programmes_drops_only_loose_seats_outside_those_kept(
    subject: Subject,
) -> None:
    store = subject.store
    for programme in ("a", "b", "c", "d"):
        await store.wait_for_mentor(programme, profile("e1"), T0)
    await store.take_seat("b", "e1", "x")
    await store.take_seat("d", "e1", "y")
    await store.move_seat("d", "e1", "y", Seat.IDLE, T0)
    await store.leave_programmes("e1", keep=["a"])
    seats = [await store.seat(p, "e1") for p in ("a", "b", "c", "d")]
    assert seats == [Seat.WAITING, Seat.PROPOSED, None, None]


async def test_the_waiting_line_of_a_programme_is_in_id_order(subject: Subject) -> None:
    store = subject.store
    for mentee_id in ("e3", "e1", "e2"):
        await store.wait_for_mentor("default", profile(mentee_id), T0)
    await store.wait_for_mentor("wit", profile("e4"), T0)
    await store.take_seat("default", "e2", "x")
    assert [p.person_id for p in await store.waiting_in("default")] == ["e1", "e3"]


# --- proposals -------------------------------------------------------------------------


async def test_a_proposal_is_stored_open_with_its_score_and_reasons(subject: Subject) -> None:
    store = subject.store
    await proposed(store, "x")
    found = await store.proposal("x")
    assert found is not None
    assert (found.status, found.mentee_id, found.mentor_id) == (Status.OPEN, "e1", "m1")
    assert found.expires_at == T0 + timedelta(days=7) and found.accepted_by == frozenset()
    assert "Goal 'Go' is covered" in await subject.dump()
    assert await store.proposal("y") is None


async def test_acceptances_are_recorded_once_and_only_while_open(subject: Subject) -> None:
    store = subject.store
    await proposed(store, "x")
    await store.accept("x", "e1")
    after = await store.accept("x", "e1")
    assert after is not None and after.accepted_by == frozenset({"e1"})
    assert await store.close("x", (Status.OPEN,), Status.DECLINED, T0)
    closed = await store.accept("x", "m1")
    assert closed is not None and closed.accepted_by == frozenset({"e1"})


async def test_a_proposal_closes_only_from_the_statuses_given(subject: Subject) -> None:
    store = subject.store
    await proposed(store, "x")
    assert not await store.close("x", (Status.STARTED,), Status.ENDED, T0)
    assert await store.close("x", (Status.OPEN,), Status.STARTED, T0)
    assert not await store.close("x", (Status.OPEN,), Status.EXPIRED, T0)
    found = await store.proposal("x")
    assert found is not None and found.status is Status.STARTED


async def test_a_persons_proposals_and_pair_history_are_found_by_either_role(
    subject: Subject,
) -> None:
    store = subject.store
    await proposed(store, "b", "e1", "m1")
    await proposed(store, "a", "e1", "m2")
    await proposed(store, "c", "e2", "m1")
    await store.close("a", (Status.OPEN,), Status.DECLINED, T0)
    assert [p.match_id for p in await store.proposals_involving("e1")] == ["b"]
    declined = (Status.DECLINED,)
    assert [p.match_id for p in await store.proposals_involving("e1", declined)] == ["a"]
    assert [p.match_id for p in await store.proposals_involving("m1")] == ["b", "c"]
    assert await store.mentors_proposed_to("e1") == {"m1", "m2"}
    assert await store.mentees_proposed_to("m1") == {"e1", "e2"}


async def test_due_proposals_are_the_open_ones_past_their_time_oldest_first(
    subject: Subject,
) -> None:
    store = subject.store
    await proposed(store, "late", "e1", "m1", timedelta(hours=3))
    await proposed(store, "early", "e2", "m1", timedelta(hours=1))
    await proposed(store, "future", "e3", "m1", timedelta(days=9))
    await proposed(store, "closed", "e4", "m1", timedelta(hours=1))
    await store.close("closed", (Status.OPEN,), Status.DECLINED, T0)
    now = T0 + timedelta(hours=3)
    assert [m for m, _ in await store.due(now)] == ["early", "late"]
    assert [m for m, _ in await store.due(now, limit=1)] == ["early"]


# --- what came before its proposal -------------------------------------------------------


async def test_early_answers_are_kept_once_and_taken_once(subject: Subject) -> None:
    store = subject.store
    await store.keep_early("x", "e1", "accept")
    await store.keep_early("x", "e1", "accept")
    await store.keep_early("x", "", "session")
    await store.keep_early("y", "m1", "decline")
    assert await store.take_early("x") == [("", "session"), ("e1", "accept")]
    assert await store.take_early("x") == []
    assert await store.take_early("y") == [("m1", "decline")]


# --- erasure -------------------------------------------------------------------------------


async def test_forgetting_a_person_leaves_only_one_way_tombstones(subject: Subject) -> None:
    store = subject.store
    gone = "person-" + uuid.uuid4().hex
    await proposed(store, "with-gone", gone, "m1")
    await proposed(store, "other", "e2", "m1")
    await store.wait_for_mentor("default", profile(gone), T0)
    await store.keep_early("with-gone", "m1", "accept")
    await store.keep_early("elsewhere", gone, "decline")
    await store.close("with-gone", (Status.OPEN,), Status.DECLINED, T0)
    await store.forget_person(gone)
    assert gone not in await subject.dump()
    assert await store.person(gone) is None and await store.proposal("with-gone") is None
    assert await store.proposal("other") is not None
    assert await store.take_early("with-gone") == [] and await store.take_early("elsewhere") == []
    assert await store.is_erased("person", gone) and await store.is_erased("match", "with-gone")
    assert not await store.is_erased("person", "e2") and not await store.is_erased("match", "other")


# --- what the directory mirrors ------------------------------------------------------------


async def test_records_are_found_by_id_by_change_stamp_or_all(subject: Subject) -> None:
    store = subject.store
    await signed_up(store, profile("m1", "mentor"))
    await store.wait_for_mentor("default", profile("e1"), T0)
    [mentor] = await store.mentor_records()
    [seat] = await store.seat_records()
    assert (mentor.mentor_id, mentor.profile["person_id"], mentor.capacity) == ("m1", "m1", 2)
    assert (seat.programme_id, seat.mentee_id, seat.seat) == ("default", "e1", Seat.WAITING)
    assert seat.profile is not None and seat.profile["person_id"] == "e1"
    assert await store.mentor_records(mentor_ids=["m2"]) == []
    assert [s.mentee_id for s in await store.seat_records(mentee_ids=["e1", "e2"])] == ["e1"]
    stamp = changed_now()  # everything written after this is newer
    await store.reserve_mentor("m1", 2)
    later = await store.mentor_records(changed_since=stamp + timedelta(microseconds=1))
    assert [r.standing.load for r in later] == [1]
    assert await store.seat_records(changed_since=stamp + timedelta(microseconds=1)) == []
