"""A programme's matching policy: the `[matching]` section of its programme file.

Every field has a default, so an empty or missing section gives a working policy.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal, TypeAlias

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shared.languages import LanguageMatching
from shared.programmes import ProgrammeBook
from shared.tags import DEFAULT_TAGS, TagNormaliser

NonNegative = Annotated[float, Field(ge=0.0)]

COMPONENTS = ("goal_coverage", "shared_passions", "timezone", "availability", "responsiveness")


class Weights(BaseModel):
    """Relative weights of the soft-score components (normalised by their sum)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # How well the mentor's skills (and, at a discount, own goals) cover the mentee's goals.
    goal_coverage: NonNegative = 0.45
    # Share of the mentee's passions the mentor shares.
    shared_passions: NonNegative = 0.2
    # Closeness of their time zones (1 = same offset, 0 = opposite sides of the globe).
    timezone: NonNegative = 0.15
    # The mentor's free share of capacity: spreads proposals over mentors.
    availability: NonNegative = 0.1
    # The mentor's smoothed accept rate, blended with how often their mentorships meet.
    responsiveness: NonNegative = 0.1

    @model_validator(mode="after")
    def _some_weight(self) -> Weights:
        if self.total() <= 0:
            raise ValueError("at least one weight must be positive")
        return self

    def total(self) -> float:
        return sum(self.as_dict().values())

    def as_dict(self) -> dict[str, float]:
        return {name: float(getattr(self, name)) for name in COMPONENTS}


class MatchingPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    weights: Weights = Field(default_factory=Weights)
    # Hard bound on the time-zone difference, in hours (12 allows any pair).
    max_timezone_gap_hours: Annotated[float, Field(ge=0.0, le=12.0)] = 8.0
    # How long a proposal waits for both answers before it expires.
    proposal_ttl_days: Annotated[float, Field(gt=0.0, le=365.0)] = 7.0
    # A mentee goal that is only one of the mentor's own goals (not a skill) earns this
    # fraction of the credit of a matching skill: shared interest, less experience.
    mentor_goal_credit: Annotated[float, Field(ge=0.0, le=1.0)] = 0.5
    # Pairs scoring below this are never proposed; the mentee keeps waiting instead.
    min_score: Annotated[float, Field(ge=0.0, le=1.0)] = 0.0
    # Prior for the accept rate, as pseudo-answers, so one early decline does not sink a
    # new mentor: rate = (accepted + a) / (answered + a + b).
    responsiveness_prior_accepts: NonNegative = 1.0
    responsiveness_prior_declines: NonNegative = 1.0
    # Whether the script or the region of a language must agree too (default: no).
    languages: LanguageMatching = Field(default_factory=LanguageMatching)
    # Completed sessions count too: of a mentor's mentorships that met or ended, the share
    # that met (a mentorship meets at its first completed session), smoothed the same way.
    # Responsiveness = (1 - share) * accept rate + share * that rate.
    follow_through_share: Annotated[float, Field(ge=0.0, le=1.0)] = 0.5
    follow_through_prior_met: NonNegative = 1.0
    follow_through_prior_missed: NonNegative = 1.0
    # `online`: every signup, answer or freed slot is matched as it happens. `cohort`:
    # mentees wait until an admin asks for a cohort run (`cohort.match.requested.v1`),
    # which solves the programme's waiting mentees at once.
    assignment: Literal["online", "cohort"] = "online"
    # Extra synonyms for this programme: canonical tag -> variants.
    synonyms: dict[str, list[str]] = Field(default_factory=dict)

    @cached_property
    def normaliser(self) -> TagNormaliser:
        return DEFAULT_TAGS.extended(self.synonyms)


DEFAULT_POLICY = MatchingPolicy()


# Each programme's policy: its `[matching]` section layered over the default
# programme's, over the built-in defaults.
PolicyBook: TypeAlias = ProgrammeBook[MatchingPolicy]


def policy_book(
    programmes_dir: Path | None = None, base: MatchingPolicy | None = None
) -> PolicyBook:
    """The programmes' policies from their files; `base` for every programme instead."""
    if base is not None:
        return ProgrammeBook.fixed("matching", base)
    return ProgrammeBook(
        "matching",
        lambda _programme, section: MatchingPolicy.model_validate(section),
        programmes_dir,
    )
