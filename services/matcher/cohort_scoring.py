"""A cohort scored with the matcher's own model: people in, the solver's pairs out.

`mentormesh match solve --profiles` scores people from a file with it; the running
matcher's cohort run (`cohort_run.py`) scores the programme's waiting mentees and its
mentors as they stand. Either way the pairs are the ranking's (`ranking.MentorIndex`):
allowed by every hard rule, scored once, with their reasons.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from shared.events import ProfileUpserted

from .cohort import Candidacy, Cohort, Enrolment
from .policy import DEFAULT_POLICY, MatchingPolicy, policy_book
from .profiles import Person
from .ranking import Candidate, MentorIndex

Reasons = dict[tuple[str, str, str], tuple[str, ...]]


@dataclass(frozen=True)
class ScoredPair:
    mentee_id: str
    mentor_id: str
    programme_id: str
    score: float  # the mentee's view, in [0, 1]
    mentor_score: float  # the mentor's preference for this mentee
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class ScoredCohort:
    """A cohort scored by the matcher's model, with the reasons of every pair."""

    cohort: Cohort
    reasons: Reasons  # (programme, mentee, mentor) -> reasons


def latest_profiles(people: Sequence[ProfileUpserted]) -> list[ProfileUpserted]:
    """One profile per person: the highest revision (the first seen on a tie)."""
    best: dict[str, ProfileUpserted] = {}
    for profile in people:
        seen = best.get(profile.person_id)
        if seen is None or profile.revision > seen.revision:
            best[profile.person_id] = profile
    return list(best.values())


def mentor_capacities(people: Sequence[ProfileUpserted]) -> dict[str, int]:
    """Capacity of every mentor (latest revision); a paused mentor has capacity 0.
    Capacity is per person, shared by all the programmes the mentor is in."""
    return {
        p.person_id: 0 if p.paused else p.capacity
        for p in latest_profiles(people)
        if "mentor" in p.roles
    }


def score_cohort(
    people: Sequence[ProfileUpserted],
    policy: MatchingPolicy | None = None,
    max_per_mentee: int = 200,
) -> list[ScoredPair]:
    """Every allowed (mentee, mentor, programme) pair, best `max_per_mentee` per mentee and
    programme, hard constraints applied with every mentor unloaded.

    Ordered by programme, mentee id, then score descending and mentor id, so the output is
    deterministic for the same input.
    """
    policy = policy or DEFAULT_POLICY
    persons = [Person.from_profile(p, policy.normaliser) for p in latest_profiles(people)]
    persons.sort(key=lambda p: p.person_id)
    programmes = sorted({prog for p in persons for prog in p.programmes})
    out: list[ScoredPair] = []
    for programme in programmes:
        mentors = [p for p in persons if p.is_mentor and programme in p.programmes]
        if not mentors:
            continue
        index = MentorIndex(mentors, policy)
        for mentee in persons:
            if mentee.is_mentee and programme in mentee.programmes:
                out.extend(
                    scored_pair(c) for c in index.rank(mentee, programme, limit=max_per_mentee)
                )
    return out


def scored_pair(candidate: Candidate) -> ScoredPair:
    return ScoredPair(
        mentee_id=candidate.mentee.person_id,
        mentor_id=candidate.mentor.person_id,
        programme_id=candidate.programme_id,
        score=candidate.score,
        mentor_score=candidate.mentor_score,
        reasons=candidate.reasons,
    )


def cohort_from_people(
    people: Sequence[ProfileUpserted],
    programmes_dir: Path | None = None,
    max_per_mentee: int = 200,
) -> ScoredCohort:
    """Score everyone with the matcher's own model, each programme with its own policy.

    Every programme is part of the same cohort, so a mentor's capacity (from the profile,
    0 when paused) is shared across programmes, while a mentee gets one mentor per programme.
    """
    book = policy_book(programmes_dir)
    programmes = sorted({prog for p in people for prog in p.programmes})
    pairs: list[ScoredPair] = []
    for programme in programmes:
        # Scoring only this programme's view of its members keeps its policy to itself.
        members = [
            p.model_copy(update={"programmes": [programme]})
            for p in people
            if programme in p.programmes
        ]
        pairs += score_cohort(members, book.for_programme(programme), max_per_mentee)
    enrolled = [
        Enrolment(programme, p.person_id)
        for p in people
        if "mentee" in p.roles and not p.paused
        for programme in p.programmes
    ]
    return scored_cohort(pairs, mentor_capacities(people), enrolled)


def scored_cohort(
    pairs: Iterable[ScoredPair], capacities: Mapping[str, int], enrolled: Iterable[Enrolment]
) -> ScoredCohort:
    """The cohort of these scored pairs; enrolled mentees nobody may mentor still belong
    to it (they are reported as unmatched)."""
    candidacies: list[Candidacy] = []
    reasons: Reasons = {}
    for pair in pairs:
        candidacies.append(
            Candidacy(
                mentee=pair.mentee_id,
                mentor=pair.mentor_id,
                score=pair.score,
                mentor_score=pair.mentor_score,
                programme=pair.programme_id,
            )
        )
        reasons[pair.programme_id, pair.mentee_id, pair.mentor_id] = pair.reasons
    cohort = Cohort.of(candidacies, capacities, absent_mentor_capacity=0)
    missing = sorted(set(enrolled) - set(cohort.enrolments))
    if missing:
        cohort = Cohort.from_arrays(
            enrolments=[*cohort.enrolments, *missing],
            mentors=cohort.mentors,
            capacity=cohort.capacity,
            pair_enrolment=cohort.pair_enrolment,
            pair_mentor=cohort.pair_mentor,
            score=cohort.score,
            mentor_score=cohort.mentor_score,
        )
    return ScoredCohort(cohort, reasons)
