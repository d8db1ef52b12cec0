"""Feedback's rating and private note never reach the notifier's state or a nudge."""

from __future__ import annotations

from services.notifier.facts import FeedbackArrived
from services.notifier.memory_store import MemoryNotifierStore
from services.notifier.rulebooks import RuleBooks
from services.notifier.simulator import Simulation
from tests.notifier.builders import T0, books, completed, day, feedback, started

NOTE = "my mentor seemed distracted and I am thinking of quitting"


def _everything_stored(store: MemoryNotifierStore) -> str:
    parts = [m.model_dump_json() for m in store.mentorships.values()]
    parts += [t.model_dump_json() for t in store.timers.values()]
    parts += [n.data.model_dump_json() for n in store.nudges.values()]
    return "\n".join(parts)


async def _after_feedback(rules: RuleBooks) -> Simulation:
    simulation = Simulation(rules)
    for event in [
        started(T0),
        completed(day(2), session="s1"),
        feedback(day(2, 1), "ana", session="s1", rating=1, note=NOTE),
        completed(day(9), session="s2"),
    ]:
        await simulation.feed(event)
    await simulation.advance(day(60))
    return simulation


async def test_only_the_fact_that_feedback_arrived_is_kept() -> None:
    assert set(FeedbackArrived.model_fields) == {"session_id", "person_id", "at"}
    simulation = await _after_feedback(books())
    (mentorship,) = simulation.store.mentorships.values()
    assert [(f.session_id, f.person_id) for f in mentorship.feedback] == [("s1", "ana")]
    assert NOTE not in _everything_stored(simulation.store)
    assert "rating" not in _everything_stored(simulation.store)


async def test_no_nudge_carries_the_note_or_the_rating() -> None:
    simulation = await _after_feedback(books())
    nudges = list(simulation.store.nudges.values())
    assert any(n.data.kind == "feedback-reminder" for n in nudges)
    for nudge in nudges:
        body = nudge.data.model_dump_json()
        assert NOTE not in body
        assert "rating" not in body and "rated" not in body
