"""Hard constraints: a pair that breaks any of them is never proposed, whatever its score.

Each rule is defined here once, in two forms side by side: `holds` for one pair and
`holds_for_all` for one mentee against many mentors at once (`columns.MentorColumns`),
which ranking uses. A property test (`tests/matcher/test_constraints.py`) keeps the
two forms equal, rule by rule.

The rules are also read, never restated, in two other places:
- *prefilters*: the directory narrows the mentors (or waiting mentees) ranking looks at
  with `prefilter_mentor` and `prefilter_mentee`, which call the rules below; ranking
  still applies every rule, so a prefilter only saves work;
- the store's reservation re-checks room and pause atomically (a conditional update),
  because another process may take the last slot between ranking and reserving. It
  is the authority against concurrent writers, not a second definition of the rules.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from shared.languages import LanguageMatching

from .columns import BoolArray, FloatArray, MentorColumns
from .policy import MatchingPolicy
from .profiles import MentorStanding, Person, offset_gap_hours, offset_gaps_hours


@dataclass(frozen=True)
class Pair:
    """One mentee and one mentor, in a programme, as the rules see them.

    `mentor_load` counts the mentor's active mentorships and open proposals;
    `blocked_mentors` are mentors this mentee was already proposed to (declined,
    expired, ended or still open): a pair is never proposed twice.
    """

    mentee: Person
    mentor: Person
    programme_id: str
    policy: MatchingPolicy
    mentor_load: int = 0
    blocked_mentors: Collection[str] = ()


@dataclass(frozen=True)
class Field:
    """One mentee against many mentors (their loads are in `mentors`)."""

    mentee: Person
    mentors: MentorColumns
    programme_id: str
    policy: MatchingPolicy
    blocked_mentors: Collection[str] = ()

    def everyone(self, value: bool) -> BoolArray:
        return np.full(len(self.mentors), value, dtype=np.bool_)

    @cached_property
    def gaps(self) -> FloatArray:
        """Hours between the mentee's time zone and each mentor's (scoring reads it too)."""
        return offset_gaps_hours(self.mentors.offsets, self.mentee.utc_offset)


@dataclass(frozen=True)
class HardRule:
    holds: Callable[[Pair], bool]
    holds_for_all: Callable[[Field], BoolArray]
    broken: Callable[[Pair], str]  # why, in words a person reads


# --- the rules, each in its two forms ------------------------------------------------
# The one-person predicates (`can_mentor`, `available`, `member`, `speak_together`,
# `room_left`) are what the prefilters at the bottom call.


def can_mentor(person: Person) -> bool:
    return person.is_mentor


def can_be_mentored(person: Person) -> bool:
    return person.is_mentee


def available(person: Person) -> bool:
    return not person.paused


def member(person: Person, programme_id: str) -> bool:
    return programme_id in person.programmes


# The language alone: the prefilters' test. A programme that also compares script or
# region (`MatchingPolicy.languages`) only narrows this down, in the hard rule.
SAME_LANGUAGE = LanguageMatching()


def speak_together(
    mentee: Person, mentor: Person, matching: LanguageMatching = SAME_LANGUAGE
) -> bool:
    """A language in common, as `matching` compares them (tags are standardised once,
    in `profiles.Person`)."""
    return matching.shared(mentee.languages, mentor.languages)


def room_left(mentor: Person, load: int) -> bool:
    return load < mentor.capacity


def distinct_people(pair: Pair) -> bool:
    return pair.mentee.person_id != pair.mentor.person_id


def distinct_people_for_all(field: Field) -> BoolArray:
    others = field.everyone(True)
    others[field.mentors.rows([field.mentee.person_id])] = False
    return others


def is_mentee(pair: Pair) -> bool:
    return can_be_mentored(pair.mentee)


def is_mentee_for_all(field: Field) -> BoolArray:
    return field.everyone(can_be_mentored(field.mentee))


def is_mentor(pair: Pair) -> bool:
    return can_mentor(pair.mentor)


def is_mentor_for_all(field: Field) -> BoolArray:
    return field.mentors.is_mentor.copy()


def both_in_programme(pair: Pair) -> bool:
    return member(pair.mentee, pair.programme_id) and member(pair.mentor, pair.programme_id)


def both_in_programme_for_all(field: Field) -> BoolArray:
    mentee_in = member(field.mentee, field.programme_id)
    return field.mentors.in_programme(field.programme_id) & mentee_in


def mentee_active(pair: Pair) -> bool:
    return available(pair.mentee)


def mentee_active_for_all(field: Field) -> BoolArray:
    return field.everyone(available(field.mentee))


def mentor_active(pair: Pair) -> bool:
    return available(pair.mentor)


def mentor_active_for_all(field: Field) -> BoolArray:
    return ~field.mentors.paused


def shared_language(pair: Pair) -> bool:
    return speak_together(pair.mentee, pair.mentor, pair.policy.languages)


def shared_language_for_all(field: Field) -> BoolArray:
    mentors, matching = field.mentors, field.policy.languages
    # The mentors' tags whose key (under the programme's setting) the mentee speaks.
    wanted = matching.keys(field.mentee.languages)
    spoken = mentors.language_ids.indicator(
        tag for tag in mentors.language_ids.ids if matching.key(tag) in wanted
    )
    return np.asarray((mentors.languages @ spoken) > 0, dtype=np.bool_)


def has_room(pair: Pair) -> bool:
    return room_left(pair.mentor, pair.mentor_load)


def has_room_for_all(field: Field) -> BoolArray:
    return np.asarray(field.mentors.load < field.mentors.capacity, dtype=np.bool_)


def not_proposed_before(pair: Pair) -> bool:
    return pair.mentor.person_id not in pair.blocked_mentors


def not_proposed_before_for_all(field: Field) -> BoolArray:
    fresh = field.everyone(True)
    fresh[field.mentors.rows(field.blocked_mentors)] = False
    return fresh


def timezone_within(pair: Pair) -> bool:
    gap = offset_gap_hours(pair.mentee.utc_offset, pair.mentor.utc_offset)
    return gap <= pair.policy.max_timezone_gap_hours


def timezone_within_for_all(field: Field) -> BoolArray:
    return np.asarray(field.gaps <= field.policy.max_timezone_gap_hours, dtype=np.bool_)


def _gap_too_wide(pair: Pair) -> str:
    gap = offset_gap_hours(pair.mentee.utc_offset, pair.mentor.utc_offset)
    return f"time-zone gap {gap:g} h over {pair.policy.max_timezone_gap_hours:g} h"


def _outside(pair: Pair) -> str:
    return f"not both in programme {pair.programme_id}"


RULES: tuple[HardRule, ...] = (
    HardRule(distinct_people, distinct_people_for_all, lambda _: "same person"),
    HardRule(is_mentee, is_mentee_for_all, lambda _: "not a mentee"),
    HardRule(is_mentor, is_mentor_for_all, lambda _: "not a mentor"),
    HardRule(both_in_programme, both_in_programme_for_all, _outside),
    HardRule(mentee_active, mentee_active_for_all, lambda _: "mentee paused"),
    HardRule(mentor_active, mentor_active_for_all, lambda _: "mentor paused"),
    HardRule(shared_language, shared_language_for_all, lambda _: "no shared language"),
    HardRule(has_room, has_room_for_all, lambda _: "mentor has no free capacity"),
    HardRule(
        not_proposed_before, not_proposed_before_for_all, lambda _: "pair already proposed before"
    ),
    HardRule(timezone_within, timezone_within_for_all, _gap_too_wide),
)


# --- a pair, and many pairs at once --------------------------------------------------


def violations(
    mentee: Person,
    mentor: Person,
    programme_id: str,
    policy: MatchingPolicy,
    *,
    mentor_load: int = 0,
    blocked_mentors: Collection[str] = (),
) -> list[str]:
    """Why `mentor` may not be proposed to `mentee` in `programme_id` (empty: allowed)."""
    pair = Pair(mentee, mentor, programme_id, policy, mentor_load, blocked_mentors)
    return [rule.broken(pair) for rule in RULES if not rule.holds(pair)]


def allowed(
    mentee: Person,
    mentor: Person,
    programme_id: str,
    policy: MatchingPolicy,
    *,
    mentor_load: int = 0,
    blocked_mentors: Collection[str] = (),
) -> bool:
    pair = Pair(mentee, mentor, programme_id, policy, mentor_load, blocked_mentors)
    return all(rule.holds(pair) for rule in RULES)


def allowed_for_all(field: Field) -> BoolArray:
    """For each mentor of the field, whether every rule holds."""
    mask = np.ones(len(field.mentors), dtype=np.bool_)
    for rule in RULES:
        mask &= rule.holds_for_all(field)
    return mask


# --- prefilters: rules about one side, checked before ranking to narrow the field -----


def prefilter_seeker(mentee: Person, programme_id: str) -> bool:
    """A person who may be proposed a mentor in the programme: a mentee, not paused,
    enrolled in it."""
    return can_be_mentored(mentee) and available(mentee) and member(mentee, programme_id)


def prefilter_mentor(
    mentor: Person,
    standing: MentorStanding,
    programme_id: str | None = None,
    mentee: Person | None = None,
) -> bool:
    """A mentor who could take a mentee now: a mentor, not paused, with room; in the
    programme and speaking with `mentee` when those are given."""
    return (
        can_mentor(mentor)
        and available(mentor)
        and room_left(mentor, standing.load)
        and (programme_id is None or member(mentor, programme_id))
        and (mentee is None or speak_together(mentee, mentor))
    )


def prefilter_mentee(mentee: Person, programme_id: str, mentor: Person) -> bool:
    """A waiting mentee of `programme_id` whom `mentor` could take: not paused, the
    mentor in the programme, a language in common."""
    return available(mentee) and member(mentor, programme_id) and speak_together(mentee, mentor)
