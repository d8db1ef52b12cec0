"""Small builders for the network tests: people, graphs and events."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from services.network.graph import SocialGraph
from services.network.people import Person
from services.network.ties import TieKind, make_tie
from shared.events import (
    CloudEvent,
    ConnectionAdded,
    ConnectionKind,
    ConnectionRemoved,
    EventData,
    GoalCheckedIn,
    IntroductionAccepted,
    IntroductionDeclined,
    IntroductionsRequested,
    MentorshipEnded,
    MentorshipStarted,
    ProfileDeleted,
    ProfileUpserted,
    SessionCompleted,
    derived_id,
    make_event,
)

T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
MENTORSHIP = frozenset({TieKind.MENTORSHIP})
INTRODUCTION = frozenset({TieKind.INTRODUCTION})


def person(pid: str, **kw: Any) -> Person:
    return Person(id=pid, **kw)


def graph_of(
    ties: Iterable[tuple[str, str]],
    people: Iterable[Person] = (),
    kinds: frozenset[TieKind] = MENTORSHIP,
) -> SocialGraph:
    graph = SocialGraph()
    for p in people:
        graph.put_person(p)
    for a, b in ties:
        for end in (a, b):
            if end not in graph:
                graph.put_person(Person(id=end))
        graph.set_tie(a, b, make_tie(kinds))
    return graph


def event(data: EventData, at: datetime = T0, id: str | None = None) -> CloudEvent[Any]:
    return make_event(data, source="/test", id=id, time=at)


def profile(
    pid: str,
    *,
    revision: int = 1,
    goals: list[str] | None = None,
    skills: list[str] | None = None,
    passions: list[str] | None = None,
    open_to_introductions: bool = True,
    paused: bool = False,
    programmes: list[str] | None = None,
) -> ProfileUpserted:
    return ProfileUpserted(
        person_id=pid,
        roles=["mentee"],
        programmes=programmes or ["default"],
        goals=goals or [],
        passions=passions or [],
        skills=skills or [],
        languages=["en"],
        timezone="UTC",
        capacity=1,
        open_to_introductions=open_to_introductions,
        paused=paused,
        revision=revision,
    )


def started(mid: str, mentee: str, mentor: str, programme: str = "default") -> MentorshipStarted:
    return MentorshipStarted(
        mentorship_id=mid, programme_id=programme, mentee_id=mentee, mentor_id=mentor
    )


def completed(mid: str, n: int, at: datetime = T0) -> SessionCompleted:
    return SessionCompleted(
        mentorship_id=mid, session_id=f"{mid}-s{n}", occurred_at=at, duration_minutes=45
    )


def ended(mid: str) -> MentorshipEnded:
    return MentorshipEnded(mentorship_id=mid, reason="done")


def checked_in(mid: str, pid: str) -> GoalCheckedIn:
    return GoalCheckedIn(mentorship_id=mid, person_id=pid, goal="rust", progress=50)


def accepted(intro: str, pid: str) -> IntroductionAccepted:
    return IntroductionAccepted(introduction_id=intro, person_id=pid)


def declined(intro: str, pid: str) -> IntroductionDeclined:
    return IntroductionDeclined(introduction_id=intro, person_id=pid)


def deleted(pid: str) -> ProfileDeleted:
    return ProfileDeleted(person_id=pid)


def connected(
    cid: str, a: str, b: str, kind: ConnectionKind = "colleague", weight: float | None = None
) -> ConnectionAdded:
    return ConnectionAdded(
        connection_id=cid, person_a=a, person_b=b, kind=kind, weight=weight, since=T0
    )


def disconnected(cid: str, a: str, b: str) -> ConnectionRemoved:
    return ConnectionRemoved(connection_id=cid, person_a=a, person_b=b)


def requested(pid: str, k: int = 3, programme: str | None = None) -> IntroductionsRequested:
    return IntroductionsRequested(request_id=f"req-{pid}", person_id=pid, k=k,
                                  programme_id=programme)  # fmt: skip


def days(n: float) -> timedelta:
    return timedelta(days=n)


async def mentor_with_two_mentees(net: Any) -> None:
    """m mentors a and b; b wants to learn what a knows."""
    await net.apply_all(
        event(profile("a", skills=["embedded rust"])),
        event(profile("b", goals=["Embedded Rust"])),
        event(profile("m")),
        event(started("ma", "a", "m")),
        event(started("mb", "b", "m")),
    )


def intro_id(a: str, b: str) -> str:
    from services.network.documents import introduction_id

    return introduction_id(a, b)


__all__ = ["derived_id"]
