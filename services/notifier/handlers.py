"""Applying one consumed event inside the runtime's transaction: the workflow on the
batch's Mongo store (which writes the whole batch's changes in bulk before it
commits), plus the event-time watermark that the firing clock reads."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from shared.events import CloudEvent
from shared.runtime import UnitOfWork

from .facts import instant
from .repository import MongoNotifierStore
from .workflow import Notifier


class NotifierHandlers:
    def __init__(
        self,
        notifier: Notifier,
        process_id: str,
        on_advance: Callable[[], None] | None = None,
    ) -> None:
        self.notifier = notifier
        self.process_id = process_id
        # Called once a batch that moved the watermark on has committed: timers may
        # have fallen due (the firing loop's wake-up).
        self.on_advance = on_advance
        self._committed: datetime | None = None

    async def handle(self, uow: UnitOfWork, event: CloudEvent[Any]) -> None:
        store = MongoNotifierStore.of_batch(uow)
        if not store.read_ahead_done:
            await self.notifier.read_ahead(store, uow.batch.events)
        await self.notifier.absorb(store, event)
        at = instant(event.time)
        if self._committed is None or at > self._committed:
            # In the same transaction as the event's effects: the watermark can only
            # pass an event once that event is applied.
            await store.advance_watermark(self.process_id, at)
            uow.after_commit(lambda: self._advanced(at))

    def _advanced(self, at: datetime) -> None:
        if self._committed is None or at > self._committed:
            self._committed = at
            if self.on_advance is not None:
                self.on_advance()
