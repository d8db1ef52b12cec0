"""The event contract: CloudEvents 1.0 envelopes and one pydantic model per `data` type.

Platforms publish to `profiles`, `activity` and `responses`; MentorMesh publishes
`matches`, `introductions` and `nudges`. The Kafka key of every message is the
field named by the data model's `KEY`.

Reading is strict about types and limits (`shared/limits.py`) and tolerant of
additions: inside a `.v1` type, a field a consumer does not know is ignored (and
reported, so it can be counted), never a reason to lose the event. Whatever fails
on the way from bytes to a typed event is an `InvalidEvent` with a reason, and
nothing else.
"""

from __future__ import annotations

import contextlib
import json
import math
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Annotated, Any, ClassVar, Generic, Literal, Self, TypeVar, cast
from zoneinfo import ZoneInfo, available_timezones

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    create_model,
    model_validator,
)

from shared.languages import UnknownLanguage, standard_tag
from shared.limits import (
    MAX_ATTRIBUTE_LENGTH,
    MAX_COMPONENTS,
    MAX_ID_LENGTH,
    MAX_JSON_DEPTH,
    MAX_LANGUAGE_LENGTH,
    MAX_LANGUAGES,
    MAX_MATCH_IDS,
    MAX_MESSAGE_BYTES,
    MAX_NOTE_LENGTH,
    MAX_OFFERED,
    MAX_PROGRAMMES,
    MAX_REASONS,
    MAX_TAG_LENGTH,
    MAX_TAGS,
    MAX_TEXT_LENGTH,
    MAX_TIMEZONE_LENGTH,
    MAX_TYPE_LENGTH,
)

SPEC_VERSION: Literal["1.0"] = "1.0"
# Namespace for ids derived from other ids (uuid5), so a redelivered input always
# yields the same output ids and consumers downstream can de-duplicate.
ID_NAMESPACE = uuid.UUID("6f1c9a52-3a1e-4d8e-9a44-3f0f5b7de3a1")
# Media types the CloudEvents JSON format allows for `datacontenttype` (the same
# rule as the CloudEvents SDK's JSON format).
JSON_MEDIA_TYPE = r"^(application|text)/([a-zA-Z0-9.\-]+\+)?json(;.*)?$"
# RFC 3339 date-time, as CloudEvents requires for `time` (no bare dates, no
# numbers, an explicit offset).
RFC3339 = r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})"
# CloudEvents attribute names: lower-case letters and digits (20 at most, as the
# specification recommends).
ATTRIBUTE_NAME = r"^[a-z0-9]{1,20}$"

TopicKey = Literal[
    "profiles", "activity", "responses", "connections", "matches", "introductions", "nudges"
]
Role = Literal["mentor", "mentee"]
# Why a message was not accepted (the `x-mentormesh-error` header of a dead letter).
RejectionReason = Literal[
    "too-large",  # over MAX_MESSAGE_BYTES
    "too-deep",  # JSON nested deeper than MAX_JSON_DEPTH
    "not-json",  # not UTF-8 JSON (NaN, infinities and lone surrogates included)
    "not-cloudevent",  # the envelope or the binary-mode headers are not a CloudEvent
    "unknown-type",  # a type outside the contract
    "wrong-topic",  # a type published on a topic that does not carry it
    "invalid-data",  # `data` breaks its type's schema
    "wrong-key",  # the Kafka key is not the data field the type is keyed by
    "undecodable",  # anything else that failed while decoding (type and message)
]

# Read once from the installed tz database: names are checked against this set and
# never used to open a file unless they are in it.
_TIMEZONES = frozenset(available_timezones())


def _valid_timezone(name: str) -> str:
    if name not in _TIMEZONES:
        raise ValueError("not an IANA time zone name (such as Europe/Berlin)")
    ZoneInfo(name)  # a known name: loads from the tz database, cached
    return name


def _valid_language(value: str) -> str:
    try:
        standard_tag(value)
    except UnknownLanguage as exc:
        raise ValueError(str(exc)) from None
    return value


