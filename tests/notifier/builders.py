"""Histories for notifier tests: events at chosen times, rule books, and runs of the
simulator over them."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import SecretStr

from services.notifier.engine import Nudge
from services.notifier.rulebooks import RuleBooks, rule_books
from services.notifier.rules import load_rules
from services.notifier.simulator import simulate
from shared.erasure import Pseudonyms
from shared.events import (
    CloudEvent,
    EventData,
    FeedbackSubmitted,
    GoalCheckedIn,
    MatchAccepted,
    MatchDeclined,
    MatchExpired,
    MatchProposed,
    MatchWithdrawn,
    MentorshipEnded,
    MentorshipStarted,
    ProfileDeleted,
    ProfileUpserted,
    SessionCancelled,
    SessionCompleted,
    SessionScheduled,
    make_event,
)

# Monday 3 March 2025, 09:00 UTC: daytime in Europe, so nudges are not held back by
# quiet hours unless a test wants them to be.
T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
ADMIN = "admin"
# The tombstone key of in-memory tests; the service's comes from its settings.
PSEUDONYMS = Pseudonyms(SecretStr("notifier-tests-erasure-key"))
_ids = itertools.count()


def day(n: float, hours: float = 0) -> datetime:
    return T0 + timedelta(days=n, hours=hours)


def event(data: EventData, time: datetime, id: str | None = None) -> CloudEvent[Any]:
    return make_event(data, source="/test", id=id or f"e-{next(_ids)}", time=time)


def books(overrides: dict[str, Any] | None = None, admins: Sequence[str] = (ADMIN,)) -> RuleBooks:
    """The default rules with `overrides` laid over them (a programme's [nudges])."""
    section = {"admins": list(admins), **(overrides or {})}
    base = load_rules().overlaid(section)
    return rule_books(base, use_programme_files=False)


def without(*rule_ids: str, **more: Any) -> RuleBooks:
    rules = {rule_id: {"enabled": False} for rule_id in rule_ids}
    return books({"rules": rules, **more})


async def run(
    events: Sequence[CloudEvent[Any]], until: datetime, rules: RuleBooks | None = None
) -> list[Nudge]:
    return await simulate(events, rules or books(), until)


def sent(nudges: Sequence[Nudge]) -> list[tuple[str, str, datetime]]:
    """(kind, person, at) of each nudge, in order."""
    return [(n.data.kind, n.data.person_id, n.at) for n in nudges]


# --- events -------------------------------------------------------------------


def profile(
    person: str, zone: str = "UTC", at: datetime = T0, revision: int = 1
) -> CloudEvent[Any]:
    data = ProfileUpserted(
        person_id=person, roles=["mentee"], goals=[], passions=[], skills=[],
        languages=["en"], timezone=zone, capacity=0, open_to_introductions=True,
        paused=False, revision=revision,
    )  # fmt: skip
    return event(data, at)


def deleted(person: str, at: datetime) -> CloudEvent[Any]:
    return event(ProfileDeleted(person_id=person), at)


def started(
    at: datetime = T0, mentorship: str = "m1", mentee: str = "ana", mentor: str = "bo",
    programme: str = "default",
) -> CloudEvent[Any]:  # fmt: skip
    data = MentorshipStarted(
        mentorship_id=mentorship, programme_id=programme, mentee_id=mentee, mentor_id=mentor
    )
    return event(data, at)


def ended(at: datetime, mentorship: str = "m1") -> CloudEvent[Any]:
    return event(MentorshipEnded(mentorship_id=mentorship, reason="done"), at)


def scheduled(
    at: datetime, starts: datetime | None = None, session: str = "s1", mentorship: str = "m1"
) -> CloudEvent[Any]:
    data = SessionScheduled(mentorship_id=mentorship, session_id=session, starts_at=starts or at)
    return event(data, at)


def completed(at: datetime, session: str = "s1", mentorship: str = "m1") -> CloudEvent[Any]:
    data = SessionCompleted(
        mentorship_id=mentorship, session_id=session, occurred_at=at, duration_minutes=60
    )
    return event(data, at)


def cancelled(at: datetime, session: str = "s1", mentorship: str = "m1") -> CloudEvent[Any]:
    return event(SessionCancelled(mentorship_id=mentorship, session_id=session), at)


def feedback(
    at: datetime, person: str, session: str = "s1", mentorship: str = "m1",
    rating: int = 4, note: str | None = None,
) -> CloudEvent[Any]:  # fmt: skip
    data = FeedbackSubmitted(
        mentorship_id=mentorship, session_id=session, from_person_id=person,
        rating=rating, private_note=note,
    )  # fmt: skip
    return event(data, at)


def checked_in(at: datetime, person: str = "ana", mentorship: str = "m1") -> CloudEvent[Any]:
    data = GoalCheckedIn(mentorship_id=mentorship, person_id=person, goal="ship it", progress=40)
    return event(data, at)


def proposed(
    at: datetime = T0, match: str = "p1", mentee: str = "ana", mentor: str = "bo",
    expires_in: timedelta = timedelta(days=7),
) -> CloudEvent[Any]:  # fmt: skip
    data = MatchProposed(
        match_id=match, programme_id="default", mentee_id=mentee, mentor_id=mentor,
        score=0.8, reasons=["shared goals"], expires_at=at + expires_in,
    )  # fmt: skip
    return event(data, at)


def accepted(at: datetime, person: str, match: str = "p1") -> CloudEvent[Any]:
    return event(MatchAccepted(match_id=match, person_id=person), at)


def declined(at: datetime, person: str, match: str = "p1") -> CloudEvent[Any]:
    return event(MatchDeclined(match_id=match, person_id=person), at)


def expired(
    at: datetime, match: str = "p1", mentee: str = "ana", mentor: str = "bo"
) -> CloudEvent[Any]:
    data = MatchExpired(match_id=match, programme_id="default", mentee_id=mentee, mentor_id=mentor)
    return event(data, at)


def withdrawn(
    at: datetime, match: str = "p1", mentee: str = "ana", mentor: str = "bo"
) -> CloudEvent[Any]:
    data = MatchWithdrawn(
        match_id=match, programme_id="default", mentee_id=mentee, mentor_id=mentor,
        reason="mentor paused",
    )  # fmt: skip
    return event(data, at)


NOTE = "PRIVATE: nobody may read this"


def busy_history() -> list[CloudEvent[Any]]:
    """A bit of everything: zones, a busy mentor, sessions, feedback with a note, a
    check-in, a proposal, an ending and a deletion."""
    return [
        profile("ana", "Asia/Tokyo"), profile("bo", "America/New_York"),
        started(T0, mentorship="m1", mentee="ana", mentor="bo"),
        started(T0, mentorship="m2", mentee="cy", mentor="bo"),
        started(day(1), mentorship="m3", mentee="quinn", mentor="bo"),
        started(day(1), mentorship="m4", mentee="eli", mentor="bo"),
        scheduled(day(3), day(5), mentorship="m1"), completed(day(5), mentorship="m1"),
        feedback(day(5, 2), "ana", mentorship="m1", rating=2, note=NOTE),
        checked_in(day(20), person="cy", mentorship="m2"),
        proposed(day(2), match="p1", mentee="fay", mentor="gus"),
        accepted(day(3), "fay", match="p1"),
        ended(day(30), mentorship="m4"),
        deleted("quinn", day(35)),
    ]  # fmt: skip
