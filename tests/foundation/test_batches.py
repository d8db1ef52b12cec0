"""The runtime applies a batch of events in one transaction, with a scope the events
share: a store may keep one object for the batch and write its buffer in bulk just
before the commit. Against the real database, without Kafka."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from shared.runtime import (
    LEDGER_TTL_INDEX,
    PROCESSED,
    HandlerFailed,
    ServiceRuntime,
    Unit,
    UnitOfWork,
)
from shared.settings import Settings
from tests.support import mongo_client

pytestmark = pytest.mark.infra

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


class Published:
    def __init__(self) -> None:
        self.records: list[tuple[str, bytes]] = []

    async def __call__(self, topic: str, key: bytes, value: bytes, headers: dict[str, str]) -> None:
        self.records.append((topic, key))


@pytest.fixture
async def runtime(fresh: Callable[..., Awaitable[Settings]]) -> AsyncIterator[ServiceRuntime]:
    settings = await fresh()
    runtime = ServiceRuntime("probe", settings, mongo_client(settings), Published())
    await runtime.ensure_indexes()
    yield runtime
    await runtime.client.close()


class Tally:
    """A store that counts per name in memory for the whole batch and writes every count
    with one bulk call before the commit."""

    def __init__(self, uow: UnitOfWork) -> None:
        self.db, self.session = uow.batch.db, uow.batch.session
        self.counts: dict[str, int] = {}
        self.flushes = 0

    @classmethod
    def of(cls, uow: UnitOfWork) -> Tally:
        def build() -> Tally:
            tally = cls(uow)
            uow.batch.before_commit(tally.flush)
            return tally

        return uow.batch.cached(cls.__qualname__, build)

    async def flush(self) -> None:
        self.flushes += 1
        docs = [{"_id": name, "count": n} for name, n in self.counts.items()]
        await self.db.tally.insert_many(docs, session=self.session)


def counting(cause: str, name: str, seen: list[Tally], fail: bool = False) -> Unit:
    async def work(uow: UnitOfWork) -> None:
        tally = Tally.of(uow)
        tally.counts[name] = tally.counts.get(name, 0) + 1
        seen.append(tally)
        if fail:
            raise ValueError(f"{name} cannot be applied")

    return Unit(cause, NOW, work)


async def _tally(runtime: ServiceRuntime) -> dict[str, int]:
    return {d["_id"]: d["count"] async for d in runtime.db.tally.find()}


async def test_the_events_of_a_batch_share_one_store_flushed_once_before_the_commit(
    runtime: ServiceRuntime,
) -> None:
    seen: list[Tally] = []
    units = [counting("1", "ana", seen), counting("2", "bo", seen), counting("3", "ana", seen)]
    assert await runtime.apply_batch(units) == [True, True, True]
    assert len({id(t) for t in seen}) == 1 and seen[0].flushes == 1
    assert await _tally(runtime) == {"ana": 2, "bo": 1}
    ledger = {d["_id"] async for d in runtime.db[PROCESSED].find()}
    assert ledger == {u.cause_id for u in units}


async def test_a_failing_unit_leaves_nothing_of_its_batch_and_says_which_it_was(
    runtime: ServiceRuntime,
) -> None:
    seen: list[Tally] = []
    units = [
        counting("1", "ana", seen),
        counting("2", "bo", seen, fail=True),
        counting("3", "cy", seen),
    ]
    with pytest.raises(HandlerFailed) as failed:
        await runtime.apply_batch(units)
    assert failed.value.index == 1 and isinstance(failed.value.error, ValueError)
    assert await _tally(runtime) == {}
    assert await runtime.db[PROCESSED].count_documents({}) == 0


async def test_an_id_applied_before_or_twice_in_a_batch_is_skipped(
    runtime: ServiceRuntime,
) -> None:
    seen: list[Tally] = []
    first = counting("1", "ana", seen)
    assert await runtime.apply_batch([first]) == [True]
    again = [first, counting("2", "bo", seen), counting("2", "bo", seen)]
    assert await runtime.apply_batch(again) == [False, True, False]
    assert await _tally(runtime) == {"ana": 1, "bo": 1}  # one insert per batch


async def test_after_commit_callbacks_run_in_order_once_the_whole_batch_committed(
    runtime: ServiceRuntime,
) -> None:
    calls: list[str] = []

    def unit(name: str) -> Unit:
        async def work(uow: UnitOfWork) -> None:
            await uow.db.marks.insert_one({"_id": name}, session=uow.session)
            uow.after_commit(lambda: calls.append(name))
            assert calls == []  # nothing of the batch is committed while it runs

        return Unit(f"cause-{name}", NOW, work)

    await runtime.apply_batch([unit("a"), unit("b"), unit("c")])
    assert calls == ["a", "b", "c"]


async def test_the_ledger_forgets_ids_after_the_configured_window(
    fresh: Callable[..., Awaitable[Settings]],
) -> None:
    settings = await fresh()
    client = mongo_client(settings)

    async def window() -> Any:
        indexes = await client[settings.database_name("probe")][PROCESSED].index_information()
        return indexes[LEDGER_TTL_INDEX].get("expireAfterSeconds")

    try:
        await ServiceRuntime("probe", settings, client, Published()).ensure_indexes()
        assert await window() == 30 * 86_400
        shorter = settings.model_copy(update={"ledger_ttl_days": 2.0})
        await ServiceRuntime("probe", shorter, client, Published()).ensure_indexes()
        assert await window() == 2 * 86_400
    finally:
        await client.close()