def _rfc3339(value: Any) -> Any:
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not re.fullmatch(RFC3339, value):
        raise ValueError("not an RFC 3339 date-time with an offset (2026-03-01T10:00:00Z)")
    return value


def _json_media_type(value: str) -> str:
    # Python's `re.match`, as JSON Schema validators in Python read `pattern`.
    if not re.match(JSON_MEDIA_TYPE, value):
        raise ValueError("not a JSON media type (application/json, application/*+json, ...)")
    return value


def _integral(value: Any) -> Any:
    # JSON does not tell 1 from 1.0, and JSON Schema counts 1.0 as an integer.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _unique(values: list[str]) -> list[str]:
    if len(set(values)) != len(values):
        raise ValueError("values must be unique")
    return values


UNIQUE = Field(json_schema_extra={"uniqueItems": True})
# After the constraints: placed before them, pydantic drops them from the JSON Schema.
INTEGRAL = BeforeValidator(_integral)
Id = Annotated[str, Field(min_length=1, max_length=MAX_ID_LENGTH)]
Tag = Annotated[str, Field(min_length=1, max_length=MAX_TAG_LENGTH)]
Tags = Annotated[list[Tag], Field(max_length=MAX_TAGS)]
Text = Annotated[str, Field(max_length=MAX_TEXT_LENGTH)]
Reasons = Annotated[list[Text], Field(max_length=MAX_REASONS)]
Timezone = Annotated[
    str,
    Field(
        min_length=1,
        max_length=MAX_TIMEZONE_LENGTH,
        json_schema_extra={"format": "x-iana-time-zone"},
    ),
    AfterValidator(_valid_timezone),
]
Language = Annotated[
    str,
    Field(
        min_length=1,
        max_length=MAX_LANGUAGE_LENGTH,
        json_schema_extra={"format": "x-language"},
    ),
    AfterValidator(_valid_language),
]
# Checked against RFC 3339 first, then parsed (the string is then read leniently:
# strict mode would take only datetime objects once a validator has run).
Time = Annotated[AwareDatetime, BeforeValidator(_rfc3339), Field(strict=False)]


class EventData(BaseModel):
    """Base of every `data` model: strictly typed, immutable, and open to fields
    added later inside the same version (they are ignored, see `Decoded`)."""

    model_config = ConfigDict(strict=True, extra="ignore", frozen=True, allow_inf_nan=False)

    TYPE: ClassVar[str]
    TOPIC: ClassVar[TopicKey]
    KEY: ClassVar[str]

    def partition_key(self) -> str:
        return str(getattr(self, self.KEY))

    @classmethod
    def example(cls) -> Self:
        """One realistic instance, for the docs, the schemas' `examples` and the
        conformance tests. Every type in `DATA_MODELS` defines its own."""
        raise NotImplementedError(f"{cls.__name__} needs a classmethod example()")


# A fixed instant for the examples, so the generated docs do not change by themselves.
EXAMPLE_TIME = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


# --- mentormesh.profiles ---------------------------------------------------


class ProfileUpserted(EventData):
    """A person signed up or changed their profile. A newer `revision` wins."""

    TYPE = "mentormesh.profile.upserted.v1"
    TOPIC = "profiles"
    KEY = "person_id"

    person_id: Id
    roles: Annotated[list[Role], Field(max_length=2), AfterValidator(_unique), UNIQUE]
    programmes: Annotated[
        list[Id],
        Field(min_length=1, max_length=MAX_PROGRAMMES),
        AfterValidator(_unique),
        UNIQUE,
    ] = Field(default_factory=lambda: ["default"])
    goals: Tags
    passions: Tags
    skills: Tags
    # BCP 47 tags (en-GB, pt-BR, zh-Hant) or language names (English, Deutsch).
    languages: Annotated[list[Language], Field(max_length=MAX_LANGUAGES)]
    timezone: Timezone
    capacity: Annotated[int, Field(ge=0, le=100), INTEGRAL]
    open_to_introductions: bool
    paused: bool
    revision: Annotated[int, Field(ge=0, le=2**53), INTEGRAL]

    @classmethod
    def example(cls) -> Self:
        return cls(
            person_id="person-4821", roles=["mentee"], programmes=["spring-2026"],
            goals=["system design", "Kubernetes"], passions=["climbing", "chess"],
            skills=["Python"], languages=["en-GB", "fr"], timezone="Europe/London",
            capacity=0, open_to_introductions=True, paused=False, revision=3,
        )  # fmt: skip


