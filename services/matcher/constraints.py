"""Hard constraints: a pair that breaks any of them is never proposed, whatever its score."""

from __future__ import annotations

from collections.abc import Collection

from .policy import MatchingPolicy
from .profiles import Person, offset_gap_hours


def violations(
    mentee: Person,
    mentor: Person,
    programme_id: str,
    policy: MatchingPolicy,
    *,
    mentor_load: int = 0,
    blocked_mentors: Collection[str] = (),
) -> list[str]:
    """Why `mentor` may not be proposed to `mentee` in `programme_id` (empty: allowed).

    `mentor_load` counts the mentor's active mentorships and open proposals;
    `blocked_mentors` are mentors this mentee was already proposed to (declined,
    expired, ended or still open): a pair is never proposed twice.
    """
    found: list[str] = []
    if mentee.person_id == mentor.person_id:
        found.append("same person")
    if not mentee.is_mentee:
        found.append("not a mentee")
    if not mentor.is_mentor:
        found.append("not a mentor")
    if programme_id not in mentee.programmes or programme_id not in mentor.programmes:
        found.append(f"not both in programme {programme_id}")
    if mentee.paused:
        found.append("mentee paused")
    if mentor.paused:
        found.append("mentor paused")
    if not mentee.languages & mentor.languages:
        found.append("no shared language")
    if mentor_load >= mentor.capacity:
        found.append("mentor has no free capacity")
    if mentor.person_id in blocked_mentors:
        found.append("pair already proposed before")
    gap = offset_gap_hours(mentee.utc_offset, mentor.utc_offset)
    if gap > policy.max_timezone_gap_hours:
        found.append(f"time-zone gap {gap:g} h over {policy.max_timezone_gap_hours:g} h")
    return found


def allowed(
    mentee: Person,
    mentor: Person,
    programme_id: str,
    policy: MatchingPolicy,
    *,
    mentor_load: int = 0,
    blocked_mentors: Collection[str] = (),
) -> bool:
    return not violations(
        mentee,
        mentor,
        programme_id,
        policy,
        mentor_load=mentor_load,
        blocked_mentors=blocked_mentors,
    )
