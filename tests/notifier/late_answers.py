"""The arrivals that once lost every nudge of a mentorship: an answer to its proposal
applied after the mentorship had started (same id). Each case is a history, the order
the service sees it in, the grace it runs with, and the nudges worked out by hand."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from shared.events import CloudEvent
from tests.notifier import builders as b

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
REMINDER = 3 * DAY  # the proposal reminder's default
UNTIL = b.day(63)
Sent = tuple[str, str, datetime]


def the_mentorships_nudges(start: datetime) -> list[Sent]:
    """No session ever: the ladder (14, 28, 42 days) and the goal check-ins (28, 56
    days); all in UTC daytime, and at most 2 a week for anyone."""
    return sorted(
        [
            ("no-session-reminder", "ana", start + 14 * DAY),
            ("no-session-reminder", "bo", start + 14 * DAY),
            ("goal-check-in", "ana", start + 28 * DAY),
            ("no-session-warning", "ana", start + 28 * DAY),
            ("no-session-warning", "bo", start + 28 * DAY),
            ("no-session-escalation", b.ADMIN, start + 42 * DAY),
            ("goal-check-in", "ana", start + 56 * DAY),
        ]
    )


@dataclass(frozen=True)
class Case:
    name: str
    history: list[CloudEvent[Any]]
    arrivals: list[CloudEvent[Any]]
    grace: timedelta
    expected: list[Sent]
    until: datetime = UNTIL


def _accepted_by_both(mentee_after: timedelta) -> tuple[CloudEvent[Any], ...]:
    """Proposed at T0; the mentor accepts an hour later, the mentee `mentee_after`,
    which starts the mentorship: the matcher starts it in the last accept's unit of work.
    """
    start = b.T0 + mentee_after
    return (
        b.proposed(b.T0, match="x", mentee="ana", mentor="bo"),
        b.accepted(b.T0 + HOUR, "bo", match="x"),
        b.accepted(start, "ana", match="x"),
        b.started(start, mentorship="x", mentee="ana", mentor="bo"),
    )


def _cases() -> list[Case]:
    proposed, mentor, mentee, started = _accepted_by_both(2 * HOUR)
    start = started.time
    # Someone else's profile an hour after the start: what moves event time on.
    later = b.profile("zed", at=start + HOUR)
    again = b.accepted(start + 5 * DAY, "ana", match="x")
    due = _accepted_by_both(REMINDER)
    due_later = b.profile("zed", at=due[3].time + HOUR)
    return [
        Case(
            "the mentee's accept at the start instant, applied after the start",
            [proposed, mentor, mentee, started],
            [proposed, mentor, started, mentee],
            HOUR,
            the_mentorships_nudges(start),
        ),
        Case(
            "the mentee's accept an hour late, within an hour's grace",
            [proposed, mentor, mentee, started, later],
            [proposed, mentor, started, later, mentee],
            HOUR,
            the_mentorships_nudges(start),
        ),
        Case(
            "the mentee's accept repeated five days after the start, in time order",
            [proposed, mentor, mentee, started, again],
            [proposed, mentor, mentee, started, again],
            HOUR,
            the_mentorships_nudges(start),
        ),
        Case(
            "the mentee's accept exactly the grace late, at the instant her reminder is due",
            [*due, due_later],
            [due[0], due[1], due[3], due_later, due[2]],
            HOUR,
            the_mentorships_nudges(due[3].time),
        ),
    ]


LATE_ANSWERS = _cases()