class ProfileDeleted(EventData):
    """The person left: every service erases them."""

    TYPE = "mentormesh.profile.deleted.v1"
    TOPIC = "profiles"
    KEY = "person_id"

    person_id: Id

    @classmethod
    def example(cls) -> Self:
        return cls(person_id="person-4821")


# --- mentormesh.activity ---------------------------------------------------


class ActivityData(EventData):
    """Activity of a mentorship, keyed by the `mentorship_id` that
    `mentorship.started` announced."""

    TOPIC = "activity"
    KEY = "mentorship_id"

    mentorship_id: Id


class SessionScheduled(ActivityData):
    TYPE = "mentormesh.session.scheduled.v1"

    session_id: Id
    starts_at: Time

    @classmethod
    def example(cls) -> Self:
        return cls(
            mentorship_id="3f9d2c4e-7a51-5b0e-9c1d-2e8f6a4b7c90", session_id="session-1",
            starts_at=datetime(2026, 3, 9, 17, 0, tzinfo=UTC),
        )  # fmt: skip


class SessionCompleted(ActivityData):
    TYPE = "mentormesh.session.completed.v1"

    session_id: Id
    occurred_at: Time
    duration_minutes: Annotated[int, Field(gt=0, le=24 * 60), INTEGRAL]

    @classmethod
    def example(cls) -> Self:
        return cls(
            mentorship_id="3f9d2c4e-7a51-5b0e-9c1d-2e8f6a4b7c90", session_id="session-1",
            occurred_at=datetime(2026, 3, 9, 17, 0, tzinfo=UTC), duration_minutes=45,
        )  # fmt: skip


class SessionCancelled(ActivityData):
    TYPE = "mentormesh.session.cancelled.v1"

    session_id: Id

    @classmethod
    def example(cls) -> Self:
        return cls(mentorship_id="3f9d2c4e-7a51-5b0e-9c1d-2e8f6a4b7c90", session_id="session-2")


class FeedbackSubmitted(ActivityData):
    """Feedback on a session. The rating and the note are confidential: they stay
    in the service that receives them and are never republished."""

    TYPE = "mentormesh.feedback.submitted.v1"

    session_id: Id
    from_person_id: Id
    rating: Annotated[int, Field(ge=1, le=5), INTEGRAL]
    private_note: Annotated[
        str | None,
        Field(max_length=MAX_NOTE_LENGTH, json_schema_extra={"x-confidential": True}),
    ] = None

    @classmethod
    def example(cls) -> Self:
        return cls(
            mentorship_id="3f9d2c4e-7a51-5b0e-9c1d-2e8f6a4b7c90", session_id="session-1",
            from_person_id="person-4821", rating=5, private_note="Clear next steps.",
        )  # fmt: skip


class GoalCheckedIn(ActivityData):
    TYPE = "mentormesh.goal.checked_in.v1"

    person_id: Id
    goal: Tag
    progress: Annotated[int, Field(ge=0, le=100), INTEGRAL]

    @classmethod
    def example(cls) -> Self:
        return cls(
            mentorship_id="3f9d2c4e-7a51-5b0e-9c1d-2e8f6a4b7c90", person_id="person-4821",
            goal="system design", progress=40,
        )  # fmt: skip


# --- mentormesh.responses --------------------------------------------------


class MatchAccepted(EventData):
    """One person's yes to a proposal. Both the mentee and the mentor send one; the
    mentorship starts when both have."""

    TYPE = "mentormesh.match.accepted.v1"
    TOPIC = "responses"
    KEY = "match_id"

    match_id: Id
    person_id: Id

    @classmethod
    def example(cls) -> Self:
        return cls(match_id="8b1e6f0a-2c3d-5e4f-8a9b-0c1d2e3f4a5b", person_id="person-4821")


