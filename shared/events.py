"""The event contract: CloudEvents 1.0 envelopes (structured JSON mode) and one
strict pydantic model per `data` type.

Platforms publish to `profiles`, `activity` and `responses`; MentorMesh publishes
`matches`, `introductions` and `nudges`. The Kafka key of every message is the
field named by the data model's `KEY`.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from functools import cache
from typing import Annotated, Any, ClassVar, Generic, Literal, TypeVar, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    create_model,
)

SPEC_VERSION: Literal["1.0"] = "1.0"
# Namespace for ids derived from other ids (uuid5), so a redelivered input always
# yields the same output ids and consumers downstream can de-duplicate.
ID_NAMESPACE = uuid.UUID("6f1c9a52-3a1e-4d8e-9a44-3f0f5b7de3a1")

TopicKey = Literal["profiles", "activity", "responses", "matches", "introductions", "nudges"]
Role = Literal["mentor", "mentee"]


def _valid_timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown IANA time zone {name!r}") from exc
    return name


def _unique(values: list[str]) -> list[str]:
    if len(set(values)) != len(values):
        raise ValueError("values must be unique")
    return values


Id = Annotated[str, Field(min_length=1, max_length=200)]
Tag = Annotated[str, Field(min_length=1, max_length=200)]
Timezone = Annotated[str, AfterValidator(_valid_timezone)]


class EventData(BaseModel):
    """Base of every `data` model: strict, closed, immutable."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)

    TYPE: ClassVar[str]
    TOPIC: ClassVar[TopicKey]
    KEY: ClassVar[str]

    def partition_key(self) -> str:
        return str(getattr(self, self.KEY))


# --- mentormesh.profiles ---------------------------------------------------


class ProfileUpserted(EventData):
    """A person signed up or changed their profile. A newer `revision` wins."""

    TYPE = "mentormesh.profile.upserted.v1"
    TOPIC = "profiles"
    KEY = "person_id"

    person_id: Id
    roles: Annotated[list[Role], AfterValidator(_unique)]
    programmes: Annotated[list[Id], Field(min_length=1), AfterValidator(_unique)] = Field(
        default_factory=lambda: ["default"]
    )
    goals: list[Tag]
    passions: list[Tag]
    skills: list[Tag]
    languages: list[Tag]
    timezone: Timezone
    capacity: Annotated[int, Field(ge=0, le=100)]
    open_to_introductions: bool
    paused: bool
    revision: Annotated[int, Field(ge=0)]


class ProfileDeleted(EventData):
    """The person left: every service erases them."""

    TYPE = "mentormesh.profile.deleted.v1"
    TOPIC = "profiles"
    KEY = "person_id"

    person_id: Id


# --- mentormesh.activity ---------------------------------------------------


class ActivityData(EventData):
    TOPIC = "activity"
    KEY = "mentorship_id"

    mentorship_id: Id


class SessionScheduled(ActivityData):
    TYPE = "mentormesh.session.scheduled.v1"

    session_id: Id
    starts_at: AwareDatetime


class SessionCompleted(ActivityData):
    TYPE = "mentormesh.session.completed.v1"

    session_id: Id
    occurred_at: AwareDatetime
    duration_minutes: Annotated[int, Field(gt=0, le=24 * 60)]


class SessionCancelled(ActivityData):
    TYPE = "mentormesh.session.cancelled.v1"

    session_id: Id


class FeedbackSubmitted(ActivityData):
    """Feedback on a session. The rating and the note are confidential: they stay
    in the service that receives them and are never republished."""

    TYPE = "mentormesh.feedback.submitted.v1"

    session_id: Id
    from_person_id: Id
    rating: Annotated[int, Field(ge=1, le=5)]
    private_note: Annotated[
        str | None,
        Field(max_length=10_000, json_schema_extra={"x-confidential": True}),
    ] = None


