"""How retries and background loops wait: capped exponential backoff with jitter, and
`every(interval, work)`."""

from __future__ import annotations

import asyncio
import itertools
import logging
import random
import time

import pytest

from shared.backoff import Backoff
from shared.periodic import every


def test_a_retry_waits_between_half_and_all_of_a_doubling_ceiling_up_to_the_cap() -> None:
    backoff = Backoff(base_s=0.2, cap_s=5.0)
    rng = random.Random(1)
    for attempt, ceiling in [(1, 0.2), (2, 0.4), (3, 0.8), (5, 3.2), (6, 5.0), (40, 5.0)]:
        delays = [backoff.delay(attempt, rng) for _ in range(200)]
        assert ceiling / 2 <= min(delays) and max(delays) <= ceiling
        assert max(delays) - min(delays) > ceiling / 4  # jittered, not in lockstep


async def test_every_calls_its_work_each_interval_until_told_to_stop() -> None:
    stop = asyncio.Event()
    calls: list[float] = []
    loop = asyncio.get_running_loop()

    async def work() -> None:
        calls.append(loop.time())
        if len(calls) == 4:
            stop.set()

    await asyncio.wait_for(every(0.05, work, name="probe", until=stop), 5)
    assert len(calls) == 4
    assert all(b - a >= 0.045 for a, b in itertools.pairwise(calls))


async def test_every_calls_again_at_once_while_the_work_says_there_is_more() -> None:
    stop = asyncio.Event()
    calls: list[float] = []
    loop = asyncio.get_running_loop()

    async def work() -> bool:
        calls.append(loop.time())
        if len(calls) == 5:
            stop.set()
        return len(calls) < 3  # busy twice, then idle

    await asyncio.wait_for(every(0.5, work, name="probe", until=stop), 5)
    assert calls[2] - calls[0] < 0.1
    assert calls[3] - calls[2] >= 0.45


async def test_a_failing_loop_backs_off_logs_one_line_per_failure_and_recovers(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, "mentormesh.periodic")
    stop = asyncio.Event()
    calls: list[float] = []
    loop = asyncio.get_running_loop()

    async def work() -> None:
        calls.append(loop.time())
        if len(calls) <= 3:
            raise ConnectionError("down")
        stop.set()

    backoff = Backoff(base_s=0.1, cap_s=1.0)
    await asyncio.wait_for(every(0.01, work, name="probe", until=stop, backoff=backoff), 5)
    gaps = [b - a for a, b in itertools.pairwise(calls)]
    assert len(calls) == 4
    assert gaps[0] >= 0.05 and gaps[1] >= 0.1 and gaps[2] >= 0.2
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 3
    assert all("\n" not in r.getMessage() and r.exc_info is None for r in warnings)


async def test_a_loop_told_to_stop_ends_after_the_call_in_progress() -> None:
    stop = asyncio.Event()
    finished: list[bool] = []

    async def work() -> None:
        stop.set()
        await asyncio.sleep(0.05)
        finished.append(True)

    await asyncio.wait_for(every(10.0, work, name="probe", until=stop), 2)
    assert finished == [True]


async def test_a_wake_ends_the_interval_at_once() -> None:
    stop, wake = asyncio.Event(), asyncio.Event()
    calls: list[float] = []

    async def work() -> bool:
        calls.append(time.monotonic())
        if len(calls) == 2:
            stop.set()
        return False

    async def wake_soon() -> None:
        await asyncio.sleep(0.05)
        wake.set()

    started = time.monotonic()
    waker = asyncio.ensure_future(wake_soon())
    await asyncio.wait_for(every(30.0, work, name="probe", until=stop, wake=wake), 5)
    await waker
    assert len(calls) == 2
    assert calls[1] - started < 5  # not the 30 s interval
    assert not wake.is_set()  # taken by the call it caused


async def test_a_wake_does_not_cut_a_backoff_short() -> None:
    stop, wake = asyncio.Event(), asyncio.Event()
    calls = 0

    async def work() -> bool:
        nonlocal calls
        calls += 1
        wake.set()  # asks again at once, but the call failed
        raise RuntimeError("database unreachable")

    loop = asyncio.ensure_future(
        every(30.0, work, name="probe", until=stop, wake=wake, backoff=Backoff(10.0, 10.0))
    )
    await asyncio.sleep(0.3)
    stop.set()
    await asyncio.wait_for(loop, 5)
    assert calls == 1
