"""Concurrent units on the real database: the store's conditional updates inside the
runtime's transactions never over-book a mentor nor give a mentee two proposals."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from shared.events import MatchProposed
from tests.support import Stack

from .builders import profile
from .harness import MongoHarness, mongo_harness

pytestmark = pytest.mark.infra


@pytest.fixture
async def h(stack: Stack) -> AsyncIterator[MongoHarness]:
    async with mongo_harness(stack) as harness:
        yield harness


async def test_concurrent_signups_never_overbook_a_mentor(h: MongoHarness) -> None:
    await h.send(profile("m1", "mentor", capacity=2))
    await asyncio.gather(*(h.send(profile(f"e{i}")) for i in range(6)))
    assert len(h.of(MatchProposed)) == 2
    doc = await h.doc("mentors", "m1")
    assert doc is not None and doc["load"] == 2


async def test_concurrent_mentors_never_give_a_mentee_two_proposals(h: MongoHarness) -> None:
    await h.send(profile("e1"))
    await asyncio.gather(*(h.send(profile(f"m{i}", "mentor")) for i in range(4)))
    assert len(h.of(MatchProposed)) == 1
