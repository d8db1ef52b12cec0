"""Random histories with production's id links, and the arrival orders the service
may see, for the notifier's property tests.

The matcher gives a mentorship its match's id (`mentorship.started` carries the
proposal's `match_id` as `mentorship_id`), and the start happens at the instant of
the last `match.accepted`. So a proposal and its mentorship share an id, and answers
(on `responses`) can reach the notifier after the mentorship's own events (on
`matches` and `activity`) when their topic lags: these histories have both.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from hypothesis import strategies as st

from services.notifier.clock import TICK
from services.notifier.memory_store import MemoryNotifierStore
from services.notifier.simulator import nudge_line
from services.notifier.workflow import Notifier
from shared.events import CloudEvent
from tests.notifier import builders as b

ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Asia/Tokyo", "Australia/Sydney"]
MENTEES = ["ana", "cy", "dee", "eli"]
MENTORS = ["bo", "fay", "gus"]
HOUR = timedelta(hours=1)
DAY = 24 * HOUR
TOPICS = ("profiles", "matches", "activity", "responses")
# How late the service may see an event: an hour, a day, a week, or the whole history
# (a topic that lags behind all the others).
GRACES = [HOUR, DAY, 7 * DAY, 80 * DAY]
UNTIL = b.T0 + 80 * DAY
REMINDER_HOURS = 72  # the default proposal reminder's 3 days


def hours(n: int) -> datetime:
    return b.T0 + n * HOUR


@st.composite
def histories(
    draw: st.DrawFn, with_deletions: bool = True, pairings: int = 4
) -> list[CloudEvent[Any]]:
    """Profiles, proposals with their answers, and for accepted proposals the
    mentorship (same id, started at the last accept) with its activity; repeated
    accepts, expiries and withdrawals around the start."""
    events: list[CloudEvent[Any]] = []

    def add(event: CloudEvent[Any]) -> None:
        events.append(event.model_copy(update={"id": f"h-{len(events)}"}))

    def around(start: int, before: int, after: int) -> int:
        return max(0, start + draw(st.integers(-before, after)))

    def answered_after() -> int:
        """Hours from proposal to an answer; often exactly when the reminder falls due."""
        return draw(st.just(REMINDER_HOURS) | st.integers(0, 24 * 5))

    for person in draw(st.lists(st.sampled_from(MENTEES + MENTORS), max_size=5, unique=True)):
        for revision in range(1, draw(st.integers(1, 2)) + 1):
            zone = draw(st.sampled_from(ZONES))
            add(b.profile(person, zone, at=hours(draw(st.integers(0, 24 * 40))), revision=revision))
    for index in range(draw(st.integers(1, pairings))):
        match = f"x{index}"
        mentee, mentor = draw(st.sampled_from(MENTEES)), draw(st.sampled_from(MENTORS))
        proposed = draw(st.integers(0, 24 * 10))
        add(b.proposed(hours(proposed), match=match, mentee=mentee, mentor=mentor))
        outcome = draw(st.sampled_from(["started", "started", "started", "answered", "closed"]))
        if outcome != "started":
            for person in draw(st.lists(st.sampled_from([mentee, mentor]), max_size=2)):
                answer = draw(st.sampled_from([b.accepted, b.declined]))
                add(answer(hours(proposed + answered_after()), person, match=match))
            if outcome == "closed":
                close = draw(st.sampled_from([b.expired, b.withdrawn]))
                at = hours(proposed + draw(st.integers(0, 24 * 7)))
                add(close(at, match=match, mentee=mentee, mentor=mentor))
            continue
        first, last = draw(st.permutations([mentee, mentor]))
        accepted = proposed + answered_after()
        start = max(accepted, proposed + answered_after())
        add(b.accepted(hours(accepted), first, match=match))
        add(b.accepted(hours(start), last, match=match))
        # The matcher starts the mentorship in the unit of work of the last accept.
        add(b.started(hours(start), mentorship=match, mentee=mentee, mentor=mentor))
        for _ in range(draw(st.integers(0, 2))):
            person = draw(st.sampled_from([mentee, mentor]))
            add(b.accepted(hours(around(start, 24, 24 * 20)), person, match=match))
        if draw(st.booleans()):
            close = draw(st.sampled_from([b.expired, b.withdrawn]))
            at = hours(around(start, 48, 48))
            add(close(at, match=match, mentee=mentee, mentor=mentor))
        for _ in range(draw(st.integers(0, 8))):
            # Some platforms report activity timestamped before the start arrives.
            at = hours(around(start, 48, 24 * 50))
            session = draw(st.sampled_from(["s0", "s1", "s2"]))
            kind = draw(st.sampled_from(["scheduled", "completed", "cancelled", "feedback",
                                         "checkin", "ended"]))  # fmt: skip
            if kind == "scheduled":
                ahead = at + draw(st.integers(0, 24 * 25)) * HOUR
                add(b.scheduled(at, ahead, session=session, mentorship=match))
            elif kind == "completed":
                add(b.completed(at, session=session, mentorship=match))
            elif kind == "cancelled":
                add(b.cancelled(at, session=session, mentorship=match))
            elif kind == "feedback":
                person = draw(st.sampled_from([mentee, mentor]))
                add(b.feedback(at, person, session=session, mentorship=match, note="secret"))
            elif kind == "checkin":
                add(b.checked_in(at, person=mentee, mentorship=match))
            else:
                add(b.ended(at, mentorship=match))
    if with_deletions and draw(st.booleans()):
        person = draw(st.sampled_from(MENTEES + MENTORS))
        add(b.deleted(person, hours(draw(st.integers(0, 24 * 60)))))
    return events


@st.composite
def arrivals(
    draw: st.DrawFn, history: Sequence[CloudEvent[Any]], grace: timedelta
) -> list[CloudEvent[Any]]:
    """An order the service may see `history` in: whole topics lagging and single
    events late, each by at most `grace` in event time; some events delivered again
    (at the latest they may come); events that then arrive together in any order.

    Event time must really have run ahead for lateness to matter: before some late
    events, a profile of a "clock" person (who gets no nudges) arrives stamped with
    the instant the event arrives at, so the event is exactly that late."""
    steps = int(grace / HOUR)
    some_lag = st.sampled_from([0, steps]) | st.integers(0, steps)
    lag = {topic: draw(some_lag) for topic in TOPICS}
    late = [
        min(steps, lag[e.data.TOPIC] + draw(st.just(0) | st.integers(0, steps))) * HOUR
        for e in history
    ]
    redelivered = draw(st.lists(st.integers(0, len(history) - 1), max_size=5))
    keyed = [(e.time + late[i], e) for i, e in enumerate(history)]
    keyed += [(history[i].time + grace, history[i]) for i in redelivered]
    shuffle = draw(st.permutations(range(len(keyed))))
    ordered = [(at, rank, event) for (at, event), rank in zip(keyed, shuffle, strict=True)]
    for n, i in enumerate(draw(st.lists(st.integers(0, len(history) - 1), max_size=4))):
        at = history[i].time + late[i]
        tick = b.profile("clock", at=at).model_copy(update={"id": f"tick-{n}"})
        ordered.append((at, -1, tick))
    return [event for _, _, event in sorted(ordered, key=lambda k: (k[0], k[1]))]


RULES = b.books({"rate_limit": {"max_nudges": 2}})


async def as_the_service_sees_it(
    arrivals: Sequence[CloudEvent[Any]], grace: timedelta, until: datetime
) -> list[str]:
    """The service's behaviour in memory: events applied in arrival order (each id once,
    like the runtime's ledger), timers settled when due before the watermark minus the
    grace (`WatermarkClock`), and at the end up to `until`."""
    store, notifier = MemoryNotifierStore(), Notifier(RULES, b.PSEUDONYMS)
    seen: set[str] = set()
    lines: list[str] = []
    watermark: datetime | None = None

    async def settle_up_to(bound: datetime) -> None:
        while (due := store.next_due()) is not None and due[0] <= bound:
            settlement = await notifier.settle(store, due[1], due[0])
            lines.extend(nudge_line(n) for n in settlement.nudges)

    for event in arrivals:
        if event.id in seen:
            continue
        seen.add(event.id)
        await notifier.absorb(store, event)
        watermark = max(watermark or event.time, event.time)
        await settle_up_to(watermark - grace - TICK)
    await settle_up_to(until)
    return lines