class MatchDeclined(EventData):
    """One person's no to a proposal: the proposal closes and the pair is never
    proposed again."""

    TYPE = "mentormesh.match.declined.v1"
    TOPIC = "responses"
    KEY = "match_id"

    match_id: Id
    person_id: Id

    @classmethod
    def example(cls) -> Self:
        return cls(match_id="8b1e6f0a-2c3d-5e4f-8a9b-0c1d2e3f4a5b", person_id="person-1077")


class MentorshipEnded(EventData):
    TYPE = "mentormesh.mentorship.ended.v1"
    TOPIC = "responses"
    KEY = "mentorship_id"

    mentorship_id: Id
    reason: Text

    @classmethod
    def example(cls) -> Self:
        return cls(
            mentorship_id="3f9d2c4e-7a51-5b0e-9c1d-2e8f6a4b7c90", reason="programme completed"
        )


class IntroductionAccepted(EventData):
    TYPE = "mentormesh.introduction.accepted.v1"
    TOPIC = "responses"
    KEY = "introduction_id"

    introduction_id: Id
    person_id: Id

    @classmethod
    def example(cls) -> Self:
        return cls(introduction_id="5d6e7f80-91a2-5b3c-8d4e-5f60718293a4", person_id="person-4821")


class IntroductionDeclined(EventData):
    TYPE = "mentormesh.introduction.declined.v1"
    TOPIC = "responses"
    KEY = "introduction_id"

    introduction_id: Id
    person_id: Id

    @classmethod
    def example(cls) -> Self:
        return cls(introduction_id="5d6e7f80-91a2-5b3c-8d4e-5f60718293a4", person_id="person-2210")


class CohortMatchRequested(EventData):
    """A programme admin asks the matcher to solve the programme's waiting mentees as one
    cohort: `optimal` (maximum total score, or with `objective` `participation` the most
    mentees matched first), `stable` (mentee-optimal stable matching) or `greedy`. The
    matcher proposes the pairs it chose and answers with `cohort.matched.v1`."""

    TYPE = "mentormesh.cohort.match.requested.v1"
    TOPIC = "responses"
    KEY = "programme_id"

    programme_id: Id
    mode: Literal["optimal", "stable", "greedy"]
    # Read by the optimal mode only; `stable` and `greedy` have their own and answer
    # with objective `score`.
    objective: Literal["score", "participation"] = "score"

    @classmethod
    def example(cls) -> Self:
        return cls(programme_id="spring-2026", mode="optimal", objective="participation")


class IntroductionsRequested(EventData):
    """A platform asks for a person's best introductions now (for instance when they
    open a page). The network service answers on `introductions` with
    `introductions.offered.v1` carrying the same `request_id`, ranked from its
    in-memory graph; nothing is pending until the platform sends acceptances, as for
    a suggested introduction. `programme_id` picks the policy (default: the
    person's first programme)."""

    TYPE = "mentormesh.introductions.requested.v1"
    TOPIC = "responses"
    KEY = "person_id"

    request_id: Id
    person_id: Id
    k: Annotated[int, Field(ge=1, le=MAX_OFFERED), INTEGRAL]
    programme_id: Id | None = None

    @classmethod
    def example(cls) -> Self:
        return cls(
            request_id="c41d2e3f-5a6b-4c7d-8e9f-0a1b2c3d4e5f", person_id="person-4821", k=3,
            programme_id="spring-2026",
        )  # fmt: skip


# --- mentormesh.connections (published by the platform) ----------------------

ConnectionKind = Literal["colleague", "follows", "same_group", "cohort_alumni", "other"]


class ConnectionData(EventData):
    """A tie the platform knows of between two people. Kafka key: the pair, the two
    person ids in sorted order joined by `|` (so every event about a pair, its adds
    and removals, stays in order on one partition). A person tied to themselves says
    nothing about who knows whom: such an event is applied as a no-op."""

    TOPIC = "connections"
    KEY = "pair"

    connection_id: Id
    person_a: Id
    person_b: Id

    @property
    def pair(self) -> str:
        return "|".join(sorted((self.person_a, self.person_b)))