class GoalCheckedIn(ActivityData):
    TYPE = "mentormesh.goal.checked_in.v1"

    person_id: Id
    goal: Tag
    progress: Annotated[int, Field(ge=0, le=100)]


# --- mentormesh.responses --------------------------------------------------


class MatchAccepted(EventData):
    TYPE = "mentormesh.match.accepted.v1"
    TOPIC = "responses"
    KEY = "match_id"

    match_id: Id
    person_id: Id


class MatchDeclined(EventData):
    TYPE = "mentormesh.match.declined.v1"
    TOPIC = "responses"
    KEY = "match_id"

    match_id: Id
    person_id: Id


class MentorshipEnded(EventData):
    TYPE = "mentormesh.mentorship.ended.v1"
    TOPIC = "responses"
    KEY = "mentorship_id"

    mentorship_id: Id
    reason: Annotated[str, Field(max_length=1000)]


class IntroductionAccepted(EventData):
    TYPE = "mentormesh.introduction.accepted.v1"
    TOPIC = "responses"
    KEY = "introduction_id"

    introduction_id: Id
    person_id: Id


class IntroductionDeclined(EventData):
    TYPE = "mentormesh.introduction.declined.v1"
    TOPIC = "responses"
    KEY = "introduction_id"

    introduction_id: Id
    person_id: Id


# --- mentormesh.matches (published by the matcher) ---------------------------


class MatchProposed(EventData):
    TYPE = "mentormesh.match.proposed.v1"
    TOPIC = "matches"
    KEY = "mentee_id"

    match_id: Id
    programme_id: Id
    mentee_id: Id
    mentor_id: Id
    score: Annotated[float, Field(ge=0.0, le=1.0)]
    reasons: list[str]
    # Each scoring component's share of the score, for dashboards.
    components: dict[str, float] = Field(default_factory=dict)
    expires_at: AwareDatetime


class MentorshipStarted(EventData):
    TYPE = "mentormesh.mentorship.started.v1"
    TOPIC = "matches"
    KEY = "mentee_id"

    mentorship_id: Id
    programme_id: Id
    mentee_id: Id
    mentor_id: Id


class MatchExpired(EventData):
    TYPE = "mentormesh.match.expired.v1"
    TOPIC = "matches"
    KEY = "mentee_id"

    match_id: Id
    programme_id: Id
    mentee_id: Id
    mentor_id: Id


class MatchWithdrawn(EventData):
    """An open proposal taken back, e.g. because one of the two people left."""

    TYPE = "mentormesh.match.withdrawn.v1"
    TOPIC = "matches"
    KEY = "mentee_id"

    match_id: Id
    programme_id: Id
    mentee_id: Id
    mentor_id: Id
    reason: str


# --- mentormesh.introductions (published by the network service) -----------


class IntroductionSuggested(EventData):
    TYPE = "mentormesh.introduction.suggested.v1"
    TOPIC = "introductions"
    KEY = "introducer_id"

    introduction_id: Id
    introducer_id: Id
    person_id: Id
    candidate_id: Id
    score: Annotated[float, Field(ge=0.0)]
    reasons: list[str]


# --- mentormesh.nudges (published by the notifier) ---------------------------


class NudgeEmitted(EventData):
    TYPE = "mentormesh.nudge.emitted.v1"
    TOPIC = "nudges"
    KEY = "person_id"

    nudge_id: Id
    person_id: Id
    kind: Id
    mentorship_id: Id | None = None
    reason: str
    message: str
    programme_id: Id | None = None
    escalation: bool = False


DATA_MODELS: tuple[type[EventData], ...] = (
    ProfileUpserted,
    ProfileDeleted,
    SessionScheduled,
    SessionCompleted,
    SessionCancelled,
    FeedbackSubmitted,
    GoalCheckedIn,
    MatchAccepted,
    MatchDeclined,
    MentorshipEnded,
    IntroductionAccepted,
    IntroductionDeclined,
    MatchProposed,
    MentorshipStarted,
    MatchExpired,
    MatchWithdrawn,
    IntroductionSuggested,
    NudgeEmitted,
)
DATA_BY_TYPE: dict[str, type[EventData]] = {m.TYPE: m for m in DATA_MODELS}

