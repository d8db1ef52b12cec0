"""What the notifier remembers about mentorships, proposals and people, and how each
event adds to it.

Facts only accumulate, each with the event time it became true, so every decision
can be taken "as of" an instant from whatever subset of events has arrived: the
order in which topics deliver does not matter. Feedback is remembered as the bare
fact that a person sent it for a session; its rating and note are never read.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from functools import cached_property
from typing import Annotated, Any, Literal, TypeVar, cast
from zoneinfo import ZoneInfo

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from shared.events import (
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
    ProfileUpserted,
    SessionCancelled,
    SessionCompleted,
    SessionScheduled,
)

# A person's zone changes kept: enough to answer "which zone at that instant" for any
# nudge still pending, without growing forever.
ZONE_HISTORY = 8


def instant(moment: datetime) -> datetime:
    """UTC at millisecond precision, what MongoDB stores: the simulator and the service
    must derive the same timer ids from the same times."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    moment = moment.astimezone(UTC)
    return moment.replace(microsecond=moment.microsecond - moment.microsecond % 1000)


Instant = Annotated[datetime, AfterValidator(instant)]

# A proposal and the mentorship it becomes share an id (the matcher gives a mentorship
# its match's id), so wherever both meet (timers, indexes) they are told apart by a
# typed key: "mentorship:<id>" or "proposal:<id>".
SubjectKind = Literal["mentorship", "proposal"]


def subject_key(kind: SubjectKind, ident: str) -> str:
    return f"{kind}:{ident}"


def parse_subject_key(key: str) -> tuple[SubjectKind, str]:
    kind, _, ident = key.partition(":")
    if kind not in ("mentorship", "proposal") or not ident:
        raise ValueError(f"not a subject key: {key!r}")
    return cast(SubjectKind, kind), ident