class ConnectionAdded(ConnectionData):
    """Two people are connected on the platform. `follows` is directed: person_a
    follows person_b; every other kind is mutual. `weight` in (0, 1], when given,
    replaces the weight the programme's policy gives the kind. A connection id
    removed before is never added again."""

    TYPE = "mentormesh.connection.added.v1"

    kind: ConnectionKind
    weight: Annotated[float, Field(gt=0.0, le=1.0)] | None = None
    since: Time

    @classmethod
    def example(cls) -> Self:
        return cls(
            connection_id="conn-88412", person_a="person-4821", person_b="person-2210",
            kind="colleague", weight=0.8, since=EXAMPLE_TIME,
        )  # fmt: skip


class ConnectionRemoved(ConnectionData):
    """The connection ended (unfollowed, left the company or the group)."""

    TYPE = "mentormesh.connection.removed.v1"

    @classmethod
    def example(cls) -> Self:
        return cls(connection_id="conn-88412", person_a="person-4821", person_b="person-2210")


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
    reasons: Reasons
    # Each scoring component's share of the score, for dashboards.
    components: Annotated[dict[Id, float], Field(max_length=MAX_COMPONENTS)] = Field(
        default_factory=dict
    )
    expires_at: Time

    @classmethod
    def example(cls) -> Self:
        return cls(
            match_id="8b1e6f0a-2c3d-5e4f-8a9b-0c1d2e3f4a5b", programme_id="spring-2026",
            mentee_id="person-4821", mentor_id="person-1077", score=0.82,
            reasons=[
                "Goal 'system design' is covered by the mentor's skill 'System Design'",
                "You both enjoy climbing",
                "Time zones 1 h apart",
            ],
            components={"goal_coverage": 0.45, "shared_passions": 0.1, "timezone": 0.14,
                        "availability": 0.08, "responsiveness": 0.05},
            expires_at=datetime(2026, 3, 9, 9, 30, tzinfo=UTC),
        )  # fmt: skip


class MentorshipStarted(EventData):
    """Both people accepted. `mentorship_id` is the key of all activity that follows."""

    TYPE = "mentormesh.mentorship.started.v1"
    TOPIC = "matches"
    KEY = "mentee_id"

    mentorship_id: Id
    programme_id: Id
    mentee_id: Id
    mentor_id: Id

    @classmethod
    def example(cls) -> Self:
        return cls(
            mentorship_id="3f9d2c4e-7a51-5b0e-9c1d-2e8f6a4b7c90", programme_id="spring-2026",
            mentee_id="person-4821", mentor_id="person-1077",
        )  # fmt: skip


class MatchExpired(EventData):
    TYPE = "mentormesh.match.expired.v1"
    TOPIC = "matches"
    KEY = "mentee_id"

    match_id: Id
    programme_id: Id
    mentee_id: Id
    mentor_id: Id

    @classmethod
    def example(cls) -> Self:
        return cls(
            match_id="8b1e6f0a-2c3d-5e4f-8a9b-0c1d2e3f4a5b", programme_id="spring-2026",
            mentee_id="person-4821", mentor_id="person-1077",
        )  # fmt: skip


class MatchWithdrawn(EventData):
    """An open proposal taken back, e.g. because one of the two people left."""

    TYPE = "mentormesh.match.withdrawn.v1"
    TOPIC = "matches"
    KEY = "mentee_id"

    match_id: Id
    programme_id: Id
    mentee_id: Id
    mentor_id: Id
    reason: Text

    @classmethod
    def example(cls) -> Self:
        return cls(
            match_id="8b1e6f0a-2c3d-5e4f-8a9b-0c1d2e3f4a5b", programme_id="spring-2026",
            mentee_id="person-4821", mentor_id="person-1077", reason="the mentor paused",
        )  # fmt: skip


