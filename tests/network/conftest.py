"""Fixtures of the network's handler tests: `net` on the in-memory store, `mongo_net`
on the real database (see `harness.py`)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from shared.settings import Settings
from tests.network.harness import MemoryHarness, MongoHarness, mongo_harness
from tests.support import Stack


@pytest.fixture
def db_settings(stack: Stack) -> Settings:
    tag = "n" + uuid.uuid4().hex[:10]
    return stack.settings(topic_prefix=tag, database_prefix=tag)


@pytest.fixture
async def mongo_net(db_settings: Settings) -> AsyncIterator[MongoHarness]:
    async with mongo_harness(db_settings) as h:
        yield h


@pytest.fixture
def net() -> MemoryHarness:
    return MemoryHarness()
