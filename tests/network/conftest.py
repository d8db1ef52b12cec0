"""A network service on the real database without Kafka: events are applied
through the runtime's transaction exactly as the consumer would, and what would
be published is collected."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from pymongo import AsyncMongoClient

from services.network.main import NetworkService
from shared.events import CloudEvent, IntroductionSuggested, parse_event
from shared.runtime import Document, ServiceRuntime
from shared.settings import Settings
from tests.support import Stack


@dataclass
class Harness:
    service: NetworkService
    runtime: ServiceRuntime
    published: list[CloudEvent[Any]] = field(default_factory=list)

    async def apply(self, event: CloudEvent[Any]) -> bool:
        return await self.runtime.run_once(
            event.id, event.time, lambda uow: self.service.handlers.handle(uow, event)
        )

    async def apply_all(self, *events: CloudEvent[Any]) -> None:
        for e in events:
            await self.apply(e)

    def suggestions(self) -> list[IntroductionSuggested]:
        return [e.data for e in self.published if isinstance(e.data, IntroductionSuggested)]

    @property
    def db(self) -> Any:
        return self.runtime.db


@contextlib.asynccontextmanager
async def harness(settings: Settings, follow: bool = True) -> AsyncIterator[Harness]:
    client: AsyncMongoClient[Document] = AsyncMongoClient(settings.resolved_mongo(), tz_aware=True)
    published: list[CloudEvent[Any]] = []

    async def publisher(topic: str, key: bytes, value: bytes, headers: dict[str, str]) -> None:
        published.append(parse_event(value))

    runtime = ServiceRuntime("network", settings, client, publisher)
    await runtime.ensure_indexes()
    service = NetworkService(settings)
    await service.prepare(runtime)
    task = asyncio.create_task(service.follow(runtime)) if follow else None
    try:
        yield Harness(service, runtime, published)
    finally:
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await client.close()


@pytest.fixture
def db_settings(stack: Stack) -> Settings:
    tag = "n" + uuid.uuid4().hex[:10]
    return stack.settings(topic_prefix=tag, database_prefix=tag)


@pytest.fixture
async def net(db_settings: Settings) -> AsyncIterator[Harness]:
    async with harness(db_settings) as h:
        yield h