class CohortMatched(EventData):
    """The summary of a cohort run: how many waiting mentees were solved, the match ids of
    the proposals made (each also published as `match.proposed.v1`), and the pairs that
    would rather be together than with whom they got (`blocking_pairs`)."""

    TYPE = "mentormesh.cohort.matched.v1"
    TOPIC = "matches"
    KEY = "programme_id"

    request_id: Id
    programme_id: Id
    mode: Literal["optimal", "stable", "greedy"]
    objective: Literal["score", "participation"]
    mentees: Annotated[int, Field(ge=0), INTEGRAL]
    proposed: Annotated[int, Field(ge=0), INTEGRAL]
    unmatched: Annotated[int, Field(ge=0), INTEGRAL]
    total_score: Annotated[float, Field(ge=0.0)]
    blocking_pairs: Annotated[int, Field(ge=0), INTEGRAL]
    # The first MAX_MATCH_IDS proposals' ids (each proposal is also published).
    match_ids: Annotated[list[Id], Field(max_length=MAX_MATCH_IDS)]

    @classmethod
    def example(cls) -> Self:
        return cls(
            request_id="0f1e2d3c-4b5a-5968-8776-a5b4c3d2e1f0", programme_id="spring-2026",
            mode="optimal", objective="participation", mentees=3, proposed=2, unmatched=1,
            total_score=1.42, blocking_pairs=0,
            match_ids=["8b1e6f0a-2c3d-5e4f-8a9b-0c1d2e3f4a5b",
                       "9c2f7a1b-3d4e-5f60-9bac-1d2e3f4a5b6c"],
        )  # fmt: skip


# --- mentormesh.introductions (published by the network service) -----------


class IntroductionSuggested(EventData):
    """A suggestion to `introducer_id`: introduce `person_id` to `candidate_id`."""

    TYPE = "mentormesh.introduction.suggested.v1"
    TOPIC = "introductions"
    KEY = "introducer_id"

    introduction_id: Id
    introducer_id: Id
    person_id: Id
    candidate_id: Id
    score: Annotated[float, Field(ge=0.0)]
    reasons: Reasons

    @classmethod
    def example(cls) -> Self:
        return cls(
            introduction_id="5d6e7f80-91a2-5b3c-8d4e-5f60718293a4", introducer_id="person-1077",
            person_id="person-4821", candidate_id="person-2210", score=0.64,
            reasons=["You know both of them well",
                     "Their skill 'Kubernetes' matches the goal 'Kubernetes'"],
        )  # fmt: skip


class OfferedIntroduction(BaseModel):
    """One introduction offered on request: accept it with
    `introduction.accepted.v1` naming `introduction_id`, as a suggested one."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)

    introduction_id: Id
    candidate_id: Id
    introducer_id: Id
    score: Annotated[float, Field(ge=0.0)]
    reasons: Reasons


class IntroductionsOffered(EventData):
    """The answer to `introductions.requested.v1`: the person's best introductions,
    best first. An empty list comes with a `reason` (an unknown or erased person,
    someone paused or closed to introductions, nobody to suggest yet)."""

    TYPE = "mentormesh.introductions.offered.v1"
    TOPIC = "introductions"
    KEY = "person_id"

    request_id: Id
    person_id: Id
    suggestions: Annotated[list[OfferedIntroduction], Field(max_length=MAX_OFFERED)]
    reason: Text | None = None

    @classmethod
    def example(cls) -> Self:
        offered = OfferedIntroduction(
            introduction_id="5d6e7f80-91a2-5b3c-8d4e-5f60718293a4", candidate_id="person-2210",
            introducer_id="person-1077", score=0.64,
            reasons=["You know both of them well",
                     "Their skill 'Kubernetes' matches the goal 'Kubernetes'"],
        )  # fmt: skip
        return cls(
            request_id="c41d2e3f-5a6b-4c7d-8e9f-0a1b2c3d4e5f", person_id="person-4821",
            suggestions=[offered],
        )  # fmt: skip


# --- mentormesh.nudges (published by the notifier) ---------------------------


class NudgeEmitted(EventData):
    """A message for a person, ready to deliver: delivering it (e-mail, chat, app)
    is the platform's job."""

    TYPE = "mentormesh.nudge.emitted.v1"
    TOPIC = "nudges"
    KEY = "person_id"

    nudge_id: Id
    person_id: Id
    kind: Id
    mentorship_id: Id | None = None
    reason: Text
    message: Text
    programme_id: Id | None = None
    escalation: bool = False

    @classmethod
    def example(cls) -> Self:
        return cls(
            nudge_id="0a1b2c3d-4e5f-5061-8273-8495a6b7c8d9", person_id="person-4821",
            kind="no-session-reminder", mentorship_id="3f9d2c4e-7a51-5b0e-9c1d-2e8f6a4b7c90",
            reason="no session since 9 March",
            message="It has been two weeks since your last session: time to pick a date?",
            programme_id="spring-2026",
        )  # fmt: skip


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
    CohortMatchRequested,
    CohortMatched,
    IntroductionsRequested,
    ConnectionAdded,
    ConnectionRemoved,
    IntroductionsOffered,
)
DATA_BY_TYPE: dict[str, type[EventData]] = {m.TYPE: m for m in DATA_MODELS}

