"""The matcher's periodic work, in every process: expiring proposals nobody answered in
time, reconciling mentors with room with mentees who wait, and keeping the process's
directory fresh.

Each due proposal is expired in its own unit of work whose cause id is derived from
the match id, and the status change is conditional (`open` -> `expired`), so exactly
one process expires it.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Protocol, TypeVar

from shared.events import derived_id

from .handlers import MatcherHandlers
from .matching import Unit
from .ranking import rank_waiting_mentees

log = logging.getLogger(__name__)
# Proposals expired per call: a bounded unit of work, repeated while pages come full.
EXPIRY_PAGE = 200

U = TypeVar("U", bound=Unit)
U_co = TypeVar("U_co", bound=Unit, covariant=True)


class Runner(Protocol[U_co]):
    """Applies work once per cause id, in one unit of work (`ServiceRuntime`)."""

    async def run_once(
        self, cause_id: str, event_time: datetime, work: Callable[[U_co], Awaitable[None]]
    ) -> bool: ...


async def expire_due_proposals(
    runner: Runner[U], matcher: MatcherHandlers[U], limit: int = EXPIRY_PAGE
) -> int:
    """Expire the open proposals whose `expires_at` has passed; how many this call expired."""
    now = matcher.clock.now()
    due = await matcher.stores.unbound().due(now, limit)
    expired = 0
    for match_id, expires_at in due:
        claimed = False

        async def work(unit: U, match_id: str = match_id) -> None:
            nonlocal claimed
            matching = await matcher.begin(unit)
            proposal = await matching.store.proposal(match_id)
            claimed = proposal is not None and await matching.expire(proposal)
            await matching.settle()

        if await runner.run_once(derived_id("expiry", match_id), expires_at, work) and claimed:
            expired += 1
    return expired


async def reconcile(runner: Runner[U], matcher: MatcherHandlers[U]) -> int:
    """Offer mentors with room to waiting mentees they were never proposed to.

    Two units in different processes can miss each other: a mentee ranked before a
    new mentor's signup committed, while that signup looked for waiting mentees
    before the mentee's seat committed. Both are stored, so looking again later
    matches them. Returns how many mentors were offered."""
    directory = matcher.directory
    offered = 0
    mentors = sorted(directory.mentors_with_room(), key=lambda m: m[0].person_id)
    for mentor, standing in mentors:
        policies = {
            p: policy
            for p in mentor.programmes
            if (policy := matcher.policies.for_programme(p)).assignment == "online"
        }
        waiting = [w for w in directory.waiting_for(mentor) if w[0] in policies]
        known = directory.proposed_to(mentor.person_id)
        if not rank_waiting_mentees(
            mentor, standing, waiting, policies, blocked_mentees=known, limit=1
        ):
            continue

        async def work(unit: U, mentor_id: str = mentor.person_id) -> None:
            matching = await matcher.begin(unit)
            await matching.offer(mentor_id)
            await matching.settle()

        cause = derived_id("reconcile", mentor.person_id, uuid.uuid4().hex)
        if await runner.run_once(cause, matcher.clock.now(), work):
            offered += 1
    return offered
