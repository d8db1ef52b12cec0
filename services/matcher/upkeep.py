"""The matcher's periodic work: expiring proposals nobody answered in time, and
reconciling mentors with room with mentees who wait.

Every matcher process runs this loop; each due proposal is expired in its own unit
of work whose cause id is derived from the match id, and the status change is
conditional (`open` -> `expired`), so exactly one process expires it.
"""

from __future__ import annotations

import asyncio
import logging

from shared.events import derived_id
from shared.runtime import ServiceRuntime, UnitOfWork

from .handlers import Matcher
from .repository import MatcherRepository

log = logging.getLogger(__name__)


async def expire_due_proposals(runtime: ServiceRuntime, matcher: Matcher, limit: int = 200) -> int:
    """Expire the open proposals whose `expires_at` has passed; how many this call expired."""
    now = runtime.clock.now()
    due = await MatcherRepository(runtime.db, None).due(now, limit)
    expired = 0
    for match_id, expires_at in due:
        claimed = False

        async def work(uow: UnitOfWork, match_id: str = match_id) -> None:
            nonlocal claimed
            claimed = await matcher.expire_one(uow, match_id, now)

        if await runtime.run_once(derived_id("expiry", match_id), expires_at, work) and claimed:
            expired += 1
    return expired


async def expiry_loop(runtime: ServiceRuntime, matcher: Matcher, interval_s: float) -> None:
    while True:
        try:
            await expire_due_proposals(runtime, matcher)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("matcher: expiring proposals failed; will try again")
        await asyncio.sleep(interval_s)


async def reconcile_loop(runtime: ServiceRuntime, matcher: Matcher, interval_s: float) -> None:
    while True:
        await asyncio.sleep(interval_s)
        try:
            await matcher.reconcile(runtime)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("matcher: reconciling failed; will try again")