DataT = TypeVar("DataT", bound=EventData)

Attribute = Annotated[str, Field(min_length=1, max_length=MAX_ATTRIBUTE_LENGTH)]
# CloudEvents extension attributes are strings, booleans or 32-bit integers.
ExtensionValue = Attribute | bool | Annotated[int, Field(ge=-(2**31), le=2**31 - 1), INTEGRAL]


class _Attributes(BaseModel):
    """The CloudEvents 1.0 context attributes MentorMesh reads; any other attribute
    is an extension and is kept."""

    model_config = ConfigDict(
        strict=True,
        extra="allow",
        frozen=True,
        allow_inf_nan=False,
        json_schema_extra={"propertyNames": {"pattern": ATTRIBUTE_NAME}},
    )
    __pydantic_extra__: dict[str, ExtensionValue] = Field(init=False)

    specversion: Literal["1.0"]
    id: Id
    # Who published the event, as a URI-reference: e.g. https://platform.example.org/mentoring.
    source: Attribute
    type: Annotated[str, Field(min_length=1, max_length=MAX_TYPE_LENGTH)]
    # When the thing happened (not when the message was sent): services run on it.
    time: Time
    subject: Attribute | None = None
    datacontenttype: Annotated[
        str,
        Field(max_length=200, json_schema_extra={"pattern": JSON_MEDIA_TYPE}),
        AfterValidator(_json_media_type),
    ] = "application/json"

    @model_validator(mode="after")
    def _extension_names(self) -> Self:
        for name in self.model_extra or {}:
            if not re.match(ATTRIBUTE_NAME, name):
                raise ValueError(
                    f"attribute name {name[:40]!r} is not 1-20 lower-case letters or digits"
                )
        return self


class _Header(_Attributes):
    """The envelope before its `data` is read with the model of its type."""

    data: dict[str, Any]


class CloudEvent(_Attributes, Generic[DataT]):
    """A CloudEvents 1.0 event with typed `data`."""

    data: DataT

    def to_json(self) -> bytes:
        return self.model_dump_json(exclude_none=True).encode()

    @property
    def key(self) -> bytes:
        return self.data.partition_key().encode()


AnyEvent = CloudEvent[Any]


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


