"""The network's handlers without Kafka: on the in-memory store (`MemoryHarness`, most
handler tests, milliseconds), or on the real database through the runtime's
transaction exactly as the consumer applies them (`mongo_harness`, for what needs
MongoDB: the erasure scan of every collection, rebuilds, two processes following
each other's commits). Both collect what would be published."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from pymongo import AsyncMongoClient

from services.network.handlers import NetworkHandlers
from services.network.main import NetworkService
from services.network.memory_store import MemoryNetworkStore
from services.network.policy import policy_book
from services.network.state import NetworkState
from shared.documents import Document
from shared.events import CloudEvent, IntroductionSuggested, parse_event
from shared.runtime import ServiceRuntime, UnitOfWork
from shared.settings import Settings


class Applies:
    published: list[CloudEvent[Any]]

    async def apply(self, event: CloudEvent[Any]) -> bool:
        raise NotImplementedError

    async def apply_all(self, *events: CloudEvent[Any]) -> None:
        for e in events:
            await self.apply(e)

    def suggestions(self) -> list[IntroductionSuggested]:
        return [e.data for e in self.published if isinstance(e.data, IntroductionSuggested)]


@dataclass
class MongoHarness(Applies):
    """The service's handlers on the real database, through the runtime."""

    service: NetworkService
    runtime: ServiceRuntime
    published: list[CloudEvent[Any]] = field(default_factory=list)

    async def apply(self, event: CloudEvent[Any]) -> bool:
        return await self.runtime.run_once(
            event.id, event.time, lambda uow: self.service.handlers.handle(uow, event)
        )

    @property
    def state(self) -> NetworkState:
        return self.service.state

    @property
    def db(self) -> Any:
        return self.runtime.db

    async def documents(self, collection: str) -> list[dict[str, Any]]:
        return [d async for d in self.db[collection].find({})]


@dataclass
class MemoryHarness(Applies):
    """The same handlers on the in-memory store: each event applied once by id, its
    after-commit changes applied, its events collected."""

    state: NetworkState = field(default_factory=NetworkState)
    store: MemoryNetworkStore = field(
        default_factory=lambda: MemoryNetworkStore(Settings().pseudonyms())
    )
    published: list[CloudEvent[Any]] = field(default_factory=list)
    applied: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.handlers = NetworkHandlers(self.state, policy_book(), lambda _: self.store)

    async def apply(self, event: CloudEvent[Any]) -> bool:
        if event.id in self.applied:
            return False
        uow = UnitOfWork(event.id, event.time, None, None, "/mentormesh/network")  # type: ignore[arg-type]
        await self.handlers.handle(uow, event)
        self.applied.add(event.id)
        uow.committed()
        self.published.extend(uow.emitted)
        return True

    async def documents(self, collection: str) -> list[dict[str, Any]]:
        return list(self.store.collections[collection].values())


@contextlib.asynccontextmanager
async def mongo_harness(settings: Settings, follow: bool = True) -> AsyncIterator[MongoHarness]:
    client: AsyncMongoClient[Document] = AsyncMongoClient(settings.resolved_mongo(), tz_aware=True)
    published: list[CloudEvent[Any]] = []

    async def publisher(topic: str, key: bytes, value: bytes, headers: dict[str, str]) -> None:
        published.append(parse_event(value))

    runtime = ServiceRuntime("network", settings, client, publisher)
    await runtime.ensure_indexes()
    service = NetworkService(policy_book(settings.programmes_dir), settings.pseudonyms())
    await service.prepare(runtime)
    task = asyncio.create_task(service.follow(runtime)) if follow else None
    try:
        yield MongoHarness(service, runtime, published)
    finally:
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await client.close()
