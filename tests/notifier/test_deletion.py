"""`profile.deleted` cancels every timer and purges the person's data in the notifier;
`mentorship.ended` cancels that mentorship's timers."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from services.notifier.simulator import Simulation
from shared.events import CloudEvent
from tests.notifier.builders import (
    ADMIN,
    PSEUDONYMS,
    T0,
    books,
    completed,
    day,
    deleted,
    ended,
    feedback,
    profile,
    proposed,
    run,
    sent,
    started,
)


async def _simulated(events: list[CloudEvent[Any]], until: datetime) -> Simulation:
    simulation = Simulation(books(), PSEUDONYMS)
    for event in sorted(events, key=lambda e: e.time):
        await simulation.feed(event)
    await simulation.advance(until)
    return simulation


def _dump(simulation: Simulation) -> str:
    store = simulation.store
    parts = [m.model_dump_json() for m in store.mentorships.values()]
    parts += [p.model_dump_json() for p in store.proposals.values()]
    parts += [p.model_dump_json() for p in store.people.values()]
    parts += [t.model_dump_json() for t in store.timers.values()]
    parts += [n.data.model_dump_json() + repr(n.people) for n in store.nudges.values()]
    parts += [repr(store.sent), repr(store.tombstones)]
    return "\n".join(parts)


async def test_a_deleted_person_gets_no_more_nudges_and_neither_does_anyone_about_them() -> None:
    history = [profile("ana"), started(T0, mentee="ana", mentor="bo"), deleted("ana", day(20))]
    nudges = await run(history, until=day(100))
    assert sent(nudges) == [
        ("no-session-reminder", "ana", day(14)), ("no-session-reminder", "bo", day(14)),
    ]  # fmt: skip


async def test_deletion_purges_everything_that_names_the_person() -> None:
    history = [
        profile("ana-7"), started(T0, mentee="ana-7", mentor="bo"), completed(day(2)),
        feedback(day(2, 1), "ana-7"), proposed(day(1), match="p9", mentee="ana-7", mentor="cy"),
        deleted("ana-7", day(20)),
    ]  # fmt: skip
    before = await _simulated(history[:-1], day(19))
    assert "ana-7" in _dump(before)
    after = await _simulated(history, day(40))
    assert "ana-7" not in _dump(after)
    assert PSEUDONYMS.tombstone("person", "ana-7") in after.store.tombstones


async def test_the_other_persons_other_mentorships_carry_on() -> None:
    history = [
        started(T0, mentorship="m1", mentee="ana", mentor="bo"),
        started(T0, mentorship="m2", mentee="cy", mentor="bo"),
        deleted("ana", day(1)),
    ]
    nudges = await run(
        history, until=day(15), rules=books({"rules": {"goal-check-in": {"enabled": False}}})
    )
    assert sorted(sent(nudges)) == [
        ("no-session-reminder", "bo", day(14)), ("no-session-reminder", "cy", day(14)),
    ]  # fmt: skip
    assert {n.data.mentorship_id for n in nudges} == {"m2"}


async def test_late_events_from_before_the_deletion_do_not_bring_the_person_back() -> None:
    simulation = Simulation(books(), PSEUDONYMS)
    await simulation.feed(deleted("ana", day(5)))
    # Delivered after the deletion, though they happened before it.
    await simulation.feed(profile("ana", at=day(1)))
    await simulation.feed(started(day(2), mentee="ana", mentor="bo"))
    assert await simulation.advance(day(100)) == []
    assert "ana" not in _dump(simulation).replace(PSEUDONYMS.tombstone("person", "ana"), "")


async def test_a_person_who_signs_up_again_after_deletion_is_nudged_again() -> None:
    history = [
        deleted("ana", day(1)),
        profile("ana", at=day(1) + timedelta(hours=1)),
        started(day(2), mentee="ana", mentor="bo"),
    ]
    nudges = await run(history, until=day(16))
    assert ("no-session-reminder", "ana", day(16)) in sent(nudges)


async def test_a_later_stamp_does_not_bring_back_who_never_signed_up_again() -> None:
    # A matcher that had not applied the deletion yet proposed to the mentor who left,
    # stamping the proposal with its own, later clock.
    simulation = Simulation(books(), PSEUDONYMS)
    await simulation.feed(profile("bo", at=T0))
    await simulation.feed(deleted("bo", day(5)))
    await simulation.feed(proposed(day(5) + timedelta(seconds=3), mentee="ana", mentor="bo"))
    assert await simulation.advance(day(30)) == []
    assert "bo" not in _dump(simulation).replace(PSEUDONYMS.tombstone("person", "bo"), "")


async def test_an_ended_mentorship_cancels_only_its_own_timers() -> None:
    history = [
        started(T0, mentorship="m1", mentee="ana", mentor="bo"),
        started(T0, mentorship="m2", mentee="cy", mentor="bo"),
        ended(day(3), mentorship="m1"),
    ]
    nudges = await run(history, until=day(50))
    assert {n.data.mentorship_id for n in nudges} == {"m2"}
    assert ("no-session-escalation", ADMIN, day(42)) in sent(nudges)
