"""Several matcher processes, each ranking on its own mirror of the mentors and the
waiting lines: a stale mirror may miss a match for a while, never over-book, and
reconciliation finds the matches two processes missed. (On the in-memory store: the
store's conditional updates are what these rely on, and the contract tests hold both
stores to them.)"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from shared.events import MatchProposed, ProfileDeleted

from .builders import mentee, profile
from .harness import MemoryHarness, memory_harness


@pytest.fixture
async def a() -> AsyncIterator[MemoryHarness]:
    async with memory_harness() as harness:
        yield harness


async def test_a_process_ranks_mentors_signed_up_elsewhere_once_it_refreshed(
    a: MemoryHarness,
) -> None:
    b = await a.sibling()
    await a.send(profile("m1", "mentor"))
    await b.refresh()
    await b.send(profile("e1"))
    assert [(p.mentee_id, p.mentor_id) for p in a.of(MatchProposed)] == [("e1", "m1")]


async def test_a_stale_mirror_never_overbooks_a_mentor(a: MemoryHarness) -> None:
    await a.send(profile("m1", "mentor", capacity=1))
    b = await a.sibling()  # knows m1 with a free slot
    await a.send(profile("e1"))
    await b.send(profile("e2"))  # b still believes m1 has room
    assert [p.mentee_id for p in a.of(MatchProposed)] == ["e1"]
    mentor = await a.doc("mentors", "m1")
    assert mentor is not None and mentor["load"] == 1


async def test_reconciliation_matches_a_mentor_and_mentee_two_processes_missed(
    a: MemoryHarness,
) -> None:
    b = await a.sibling()
    await a.send(profile("m1", "mentor"))  # nobody waits yet
    await b.send(profile("e1"))  # b has not seen m1 yet
    assert a.of(MatchProposed) == []
    await b.refresh()
    assert await b.reconcile() == 1
    assert [(p.mentee_id, p.mentor_id) for p in a.of(MatchProposed)] == [("e1", "m1")]


async def test_reconciliation_leaves_mentors_alone_when_nobody_new_waits(a: MemoryHarness) -> None:
    await a.send(profile("m1", "mentor", capacity=2))
    await a.send(profile("e1"))
    assert await a.reconcile() == 0


async def test_a_full_reload_drops_mentors_deleted_by_another_process(a: MemoryHarness) -> None:
    await a.send(profile("m1", "mentor"))
    b = await a.sibling()
    await a.send(ProfileDeleted(person_id="m1"))
    assert b.matcher.directory.candidates("default", mentee())
    await b.refresh(full=True)
    assert b.matcher.directory.candidates("default", mentee()) == []


async def test_a_stale_mirror_never_gives_a_mentee_a_second_proposal(a: MemoryHarness) -> None:
    await a.send(profile("e1"))
    b = await a.sibling()  # knows e1 as waiting
    await a.send(profile("m1", "mentor"))
    await b.send(profile("m2", "mentor"))  # b still believes e1 waits
    assert [(p.mentee_id, p.mentor_id) for p in a.of(MatchProposed)] == [("e1", "m1")]