class InvalidEvent(ValueError):
    """A message that cannot be accepted: `reason` is a `RejectionReason`, `detail`
    says what was wrong, for a person."""

    def __init__(self, reason: RejectionReason, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason: RejectionReason = reason
        self.detail = detail


@dataclass(frozen=True)
class Decoded:
    """A typed event, and the `data` fields it carried that this version of the
    contract does not know (ignored: producers may add optional fields)."""

    event: CloudEvent[Any]
    ignored_fields: tuple[str, ...] = ()


@contextlib.contextmanager
def rejecting_the_unforeseen() -> Iterator[None]:
    """Whatever escapes decoding becomes `InvalidEvent("undecodable", ...)`: a bad
    message must reach the dead-letter topic, never stall its partition."""
    try:
        yield
    except InvalidEvent:
        raise
    except Exception as exc:
        raise InvalidEvent("undecodable", _describe(exc)) from exc


def _describe(exc: BaseException) -> str:
    try:
        message = str(exc)
    except Exception:
        message = "(no message)"
    return f"{type(exc).__name__}: {message}"[:1000]


def load_json(raw: bytes | str) -> Any:
    """One JSON document within the contract's limits, or `InvalidEvent`."""
    with rejecting_the_unforeseen():
        if isinstance(raw, str):
            try:
                raw = raw.encode("utf-8")
            except UnicodeEncodeError as exc:
                raise InvalidEvent("not-json", f"not Unicode text: {exc.reason}") from None
        if len(raw) > MAX_MESSAGE_BYTES:
            raise InvalidEvent(
                "too-large", f"{len(raw)} bytes; a message holds at most {MAX_MESSAGE_BYTES}"
            )
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidEvent("not-json", f"not UTF-8: {exc}") from None
        try:
            document = json.loads(text, parse_constant=_no_constant)
        except RecursionError:
            raise InvalidEvent("too-deep", f"nested deeper than {MAX_JSON_DEPTH}") from None
        except ValueError as exc:
            raise InvalidEvent("not-json", str(exc)[:500]) from None
        _check_tree(document)
        return document


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _check_tree(document: Any) -> None:
    """Depth, finite numbers and well-formed Unicode, walked without recursion."""
    stack: list[tuple[Any, int]] = [(document, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict | list):
            if depth > MAX_JSON_DEPTH:
                raise InvalidEvent("too-deep", f"nested deeper than {MAX_JSON_DEPTH}")
            if isinstance(node, dict):
                for key, value in node.items():
                    _check_text(key)
                    stack.append((value, depth + 1))
            else:
                stack.extend((value, depth + 1) for value in node)
        elif isinstance(node, str):
            _check_text(node)
        elif isinstance(node, float) and not math.isfinite(node):
            raise InvalidEvent("not-json", "a number out of range (only finite numbers)")


def _check_text(text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidEvent("not-json", "a string with a lone surrogate is not text") from None


def read_document(document: Any, topic: TopicKey | None = None) -> Decoded:
    """Validate one loaded JSON document (a CloudEvent in structured form) into a
    typed event of the contract, or raise `InvalidEvent`."""
    with rejecting_the_unforeseen():
        if not isinstance(document, dict):
            raise InvalidEvent("not-cloudevent", "a CloudEvent is a JSON object")
        text = json.dumps(document)
        try:
            header = _Header.model_validate_json(text)
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
            event = envelope_model(data_model).model_validate_json(text)
        except ValidationError as exc:
            raise InvalidEvent("invalid-data", _summary(exc)) from None
        ignored = tuple(sorted(set(header.data) - set(data_model.model_fields)))
        return Decoded(event, ignored)


def parse_event(raw: bytes | str, topic: TopicKey | None = None) -> CloudEvent[Any]:
    """A message body in structured mode (the whole CloudEvent as JSON) into a typed
    CloudEvent, or `InvalidEvent`. Unknown `data` fields are ignored."""
    return read_document(load_json(raw), topic).event


def _summary(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        loc = ".".join(str(p) for p in err["loc"])[:200] or "(root)"
        parts.append(f"{loc}: {err['msg'][:300]}")
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
        specversion=SPEC_VERSION,
        id=id or str(uuid.uuid4()),
        source=source,
        type=data.TYPE,
        time=time or datetime.now(UTC),
        subject=data.partition_key(),
        data=data,
    )


# Who publishes each topic in the examples: platforms publish inputs, MentorMesh's
# services publish outputs under /mentormesh/<service>.
EXAMPLE_SOURCES: dict[TopicKey, str] = {
    "profiles": "https://platform.example.org/mentoring",
    "activity": "https://platform.example.org/mentoring",
    "responses": "https://platform.example.org/mentoring",
    "connections": "https://platform.example.org/mentoring",
    "matches": "/mentormesh/matcher",
    "introductions": "/mentormesh/network",
    "nudges": "/mentormesh/notifier",
}


def example_event(data_model: type[EventData]) -> CloudEvent[Any]:
    """The complete example CloudEvent of one type, stable from run to run."""
    return make_event(
        data_model.example(),
        source=EXAMPLE_SOURCES[data_model.TOPIC],
        id=derived_id("example", data_model.TYPE),
        time=EXAMPLE_TIME,
    )
