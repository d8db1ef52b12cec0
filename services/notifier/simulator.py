"""A dry run: replay a history of CloudEvents through the notifier's workflow on a
simulated clock, in memory, and see which nudges would go out and when.

Events are taken in event-time order (file order among equal times); before each
event, every timer due strictly earlier is settled; at the end, everything due up to
`until` (default: the last event's time). The same history always gives the same
nudges, and the service agrees with it as long as no event arrives later than its
grace period.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import SecretStr

from shared.erasure import Pseudonyms
from shared.events import CloudEvent, InvalidEvent, parse_event

from .engine import Nudge
from .facts import instant
from .memory_store import MemoryNotifierStore
from .rulebooks import RuleBooks
from .workflow import Notifier


def pseudonyms_for_this_run() -> Pseudonyms:
    """A dry run's tombstones never leave its memory: a key of its own does, and needs
    no secret setting."""
    return Pseudonyms(SecretStr(secrets.token_hex(32)))


@dataclass
class Simulation:
    books: RuleBooks
    pseudonyms: Pseudonyms = field(default_factory=pseudonyms_for_this_run)
    store: MemoryNotifierStore = field(default_factory=MemoryNotifierStore)
    seen: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.notifier = Notifier(self.books, self.pseudonyms)

    async def feed(self, event: CloudEvent[Any]) -> list[Nudge]:
        """Settle what falls due before the event, then apply it (once per id)."""
        if event.id in self.seen:
            return []
        self.seen.add(event.id)
        sent = await self._settle(instant(event.time), inclusive=False)
        await self.notifier.absorb(self.store, event)
        return sent

    async def advance(self, until: datetime) -> list[Nudge]:
        """Settle everything due up to and including `until`."""
        return await self._settle(instant(until), inclusive=True)

    async def _settle(self, bound: datetime, *, inclusive: bool) -> list[Nudge]:
        sent: list[Nudge] = []
        while (due := self.store.next_due()) is not None:
            at, recipient = due
            if at > bound or (at == bound and not inclusive):
                break
            sent.extend((await self.notifier.settle(self.store, recipient, at)).nudges)
        return sent


async def simulate(
    events: Iterable[CloudEvent[Any]],
    books: RuleBooks,
    until: datetime | None = None,
    pseudonyms: Pseudonyms | None = None,
) -> list[Nudge]:
    ordered = sorted(events, key=lambda e: instant(e.time))
    simulation = Simulation(books, pseudonyms or pseudonyms_for_this_run())
    sent: list[Nudge] = []
    for event in ordered:
        sent.extend(await simulation.feed(event))
    end = until or (ordered[-1].time if ordered else None)
    if end is not None:
        sent.extend(await simulation.advance(end))
    return sent


def read_events(lines: Iterable[str]) -> tuple[list[CloudEvent[Any]], list[str]]:
    """Parse one CloudEvent per non-blank line; problems are reported, not fatal (the
    service would dead-letter those lines too)."""
    events: list[CloudEvent[Any]] = []
    problems: list[str] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            events.append(parse_event(line))
        except InvalidEvent as exc:
            problems.append(f"line {number}: {exc}")
    return events, problems


def nudge_line(nudge: Nudge) -> str:
    """The `nudge.emitted` data plus `at`, the instant it would be sent."""
    body = nudge.data.model_dump(mode="json")
    body["at"] = nudge.at.isoformat().replace("+00:00", "Z")
    return json.dumps(body, sort_keys=True)
