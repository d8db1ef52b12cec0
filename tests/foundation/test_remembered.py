"""What `mentormesh up` says at start about the state an earlier run left."""

from __future__ import annotations

from shared.remembered import Remembered

HINT = "Start clean with `mentormesh up --fresh`."


def remembered(*, people: int = 0, applied: int = 0, committed: int = 0) -> Remembered:
    return Remembered(
        people=people, mentorships=people // 3, timers=2 * people, applied=applied,
        topics=12 if committed else 0, committed=committed,
    )  # fmt: skip


def test_a_first_run_is_said_to_start_empty_without_a_hint() -> None:
    lines = remembered().describe(HINT)
    assert lines == ["state: nothing from an earlier run; the database and the broker start empty"]


def test_a_database_that_remembers_with_an_empty_broker_is_a_warning_with_counts_and_hint() -> None:
    lines = remembered(people=30, applied=90).describe(HINT)
    assert lines[0] == (
        "WARNING: the database remembers an earlier run: 30 people, 10 mentorships, "
        "60 pending timers (90 events applied)."
    )
    assert lines[1].startswith("The broker starts empty")
    assert lines[-1] == HINT


def test_a_broker_that_remembers_with_an_empty_database_is_a_warning_with_hint() -> None:
    lines = remembered(committed=120).describe(HINT)
    assert lines[0].startswith("WARNING: the broker remembers an earlier run (12 topics, 120")
    assert "database is empty" in lines[0]
    assert lines[-1] == HINT


def test_a_database_and_broker_that_both_remember_resume_without_a_warning() -> None:
    lines = remembered(people=30, applied=90, committed=95).describe(HINT)
    assert len(lines) == 1
    assert lines[0].startswith("state: resuming an earlier run. The database remembers 30 people")
    assert "(95 messages consumed)" in lines[0]
