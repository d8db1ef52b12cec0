"""One notifier process's own path without the broker: each event applied by the
service's handler in the runtime's transaction on MongoDB, due timers fired by
`Firing` on the `WatermarkClock`, and the nudges the runtime publishes collected
(`mongo_harness`). On the in-memory store the notifier's tests use its simulator
(`services/notifier/simulator.py`) instead."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from services.notifier.clock import WatermarkClock
from services.notifier.firing import Firing
from services.notifier.handlers import NotifierHandlers
from services.notifier.repository import MongoNotifierStore
from services.notifier.rulebooks import RuleBooks
from services.notifier.workflow import Notifier
from shared.events import CloudEvent, parse_event
from shared.runtime import ServiceRuntime
from shared.settings import Settings
from tests.support import Stack, mongo_client


@dataclass
class MongoHarness:
    runtime: ServiceRuntime
    handler: NotifierHandlers
    firing: Firing
    sent: list[bytes] = field(default_factory=list)

    @property
    def db(self) -> AsyncDatabase[Any]:
        return self.runtime.db

    @property
    def settings(self) -> Settings:
        return self.runtime.settings

    async def apply(self, event: CloudEvent[Any]) -> None:
        """Apply one event as consumed, then fire whatever that made due."""
        await self.runtime.run_once(event.id, event.time, partial(self.handler.handle, event=event))
        while await self.firing.fire_due():
            pass

    def nudges(self) -> list[CloudEvent[Any]]:
        return [parse_event(value, "nudges") for value in self.sent]


@contextlib.asynccontextmanager
async def mongo_harness(
    stack: Stack, books: RuleBooks, grace: timedelta, owner: str = "process-a"
) -> AsyncIterator[MongoHarness]:
    """A fresh database; dropped afterwards."""
    tag = "p" + uuid.uuid4().hex[:10]
    settings = stack.settings(topic_prefix=tag, database_prefix=tag)
    client = mongo_client(settings)
    sent: list[bytes] = []

    async def publish(topic: str, key: bytes, value: bytes, headers: dict[str, str]) -> None:
        sent.append(value)

    runtime = ServiceRuntime("notifier", settings, client, publish)
    try:
        await runtime.ensure_indexes()
        await MongoNotifierStore.ensure_indexes(runtime.db)
        notifier = Notifier(books, settings.pseudonyms())
        firing = Firing(
            runtime, notifier, WatermarkClock(runtime.db, grace), owner, timedelta(seconds=30)
        )
        yield MongoHarness(runtime, NotifierHandlers(notifier, owner), firing, sent)
    finally:
        await client.drop_database(runtime.db.name)
        await client.close()
