"""Composition root: the notifier's workflow, handlers, clock and firing loop as a
service."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from shared.clock import Clock
from shared.runtime import ServiceRuntime, ServiceSpec, topics_read
from shared.settings import Settings

from .clock import FiringClock, GivenClock, WatermarkClock
from .config import NotifierSettings
from .firing import Firing, process_id
from .handlers import NotifierHandlers
from .repository import MongoNotifierStore
from .rulebooks import RuleBooks
from .workflow import ABSORBS, Notifier


def build_spec(
    settings: Settings | None = None,
    *,
    clock: Clock | None = None,
    notifier_settings: NotifierSettings | None = None,
    books: RuleBooks | None = None,
) -> ServiceSpec:
    """The notifier service. `clock` replaces the firing clock (tests); otherwise it is
    the event-time watermark, or the wall clock too with MENTORMESH_NOTIFIER_CLOCK=wall.
    `books` replaces the programmes' rule books (tests)."""
    settings = settings or Settings()
    knobs = notifier_settings or NotifierSettings()
    notifier = Notifier(books or knobs.rulebooks(settings), settings.pseudonyms())
    me = process_id()
    # Set when a committed batch moved event time on: the firing loop looks at once.
    time_moved = asyncio.Event()
    handler = NotifierHandlers(notifier, me, on_advance=time_moved.set)

    async def prepare(runtime: ServiceRuntime) -> None:
        await MongoNotifierStore.ensure_indexes(runtime.db)
        # A broken rules file or programme section stops the service at start.
        notifier.books.for_programme("default")
        runtime.metrics.gauge_at_scrape(
            "mentormesh_pending_timers",
            "Nudge timers waiting to fire (state pending).",
            lambda: runtime.db.timers.count_documents({"state": "pending"}),
        )

    def firing_clock(runtime: ServiceRuntime) -> FiringClock:
        if clock is not None:
            return GivenClock(clock)
        wall = runtime.clock if knobs.clock == "wall" else None
        return WatermarkClock(runtime.db, knobs.grace, wall)

    async def fire(runtime: ServiceRuntime) -> None:
        firing = Firing(
            runtime,
            notifier,
            firing_clock(runtime),
            me,
            timedelta(seconds=knobs.lease_s),
            knobs.batch,
            knobs.concurrency,
            knobs.group,
        )
        await firing.run(knobs.poll_s, wake=time_moved)

    return ServiceSpec(
        name="notifier",
        inputs=topics_read(ABSORBS),
        outputs=("nudges",),
        handle=handler.handle,
        prepare=prepare,
        background=(fire,),
        description=(
            "Nudges people whose mentorship went silent, whose proposal or feedback is "
            "pending, or whose goals need a check-in: on durable timers, in event time, "
            "within quiet hours and a weekly limit."
        ),
    )
