"""Properties over random histories: a replay gives the same nudges, and so does
any arrival order the service may see (topics interleaved, redeliveries) as long as
no event is later than the grace period."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.notifier.memory_store import MemoryStore
from services.notifier.simulator import nudge_line, simulate
from services.notifier.workflow import Notifier
from shared.events import CloudEvent
from tests.notifier import builders as b

ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Asia/Tokyo", "Australia/Sydney"]
MENTEES = ["ana", "cy", "dee", "eli"]
MENTORS = ["bo", "fay", "gus"]
HOUR = timedelta(hours=1)


def hours(n: int) -> datetime:
    return b.T0 + n * HOUR


@st.composite
def histories(draw: st.DrawFn, with_deletions: bool = True) -> list[CloudEvent[Any]]:
    events: list[CloudEvent[Any]] = []

    def add(event: CloudEvent[Any]) -> None:
        events.append(event.model_copy(update={"id": f"h-{len(events)}"}))

    for person in draw(st.lists(st.sampled_from(MENTEES + MENTORS), max_size=5, unique=True)):
        for revision in range(1, draw(st.integers(1, 2)) + 1):
            zone = draw(st.sampled_from(ZONES))
            add(b.profile(person, zone, at=hours(draw(st.integers(0, 24 * 40))), revision=revision))
    for index in range(draw(st.integers(1, 4))):
        mentorship = f"m{index}"
        start = draw(st.integers(0, 24 * 10))
        mentee, mentor = draw(st.sampled_from(MENTEES)), draw(st.sampled_from(MENTORS))
        add(b.started(hours(start), mentorship=mentorship, mentee=mentee, mentor=mentor))
        for _ in range(draw(st.integers(0, 8))):
            # Some platforms report activity timestamped before the start arrives.
            at = hours(max(0, start + draw(st.integers(-48, 24 * 50))))
            session = draw(st.sampled_from(["s0", "s1", "s2"]))
            kind = draw(st.sampled_from(["scheduled", "completed", "cancelled", "feedback",
                                         "checkin", "ended"]))  # fmt: skip
            if kind == "scheduled":
                ahead = at + draw(st.integers(0, 24 * 25)) * HOUR
                add(b.scheduled(at, ahead, session=session, mentorship=mentorship))
            elif kind == "completed":
                add(b.completed(at, session=session, mentorship=mentorship))
            elif kind == "cancelled":
                add(b.cancelled(at, session=session, mentorship=mentorship))
            elif kind == "feedback":
                person = draw(st.sampled_from([mentee, mentor]))
                add(b.feedback(at, person, session=session, mentorship=mentorship, note="secret"))
            elif kind == "checkin":
                add(b.checked_in(at, person=mentee, mentorship=mentorship))
            else:
                add(b.ended(at, mentorship=mentorship))
    for index in range(draw(st.integers(0, 2))):
        match = f"p{index}"
        hour = draw(st.integers(0, 24 * 20))
        mentee, mentor = draw(st.sampled_from(MENTEES)), draw(st.sampled_from(MENTORS))
        add(b.proposed(hours(hour), match=match, mentee=mentee, mentor=mentor))
        for person in draw(st.lists(st.sampled_from([mentee, mentor]), max_size=2, unique=True)):
            answer = draw(st.sampled_from([b.accepted, b.declined]))
            add(answer(hours(hour + draw(st.integers(0, 24 * 5))), person, match=match))
    if with_deletions and draw(st.booleans()):
        person = draw(st.sampled_from(MENTEES + MENTORS))
        add(b.deleted(person, hours(draw(st.integers(0, 24 * 60)))))
    return events


RULES = b.books({"rate_limit": {"max_nudges": 2}})
UNTIL = hours(24 * 80)


async def as_the_service_sees_it(
    arrivals: Sequence[CloudEvent[Any]], grace: timedelta, until: datetime
) -> list[str]:
    """The service's behaviour in memory: events applied in arrival order (each id once,
    like the runtime's ledger), timers settled up to the watermark minus the grace."""
    store, notifier = MemoryStore(), Notifier(RULES)
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
        await settle_up_to(watermark - grace)
    await settle_up_to(until)
    return lines


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(histories())
async def test_replaying_the_same_history_twice_gives_the_same_nudges(
    history: list[CloudEvent[Any]],
) -> None:
    first = [nudge_line(n) for n in await simulate(history, RULES, UNTIL)]
    again = [nudge_line(n) for n in await simulate(list(history), RULES, UNTIL)]
    assert first == again


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(histories(), st.data())
async def test_redelivered_events_change_nothing(
    history: list[CloudEvent[Any]], data: st.DataObject
) -> None:
    repeats = data.draw(st.lists(st.sampled_from(history), max_size=10))
    expected = [nudge_line(n) for n in await simulate(history, RULES, UNTIL)]
    assert [nudge_line(n) for n in await simulate(history + repeats, RULES, UNTIL)] == expected


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(histories(with_deletions=False), st.data())
async def test_any_arrival_order_within_the_grace_gives_the_simulators_nudges(
    history: list[CloudEvent[Any]], data: st.DataObject
) -> None:
    grace = data.draw(st.sampled_from([HOUR, 24 * HOUR, 7 * 24 * HOUR]))
    late = [data.draw(st.integers(0, int(grace / HOUR))) * HOUR for _ in history]
    redelivered = data.draw(st.lists(st.integers(0, len(history) - 1), max_size=5))
    keyed = [(e.time + late[i], i, e) for i, e in enumerate(history)]
    keyed += [
        (history[i].time + grace, len(history) + n, history[i]) for n, i in enumerate(redelivered)
    ]
    arrivals = [e for _, _, e in sorted(keyed, key=lambda k: (k[0], k[1]))]

    expected = [nudge_line(n) for n in await simulate(history, RULES, UNTIL)]
    seen = await as_the_service_sees_it(arrivals, grace, UNTIL)
    assert sorted(seen) == sorted(expected)