class Fact(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class Scheduling(Fact):
    session_id: str
    at: Instant
    starts_at: Instant


class SessionMark(Fact):
    """A session completed or cancelled at `at`."""

    session_id: str
    at: Instant


class FeedbackArrived(Fact):
    session_id: str
    person_id: str
    at: Instant


class MentorshipFacts(Fact):
    id: str
    programme_id: str | None = None
    mentee_id: str | None = None
    mentor_id: str | None = None
    started_at: Instant | None = None
    ended_at: Instant | None = None
    schedulings: tuple[Scheduling, ...] = ()
    completions: tuple[SessionMark, ...] = ()
    cancellations: tuple[SessionMark, ...] = ()
    feedback: tuple[FeedbackArrived, ...] = ()
    checkins: tuple[Instant, ...] = ()
    # One of the two people was erased: the mentorship is forgotten but for its id,
    # so late events about it are recognised and dropped.
    purged: bool = False

    @property
    def key(self) -> str:
        return subject_key("mentorship", self.id)

    @property
    def people(self) -> tuple[str, ...]:
        return tuple(p for p in (self.mentee_id, self.mentor_id) if p is not None)

    @property
    def named(self) -> tuple[str, ...]:
        """Everyone the facts name, also before the start arrived: what erasure looks for."""
        return tuple(dict.fromkeys((*self.people, *(f.person_id for f in self.feedback))))

    def active_at(self, at: datetime) -> bool:
        if self.purged or self.started_at is None or self.started_at > at:
            return False
        return self.ended_at is None or self.ended_at > at

    def model_copy(
        self, *, update: Mapping[str, Any] | None = None, deep: bool = False
    ) -> MentorshipFacts:
        copy = super().model_copy(update=update, deep=deep)
        copy.__dict__.pop("engagement", None)  # derived from the facts: not to be copied
        return copy

    @cached_property
    def engagement(self) -> tuple[tuple[datetime, datetime], ...]:
        """The periods the pair counted as engaged, as (start, end), by start: a
        completed session is a moment; a scheduled one covers from its scheduling to its
        planned start, cut short by a reschedule, a cancellation or an early completion.

        Computed from every fact, yet exact "as of" any instant for the spans starting
        by then: a fact later than the instant can only cut a span short after it."""
        spans = [(c.at, c.at) for c in self.completions]
        marks: dict[str, list[datetime]] = {}
        for mark in (*self.cancellations, *self.completions):
            marks.setdefault(mark.session_id, []).append(mark.at)
        # A total order, so that two schedulings at the same instant do not depend on
        # which arrived first.
        schedulings = sorted(self.schedulings, key=lambda s: (s.at, s.starts_at, s.session_id))
        for index, scheduling in enumerate(schedulings):
            ends = [scheduling.starts_at]
            ends += [m for m in marks.get(scheduling.session_id, []) if m >= scheduling.at]
            ends += [
                later.at
                for later in schedulings[index + 1 :]
                if later.session_id == scheduling.session_id
            ]
            spans.append((scheduling.at, max(scheduling.at, min(ends))))
        return tuple(sorted(spans))


class Answer(Fact):
    person_id: str
    at: Instant
    accepted: bool


class ProposalFacts(Fact):
    id: str
    programme_id: str | None = None
    mentee_id: str | None = None
    mentor_id: str | None = None
    proposed_at: Instant | None = None
    expires_at: Instant | None = None
    answers: tuple[Answer, ...] = ()
    closed_at: Instant | None = None  # expired or withdrawn
    purged: bool = False

    @property
    def key(self) -> str:
        return subject_key("proposal", self.id)

    @property
    def people(self) -> tuple[str, ...]:
        return tuple(p for p in (self.mentee_id, self.mentor_id) if p is not None)

    @property
    def named(self) -> tuple[str, ...]:
        """Everyone the facts name, also before the proposal arrived: what erasure looks for."""
        return tuple(dict.fromkeys((*self.people, *(a.person_id for a in self.answers))))

    def open_at(self, at: datetime) -> bool:
        if self.purged or self.proposed_at is None or self.proposed_at > at:
            return False
        if self.expires_at is not None and self.expires_at <= at:
            return False
        if self.closed_at is not None and self.closed_at <= at:
            return False
        return not any(not a.accepted and a.at <= at for a in self.answers)

    def answered_by(self, person_id: str, at: datetime) -> bool:
        return any(a.person_id == person_id and a.at <= at for a in self.answers)


class ZoneChange(Fact):
    revision: int
    at: Instant
    timezone: str


class PersonFacts(Fact):
    """Only what nudging needs: the person's time zone over time."""

    id: str
    zones: tuple[ZoneChange, ...] = Field(default=())

    def zone_at(self, at: datetime) -> ZoneInfo:
        """The zone of the newest revision known at `at`; UTC before any."""
        known = [z for z in self.zones if z.at <= at]
        if not known:
            return ZoneInfo("UTC")
        return ZoneInfo(max(known, key=lambda z: (z.revision, z.at)).timezone)


def _earliest(current: datetime | None, moment: datetime) -> datetime:
    return moment if current is None or moment < current else current


T = TypeVar("T")


def _added(items: tuple[T, ...], item: T) -> tuple[T, ...]:
    return items if item in items else (*items, item)


def people_named(data: EventData) -> tuple[str, ...]:
    """The people a mentorship or proposal event names that its facts would keep: an
    event about someone from before their erasure must not bring their id back."""
    if isinstance(data, MentorshipStarted | MatchProposed | MatchExpired | MatchWithdrawn):
        return (data.mentee_id, data.mentor_id)
    if isinstance(data, FeedbackSubmitted):
        return (data.from_person_id,)
    if isinstance(data, MatchAccepted | MatchDeclined):
        return (data.person_id,)
    return ()


def record_activity(facts: MentorshipFacts, data: EventData, at: datetime) -> MentorshipFacts:
    """`facts` with one mentorship event (from matches, activity or responses) added."""
    at = instant(at)
    if isinstance(data, MentorshipStarted):
        return facts.model_copy(
            update={
                "programme_id": data.programme_id,
                "mentee_id": data.mentee_id,
                "mentor_id": data.mentor_id,
                "started_at": _earliest(facts.started_at, at),
            }
        )
    if isinstance(data, MentorshipEnded):
        return facts.model_copy(update={"ended_at": _earliest(facts.ended_at, at)})
    if isinstance(data, SessionScheduled):
        scheduling = Scheduling(session_id=data.session_id, at=at, starts_at=data.starts_at)
        return facts.model_copy(update={"schedulings": _added(facts.schedulings, scheduling)})
    if isinstance(data, SessionCompleted):
        mark = SessionMark(session_id=data.session_id, at=at)
        return facts.model_copy(update={"completions": _added(facts.completions, mark)})
    if isinstance(data, SessionCancelled):
        mark = SessionMark(session_id=data.session_id, at=at)
        return facts.model_copy(update={"cancellations": _added(facts.cancellations, mark)})
    if isinstance(data, FeedbackSubmitted):
        # Deliberately only who and which session: never `rating` or `private_note`.
        arrived = FeedbackArrived(session_id=data.session_id, person_id=data.from_person_id, at=at)
        return facts.model_copy(update={"feedback": _added(facts.feedback, arrived)})
    if isinstance(data, GoalCheckedIn):
        return facts.model_copy(update={"checkins": tuple(sorted(_added(facts.checkins, at)))})
    raise TypeError(f"not a mentorship event: {data.TYPE}")


def record_proposal(facts: ProposalFacts, data: EventData, at: datetime) -> ProposalFacts:
    at = instant(at)
    if isinstance(data, MatchProposed):
        return facts.model_copy(
            update={
                "programme_id": data.programme_id,
                "mentee_id": data.mentee_id,
                "mentor_id": data.mentor_id,
                "proposed_at": _earliest(facts.proposed_at, at),
                "expires_at": instant(data.expires_at),
            }
        )
    if isinstance(data, MatchAccepted | MatchDeclined):
        answer = Answer(person_id=data.person_id, at=at, accepted=isinstance(data, MatchAccepted))
        return facts.model_copy(update={"answers": _added(facts.answers, answer)})
    if isinstance(data, MatchExpired | MatchWithdrawn):
        return facts.model_copy(
            update={
                "programme_id": facts.programme_id or data.programme_id,
                "mentee_id": facts.mentee_id or data.mentee_id,
                "mentor_id": facts.mentor_id or data.mentor_id,
                "closed_at": _earliest(facts.closed_at, at),
            }
        )
    raise TypeError(f"not a proposal event: {data.TYPE}")


def record_profile(facts: PersonFacts, data: ProfileUpserted, at: datetime) -> PersonFacts:
    change = ZoneChange(revision=data.revision, at=instant(at), timezone=data.timezone)
    # One entry per revision; should a revision come twice, the earliest wins whatever
    # the order of arrival.
    by_revision = {z.revision: z for z in facts.zones}
    same = by_revision.get(change.revision)
    if same is not None and (same.at, same.timezone) <= (change.at, change.timezone):
        return facts
    by_revision[change.revision] = change
    zones = sorted(by_revision.values(), key=lambda z: z.revision)[-ZONE_HISTORY:]
    return facts.model_copy(update={"zones": tuple(zones)})
