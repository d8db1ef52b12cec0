"""The matcher on a batch of events: one directory snapshot (one index build) for the
whole batch, reads that see the batch's earlier writes, re-ranking when a mentor fills
up within the batch, and capacity still reserved atomically when the batch's
reservations are written in bulk."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from services.matcher import snapshot
from services.matcher.batch_store import BatchMatcherStore
from services.matcher.profiles import Person
from services.matcher.ranking import MentorIndex
from shared.events import MatchProposed, MatchWithdrawn, ProfileDeleted
from shared.runtime import BatchContended
from shared.settings import Settings
from tests.support import Stack, mongo_client

from .builders import profile
from .harness import Harness, memory_harness, mongo_harness


@pytest.fixture(params=["memory", pytest.param("mongo", marks=pytest.mark.infra)])
def backend(request: pytest.FixtureRequest) -> Stack | None:
    """The real database's address, or None for memory."""
    return request.getfixturevalue("stack") if request.param == "mongo" else None


@pytest.fixture
async def h(backend: Stack | None) -> AsyncIterator[Harness[Any]]:
    if backend is None:
        async with memory_harness() as harness:
            yield harness
        return
    async with mongo_harness(backend) as harness:
        yield harness


@pytest.fixture
def index_builds(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the mentor indexes the directory snapshots build (their sizes)."""
    builds: list[int] = []

    class Counted(MentorIndex):
        def __init__(self, mentors: Any, *args: Any, **kwargs: Any) -> None:
            builds.append(len(mentors))
            super().__init__(mentors, *args, **kwargs)

    monkeypatch.setattr(snapshot, "MentorIndex", Counted)
    return builds


def pairs(h: Harness[Any]) -> list[tuple[str, str]]:
    return [(p.mentee_id, p.mentor_id) for p in h.of(MatchProposed)]


async def test_a_batch_of_signups_is_ranked_against_one_index_build(
    h: Harness[Any], index_builds: list[int]
) -> None:
    for mentor_id in ("m1", "m2", "m3"):
        await h.send(profile(mentor_id, "mentor", skills=["Go"], capacity=5))
    await h.send_batch([profile(f"e{i}", goals=["Go"]) for i in range(8)])
    assert len(pairs(h)) == 8
    assert index_builds == [3]


async def test_each_batch_takes_a_new_snapshot_of_the_directory(
    h: Harness[Any], index_builds: list[int]
) -> None:
    await h.send(profile("m1", "mentor", skills=["Go"], capacity=5))
    await h.send_batch([profile("e1", goals=["Go"]), profile("e2", goals=["Go"])])
    await h.send(profile("m2", "mentor", skills=["Go"], capacity=5))
    await h.send_batch([profile("e3", goals=["Go"]), profile("e4", goals=["Go"])])
    assert index_builds == [1, 2]
    assert len(pairs(h)) == 4


async def test_a_signup_that_lost_the_last_slot_in_its_batch_is_re_ranked_to_another_mentor(
    h: Harness[Any], index_builds: list[int]
) -> None:
    await h.send(profile("m-best", "mentor", skills=["Go", "SQL"], capacity=1))
    await h.send(profile("m-next", "mentor", skills=["Go"], capacity=1))
    # Both rank m-best first on the same snapshot; the first takes its only slot.
    await h.send_batch([profile("e1", goals=["Go", "SQL"]), profile("e2", goals=["Go", "SQL"])])
    assert pairs(h) == [("e1", "m-best"), ("e2", "m-next")]
    assert index_builds == [2]
    for mentor_id in ("m-best", "m-next"):
        found = await h.matcher.stores.unbound().mentor(mentor_id)
        assert found is not None and found[1].load == 1


async def test_a_signup_whose_mentor_another_process_filled_is_re_ranked_to_another_mentor(
    h: Harness[Any],
) -> None:
    await h.send(profile("m-best", "mentor", skills=["Go", "SQL"], capacity=1))
    await h.send(profile("m-next", "mentor", skills=["Go"], capacity=1))
    other = await h.sibling()
    await other.send(profile("e-other", goals=["Go", "SQL"]))
    # This process's directory still shows m-best with room.
    await h.send_batch([profile("e1", goals=["Go", "SQL"])])
    assert pairs(h) == [("e-other", "m-best"), ("e1", "m-next")]


async def test_a_mentee_and_a_mentor_who_sign_up_in_one_batch_are_matched_in_it(
    h: Harness[Any],
) -> None:
    await h.send_batch(
        [
            profile("e-early", goals=["Rust"]),
            profile("m1", "mentor", skills=["Rust"], capacity=2),
            profile("e-late", goals=["Rust"]),
        ]
    )
    assert pairs(h) == [("e-early", "m1"), ("e-late", "m1")]


async def test_a_profile_s_revisions_in_one_batch_apply_in_order(h: Harness[Any]) -> None:
    await h.send(profile("m-go", "mentor", skills=["Go"], capacity=3))
    await h.send_batch(
        [
            profile("e1", revision=1, paused=True, goals=["Go"]),
            profile("e1", revision=2, goals=["Go"]),
            profile("e1", revision=1, goals=["SQL"]),  # stale: ignored
        ]
    )
    person = await h.matcher.stores.unbound().person("e1")
    assert person is not None and (person.revision, person.goals) == (2, {"go": "Go"})
    assert pairs(h) == [("e1", "m-go")]


async def test_a_batch_never_proposes_a_pair_twice_nor_books_a_mentor_past_capacity(
    h: Harness[Any],
) -> None:
    await h.send(profile("m1", "mentor", skills=["Go"], capacity=2))
    await h.send_batch(
        [profile(f"e{i}", goals=["Go"]) for i in range(4)]
        + [profile("e0", goals=["Go"], revision=2, timezone="Europe/Paris")]
    )
    assert sorted(pairs(h)) == [("e0", "m1"), ("e1", "m1")]
    found = await h.matcher.stores.unbound().mentor("m1")
    assert found is not None and found[1].load == 2


async def test_a_batch_delivered_again_changes_nothing(h: Harness[Any]) -> None:
    await h.send(profile("m1", "mentor", skills=["Go"], capacity=3))
    events = await h.send_batch([profile("e1", goals=["Go"]), profile("e2", goals=["Go"])])
    assert await h.redeliver(events) == [False, False]
    assert pairs(h) == [("e1", "m1"), ("e2", "m1")]
    found = await h.matcher.stores.unbound().mentor("m1")
    assert found is not None and found[1].load == 2


async def test_a_person_who_signs_up_and_leaves_in_one_batch_is_erased(h: Harness[Any]) -> None:
    await h.send(profile("m1", "mentor", skills=["Go"], capacity=1))
    await h.send_batch([profile("e1", goals=["Go"]), ProfileDeleted(person_id="e1")])
    store = h.matcher.stores.unbound()
    assert await store.person("e1") is None and await store.is_erased("person", "e1")
    [withdrawn] = h.of(MatchWithdrawn)
    assert (withdrawn.mentee_id, withdrawn.mentor_id) == ("e1", "m1")
    found = await store.mentor("m1")
    assert found is not None and found[1].load == 0


# --- the batch store's safety net -----------------------------------------------------


@pytest.mark.infra
async def test_a_reservation_whose_mentor_filled_up_meanwhile_is_never_written(
    stack: Stack,
) -> None:
    client = mongo_client(stack.settings())
    name = "batch" + uuid.uuid4().hex[:10]
    db = client[name]
    pseudonyms = Settings().pseudonyms()
    try:
        mentor = profile("m1", "mentor", capacity=1)
        first = BatchMatcherStore(db, None, pseudonyms, people=["m1"])
        await first.save_profile(mentor, Person.from_profile(mentor), None)
        await first.flush()
        batch = BatchMatcherStore(db, None, pseudonyms)
        assert await batch.reserve_mentor("m1", 1)
        # Another process takes the last slot before this batch writes its buffer.
        await db["mentors"].update_one({"_id": "m1"}, {"$inc": {"load": 1}})
        with pytest.raises(BatchContended):
            await batch.flush()
        doc = await db["mentors"].find_one({"_id": "m1"})
        assert doc is not None and doc["load"] == 1
    finally:
        await client.drop_database(name)
        await client.close()
