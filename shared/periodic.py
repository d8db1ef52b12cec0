"""Background loops: one way to run a piece of work every so often.

`every(interval, work)` calls `work` again and again until cancelled or until `until`
is set. A call that returns True had more to do than one call takes and is followed
at once; otherwise the next call comes `interval` seconds later. A call that raises is
logged once (one line) and retried after a capped, jittered backoff, so a broken
dependency never becomes a hot loop, and the loop goes back to its interval after the
first success. With `until` (the runtime's `stopping` event) the loop ends after the
call in progress, which lets shutdown finish a unit of work instead of cutting it.
With `wake`, setting that event ends the interval early: work that something else
makes due (the notifier's timers, when consumed events move event time on) is done at
once rather than at the next interval. It does not cut a backoff short.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from shared.backoff import Backoff

log = logging.getLogger("mentormesh.periodic")


async def every(
    interval_s: float,
    work: Callable[[], Awaitable[bool | None]],
    *,
    name: str,
    until: asyncio.Event | None = None,
    backoff: Backoff | None = None,
    first_delay_s: float = 0.0,
    wake: asyncio.Event | None = None,
) -> None:
    retry = backoff or Backoff(base_s=min(1.0, interval_s), cap_s=max(30.0, interval_s))
    stop = until or asyncio.Event()
    failures = 0
    if first_delay_s > 0 and await _stopped_within(stop, first_delay_s):
        return
    while not stop.is_set():
        if wake is not None:
            wake.clear()  # what sets it from now on asks for another call
        try:
            busy = await work()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            failures += 1
            delay = retry.delay(failures)
            log.warning("%s failed (%d in a row), next try in %.1f s: %s: %s",
                        name, failures, delay, type(exc).__name__, exc)  # fmt: skip
            log.debug("%s failure", name, exc_info=True)
        else:
            failures = 0
            if busy:
                await asyncio.sleep(0)  # let others run between busy calls
                continue
            delay = interval_s
        # A wake ends the interval early, never a backoff.
        if await _stopped_within(stop, delay, None if failures else wake):
            return


async def _stopped_within(
    stop: asyncio.Event, seconds: float, wake: asyncio.Event | None = None
) -> bool:
    """Wait `seconds`, or until `stop` (or `wake`) is set; whether to stop."""
    waits = [asyncio.ensure_future(stop.wait())]
    if wake is not None:
        waits.append(asyncio.ensure_future(wake.wait()))
    try:
        await asyncio.wait(waits, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiting in waits:
            waiting.cancel()
    return stop.is_set()
