"""Fixtures shared by the notifier's real-database tests."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from services.notifier.repository import MongoNotifierStore
from shared.settings import Settings
from tests.support import mongo_client


@pytest.fixture
async def db(fresh: Callable[..., Awaitable[Settings]]) -> AsyncIterator[AsyncDatabase[Any]]:
    """The notifier's own database, indexed, in fresh isolated settings."""
    settings = await fresh()
    client = mongo_client(settings)
    database = client[settings.database_name("notifier")]
    await MongoNotifierStore.ensure_indexes(database)
    yield database
    await client.drop_database(database.name)
    await client.close()
