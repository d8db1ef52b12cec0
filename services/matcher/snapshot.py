"""The directory as one batch of events ranks against: a `MentorIndex` per programme,
built once per batch, with what the batch itself changed laid on top.

Building an index costs far more than ranking one mentee with it (bench/matcher.py),
and a burst of signups ranks many mentees against the same mentors: so the index is
built from the directory once per batch, not once per signup. What the batch changes
on the way is laid on top instead of rebuilt in:
- mentors whose profile the batch saved are ranked on their new profile, in a small
  index of their own, rebuilt only when one more of them changes;
- mentors found full in the batch (their reservation failed: a signup of the batch or
  another process took the last slot) are left out of later rankings, so a signup that
  lost the race is re-ranked to the next mentor;
- mentees the batch left waiting are offered to mentors with room, like those the
  directory lists.
Loads are those the directory showed when the snapshot was taken: the store's
conditional reservation, not the snapshot, decides whether a slot is free.
"""

from __future__ import annotations

from collections.abc import Collection

from .constraints import prefilter_mentee, prefilter_mentor
from .directory import Directory
from .policy import MatchingPolicy
from .profiles import MentorStanding, Person
from .ranking import Candidate, MentorIndex

Mentor = tuple[Person, MentorStanding]


class DirectorySnapshot:
    def __init__(self, directory: Directory) -> None:
        self.directory = directory
        self._indexes: dict[str, MentorIndex] = {}
        # Mentors whose profile changed in the batch (None: no longer a mentor).
        self._changed: dict[str, Mentor | None] = {}
        self._changed_indexes: dict[str, MentorIndex] = {}
        self._full: set[str] = set()
        self._waiting: dict[tuple[str, str], Person] = {}

    # --- ranking -------------------------------------------------------------------

    def rank(
        self,
        mentee: Person,
        programme_id: str,
        policy: MatchingPolicy,
        *,
        exclude: Collection[str] = (),
        limit: int,
    ) -> list[Candidate]:
        """The best allowed mentors with room, best first (ties: lower mentor id)."""
        mentee = mentee.renormalised(policy.normaliser)
        skip = {*exclude, *self._full}
        ranked = self._index(programme_id, policy).rank(
            mentee, programme_id, exclude=skip | self._changed.keys(), limit=limit
        )
        changed = self._changed_index(programme_id, policy)
        if changed is not None:
            ranked += changed.rank(mentee, programme_id, exclude=skip, limit=limit)
            ranked.sort(key=lambda c: (-c.score, c.mentor.person_id))
        return ranked[:limit]

    def _index(self, programme_id: str, policy: MatchingPolicy) -> MentorIndex:
        index = self._indexes.get(programme_id)
        if index is None:
            mentors = [
                (person, standing)
                for person, standing in self.directory.mentors_with_room()
                if prefilter_mentor(person, standing, programme_id)
            ]
            index = self._indexes[programme_id] = _build(mentors, policy)
        return index

    def _changed_index(self, programme_id: str, policy: MatchingPolicy) -> MentorIndex | None:
        if not any(self._changed.values()):
            return None
        index = self._changed_indexes.get(programme_id)
        if index is None:
            mentors = [
                mentor
                for mentor in self._changed.values()
                if mentor is not None and prefilter_mentor(*mentor, programme_id)
            ]
            index = self._changed_indexes[programme_id] = _build(mentors, policy)
        return index

    # --- what the batch changed ---------------------------------------------------------

    def mentor_changed(self, mentor_id: str, mentor: Mentor | None) -> None:
        """The batch saved this person's profile: rank them on it (None: not a mentor)."""
        self._changed[mentor_id] = mentor
        self._changed_indexes.clear()

    def standing(self, mentor_id: str) -> MentorStanding | None:
        """The mentor's standing as the snapshot knows it."""
        changed = self._changed.get(mentor_id)
        if changed is not None:
            return changed[1]
        return self.directory.standing(mentor_id)

    def mentor_full(self, mentor_id: str) -> None:
        """A reservation failed: leave the mentor out of the batch's later rankings."""
        self._full.add(mentor_id)

    def left_waiting(self, programme_id: str, mentee: Person) -> None:
        """The batch put the mentee in line and found no mentor for them (yet)."""
        self._waiting[programme_id, mentee.person_id] = mentee

    def waiting_for(self, mentor: Person) -> list[tuple[str, Person]]:
        """(programme, mentee) waiting in one of the mentor's programmes, as the directory
        lists them and as the batch left them, in (programme, mentee id) order."""
        found = {(p, m.person_id): m for p, m in self.directory.waiting_for(mentor)}
        for (programme_id, mentee_id), mentee in self._waiting.items():
            if prefilter_mentee(mentee, programme_id, mentor):
                found[programme_id, mentee_id] = mentee
        return [(programme_id, found[programme_id, m]) for programme_id, m in sorted(found)]


def _build(mentors: list[Mentor], policy: MatchingPolicy) -> MentorIndex:
    people = [person.renormalised(policy.normaliser) for person, _ in mentors]
    standings = {person.person_id: standing for person, standing in mentors}
    return MentorIndex(people, policy, standings)
