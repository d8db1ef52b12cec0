"""Background loops: one way to run a piece of work every so often.

`every(interval, work)` calls `work` again and again until cancelled or until `until`
is set. A call that returns True had more to do than one call takes and is followed
at once; otherwise the next call comes `interval` seconds later. A call that raises is
logged once (one line) and retried after a capped, jittered backoff, so a broken
dependency never becomes a hot loop, and the loop goes back to its interval after the
first success. With `until` (the runtime's `stopping` event) the loop ends after the
call in progress, which lets shutdown finish a unit of work instead of cutting it.
"""

from __future__ import annotations

import asyncio
import contextlib
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
) -> None:
    retry = backoff or Backoff(base_s=min(1.0, interval_s), cap_s=max(30.0, interval_s))
    stop = until or asyncio.Event()
    failures = 0
    if first_delay_s > 0 and await _stopped_within(stop, first_delay_s):
        return
    while not stop.is_set():
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
        if await _stopped_within(stop, delay):
            return


async def _stopped_within(stop: asyncio.Event, seconds: float) -> bool:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
    return stop.is_set()
