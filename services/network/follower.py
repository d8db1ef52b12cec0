"""Keeping a process's graph current with what every network process commits.

Two processes in one consumer group each see only their partitions, yet both
rank on the whole graph: each follows MongoDB's change stream on the state
collections and applies the stored documents. The stream is opened before the
graph is loaded, so nothing committed in between is missed (applying a document
twice is harmless)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from pymongo.asynchronous.change_stream import AsyncChangeStream
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import PyMongoError

from services.network.documents import Document
from services.network.repository import FOLLOWED, MongoNetworkStore
from services.network.state import NetworkState

log = logging.getLogger(__name__)
RETRY_SECONDS = 1.0


class ChangeFollower:
    def __init__(self, state: NetworkState) -> None:
        self.state = state
        self._stream: AsyncChangeStream[Document] | None = None
        self.applied = 0

    async def _open(self, db: AsyncDatabase[Document], resume: Any = None) -> None:
        self._stream = await db.watch(
            [{"$match": {"ns.coll": {"$in": list(FOLLOWED)}}}],
            full_document="updateLookup",
            resume_after=resume,
        )

    async def start(self, db: AsyncDatabase[Document]) -> None:
        """Open the stream, then rebuild the graph from the database."""
        await self._open(db)
        await self.state.load(MongoNetworkStore(db))

    async def follow(self, db: AsyncDatabase[Document]) -> None:
        """Apply changes until cancelled; reopen (or reload) after a failure."""
        while True:
            try:
                if self._stream is None:
                    await self.start(db)
                assert self._stream is not None
                async for change in self._stream:
                    self.state.apply_change(change)
                    self.applied += 1
            except asyncio.CancelledError:
                await self.close()
                raise
            except PyMongoError as exc:
                log.warning("network: change stream failed, resuming: %s", exc)
                token = self._stream.resume_token if self._stream is not None else None
                await self.close()
                await asyncio.sleep(RETRY_SECONDS)
                try:
                    await self._open(db, token)
                except PyMongoError:
                    log.warning("network: cannot resume the change stream; reloading")
                    self._stream = None

    async def close(self) -> None:
        if self._stream is not None:
            stream, self._stream = self._stream, None
            try:
                await stream.close()
            except PyMongoError:
                log.debug("network: closing the change stream failed", exc_info=True)