DataT = TypeVar("DataT", bound=EventData)


class CloudEvent(BaseModel, Generic[DataT]):
    """A CloudEvents 1.0 envelope in structured JSON mode."""

    model_config = ConfigDict(strict=True, extra="allow", frozen=True)

    specversion: Literal["1.0"] = SPEC_VERSION
    id: Id
    source: Annotated[str, Field(min_length=1)]
    type: str
    time: AwareDatetime
    subject: str | None = None
    datacontenttype: Literal["application/json"] = "application/json"
    data: DataT

    def to_json(self) -> bytes:
        return self.model_dump_json(exclude_none=True).encode()

    @property
    def key(self) -> bytes:
        return self.data.partition_key().encode()


AnyEvent = CloudEvent[Any]


class InvalidEvent(ValueError):
    """A message that cannot be accepted. `reason` is one of: not-json,
    not-cloudevent, unknown-type, wrong-topic, invalid-data."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


class _Header(BaseModel):
    model_config = ConfigDict(extra="allow")

    specversion: Literal["1.0"]
    id: Id
    source: Annotated[str, Field(min_length=1)]
    type: Annotated[str, Field(min_length=1)]
    time: AwareDatetime
    data: dict[str, Any]


@cache
def envelope_model(data_model: type[EventData]) -> type[CloudEvent[Any]]:
    """The envelope of one event type: `type` fixed, `data` typed."""
    type_field: Any = (Literal[data_model.TYPE], ...)
    model = create_model(
        data_model.__name__ + "Event",
        __base__=CloudEvent[data_model],  # type: ignore[valid-type]
        __doc__=(data_model.__doc__ or data_model.TYPE).strip(),
        type=type_field,
    )
    return cast("type[CloudEvent[Any]]", model)


def parse_event(raw: bytes | str, topic: TopicKey | None = None) -> CloudEvent[Any]:
    """Validate a message body into a typed CloudEvent, or raise `InvalidEvent`."""
    try:
        json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidEvent("not-json", str(exc)) from None
    try:
        header = _Header.model_validate_json(raw)
    except ValidationError as exc:
        raise InvalidEvent("not-cloudevent", _summary(exc)) from None
    data_model = DATA_BY_TYPE.get(header.type)
    if data_model is None:
        raise InvalidEvent("unknown-type", f"type {header.type!r} is not part of the contract")
    if topic is not None and topic != data_model.TOPIC:
        raise InvalidEvent(
            "wrong-topic", f"type {header.type!r} belongs on {data_model.TOPIC}, not {topic}"
        )
    try:
        return envelope_model(data_model).model_validate_json(raw)
    except ValidationError as exc:
        raise InvalidEvent("invalid-data", _summary(exc)) from None


def _summary(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        loc = ".".join(str(p) for p in err["loc"]) or "(root)"
        parts.append(f"{loc}: {err['msg']}")
    return "; ".join(parts)


def derived_id(*parts: str) -> str:
    """A stable id computed from other ids (e.g. the input event id and a role)."""
    return str(uuid.uuid5(ID_NAMESPACE, "\x1f".join(parts)))


def make_event(
    data: DataT,
    *,
    source: str,
    id: str | None = None,
    time: datetime | None = None,
) -> CloudEvent[DataT]:
    """Wrap `data` in an envelope. Pass a derived `id` whenever the event is caused
    by another one, so a redelivery republishes the same id."""
    return envelope_model(type(data))(
        id=id or str(uuid.uuid4()),
        source=source,
        type=data.TYPE,
        time=time or datetime.now(UTC),
        subject=data.partition_key(),
        data=data,
    )
