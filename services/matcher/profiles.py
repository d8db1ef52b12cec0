"""A person as the matcher sees them: canonical tags next to the words they wrote."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

from shared.events import ProfileUpserted
from shared.languages import standard_tags
from shared.tags import DEFAULT_TAGS, TagNormaliser

# Offsets are taken in the middle of January and of July of a fixed year and averaged,
# so a pair's gap does not jump twice a year with daylight saving and stays reproducible.
_REFERENCE_INSTANTS = (datetime(2025, 1, 15, tzinfo=UTC), datetime(2025, 7, 15, tzinfo=UTC))


@lru_cache(maxsize=1024)
def utc_offset_hours(timezone: str) -> float:
    """The zone's representative offset from UTC in hours (mean of winter and summer)."""
    zone = ZoneInfo(timezone)
    offsets = [
        (at.astimezone(zone).utcoffset() or at.utcoffset()).total_seconds()  # type: ignore[union-attr]
        for at in _REFERENCE_INSTANTS
    ]
    return sum(offsets) / len(offsets) / 3600.0


def offset_gap_hours(a: float, b: float) -> float:
    """Hours between two UTC offsets the short way round the clock (0..12)."""
    gap = abs(a - b) % 24.0
    return min(gap, 24.0 - gap)


def offset_gaps_hours(offsets: npt.NDArray[np.float64], b: float) -> npt.NDArray[np.float64]:
    """`offset_gap_hours` of each of `offsets` and `b`, at once."""
    gap = np.abs(offsets - b) % 24.0
    return np.minimum(gap, 24.0 - gap)


def _canonical(tags: Iterable[str], normalise: TagNormaliser) -> dict[str, str]:
    """canonical -> the first way the person wrote it."""
    out: dict[str, str] = {}
    for raw in tags:
        key = normalise(raw)
        if key:
            out.setdefault(key, raw)
    return out


@dataclass(frozen=True, eq=False)
class Person:
    person_id: str
    is_mentor: bool
    is_mentee: bool
    programmes: frozenset[str]
    goals: Mapping[str, str]
    passions: Mapping[str, str]
    skills: Mapping[str, str]
    languages: frozenset[str]  # standard BCP 47 tags
    timezone: str
    capacity: int
    paused: bool
    revision: int
    utc_offset: float = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "utc_offset", utc_offset_hours(self.timezone))

    @classmethod
    def from_profile(
        cls, profile: ProfileUpserted, normalise: TagNormaliser = DEFAULT_TAGS
    ) -> Person:
        return cls(
            person_id=profile.person_id,
            is_mentor="mentor" in profile.roles,
            is_mentee="mentee" in profile.roles,
            programmes=frozenset(profile.programmes),
            goals=_canonical(profile.goals, normalise),
            passions=_canonical(profile.passions, normalise),
            skills=_canonical(profile.skills, normalise),
            languages=frozenset(standard_tags(profile.languages)),
            timezone=profile.timezone,
            capacity=profile.capacity,
            paused=profile.paused,
            revision=profile.revision,
        )

    def renormalised(self, normalise: TagNormaliser) -> Person:
        """The same person under a programme's own synonym table."""
        if normalise is DEFAULT_TAGS:
            return self
        return Person(
            person_id=self.person_id,
            is_mentor=self.is_mentor,
            is_mentee=self.is_mentee,
            programmes=self.programmes,
            goals=_canonical(self.goals.values(), normalise),
            passions=_canonical(self.passions.values(), normalise),
            skills=_canonical(self.skills.values(), normalise),
            languages=self.languages,
            timezone=self.timezone,
            capacity=self.capacity,
            paused=self.paused,
            revision=self.revision,
        )

    def matching_view(self) -> tuple[Any, ...]:
        """What a mentee's proposal depends on: a change here earns a fresh proposal."""
        return (
            sorted(self.goals),
            sorted(self.passions),
            sorted(self.languages),
            sorted(self.programmes),
        )


@dataclass(frozen=True)
class MentorStanding:
    """What the matcher learned about a mentor from activity, next to their profile."""

    load: int = 0  # active mentorships + open proposals, across programmes
    accepted: int = 0  # proposals the mentor accepted
    declined: int = 0  # proposals the mentor declined or let expire
    met: int = 0  # mentorships with at least one completed session
    missed: int = 0  # mentorships that ended without any completed session


def smoothed_rate(yes: int, no: int, prior_yes: float, prior_no: float) -> float:
    """yes / (yes + no), starting from `prior_yes` and `prior_no` pseudo-counts."""
    denominator = yes + no + prior_yes + prior_no
    if denominator <= 0:
        return 0.5
    return (yes + prior_yes) / denominator
