"""A process-local mirror of the mentors and of the waiting lines.

Ranking reads this mirror instead of scanning the database on every event: the
database pays per document read, while one mentee is ranked against every mentor of
the programme. The mirror may lag behind the database, which stays the authority:
every proposal reserves the mentor's capacity and the mentee's seat with conditional
updates, so a stale entry costs a failed reservation (the next candidate is tried),
never an over-booking.

It is kept fresh three ways: what this process wrote is re-read right after each
commit (`touch_*`, then `catch_up` before the next event), what other processes wrote
is polled by its `changed_at` stamp (`refresh`, from a background loop), and a full
reload now and then drops people deleted elsewhere.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import datetime, timedelta

from shared.documents import Document

from .constraints import prefilter_mentee, prefilter_mentor
from .profiles import MentorStanding, Person
from .proposals import Seat
from .store import MatcherStore, MentorRecord, SeatRecord, changed_now, person_from

# A write stamped at T may commit a little later; polls overlap by this much so a
# slow commit is still seen.
COMMIT_LAG = timedelta(seconds=5)
FULL_RELOAD_S = 30.0


class Directory:
    def __init__(self) -> None:
        self._mentors: dict[str, tuple[Person, MentorStanding]] = {}
        # seat id -> (programme, mentee), for waiting seats only
        self._waiting: dict[str, tuple[str, Person]] = {}
        self._seats_of: dict[str, set[str]] = {}  # mentee id -> their waiting seat ids
        self._people: dict[tuple[str, int], Person] = {}  # (id, revision) -> parsed person
        self._stale_mentors: set[str] = set()
        self._stale_mentees: set[str] = set()
        self._watermark: datetime | None = None
        self._last_full = 0.0
        # Mentees each mentor was ever proposed to, as last read: pairs are never proposed
        # twice, so this only grows and lets reconciliation skip mentors with nobody new.
        self._proposed_to: dict[str, set[str]] = {}

    # --- reading: prefilters (`constraints.prefilter_*`); ranking applies every rule ----

    def candidates(self, programme_id: str, mentee: Person) -> list[tuple[Person, MentorStanding]]:
        """Mentors of the programme with room (as last seen) who speak with the mentee."""
        return [
            (person, standing)
            for person, standing in self._mentors.values()
            if prefilter_mentor(person, standing, programme_id, mentee)
        ]

    def standing(self, mentor_id: str) -> MentorStanding | None:
        found = self._mentors.get(mentor_id)
        return None if found is None else found[1]

    def mentors_with_room(self) -> list[tuple[Person, MentorStanding]]:
        return [
            (person, standing)
            for person, standing in self._mentors.values()
            if prefilter_mentor(person, standing)
        ]

    def waiting_for(self, mentor: Person) -> list[tuple[str, Person]]:
        """(programme, mentee) waiting in one of the mentor's programmes, unpaused and
        speaking with the mentor, in (programme, mentee id) order."""
        found = [
            (programme, mentee)
            for programme, mentee in self._waiting.values()
            if prefilter_mentee(mentee, programme, mentor)
        ]
        return sorted(found, key=lambda pair: (pair[0], pair[1].person_id))

    def remember_proposed(self, mentor_id: str, mentee_ids: Iterable[str]) -> None:
        self._proposed_to[mentor_id] = set(mentee_ids)

    def proposed_to(self, mentor_id: str) -> set[str]:
        return self._proposed_to.get(mentor_id, set())

    # --- keeping up ------------------------------------------------------------------

    def touch_mentors(self, mentor_ids: Iterable[str]) -> None:
        self._stale_mentors.update(mentor_ids)

    def touch_mentees(self, mentee_ids: Iterable[str]) -> None:
        self._stale_mentees.update(mentee_ids)

    async def catch_up(self, store: MatcherStore) -> None:
        """Re-read what this process changed since the last call."""
        mentors, self._stale_mentors = self._stale_mentors, set()
        mentees, self._stale_mentees = self._stale_mentees, set()
        if mentors:
            seen = {r.mentor_id: r for r in await store.mentor_records(mentor_ids=mentors)}
            for mentor_id in mentors:
                self._apply_mentor(mentor_id, seen.get(mentor_id))
        if mentees:
            records = await store.seat_records(mentee_ids=mentees)
            self._apply_seats(records, replace_mentees=mentees)

    async def refresh(self, store: MatcherStore, *, full: bool = False) -> None:
        """Take in what any process changed since the last refresh (everything, now and
        then or when `full`, which also drops people deleted by other processes)."""
        started = changed_now()
        watermark = self._watermark
        full = full or watermark is None or time.monotonic() - self._last_full > FULL_RELOAD_S
        since = None if full or watermark is None else watermark - COMMIT_LAG
        mentor_records = await store.mentor_records(changed_since=since)
        seat_records = await store.seat_records(changed_since=since)
        if full:
            self._mentors.clear()
            self._waiting.clear()
            self._seats_of.clear()
            self._people.clear()  # parsed revisions nobody holds any more
            self._last_full = time.monotonic()
        for record in mentor_records:
            self._apply_mentor(record.mentor_id, record)
        self._apply_seats(seat_records, replace_mentees=())
        self._watermark = started

    def _parse(self, profile: Document) -> Person:
        key = (profile["person_id"], int(profile["revision"]))
        person = self._people.get(key)
        if person is None:
            person = person_from(profile)
            self._people[key] = person
        return person

    def _apply_mentor(self, mentor_id: str, record: MentorRecord | None) -> None:
        if record is None:
            self._mentors.pop(mentor_id, None)
            return
        self._mentors[mentor_id] = (self._parse(record.profile), record.standing)

    def _apply_seats(self, records: list[SeatRecord], replace_mentees: Iterable[str]) -> None:
        for mentee_id in replace_mentees:
            for key in self._seats_of.pop(mentee_id, set()):
                self._waiting.pop(key, None)
        for record in records:
            key, mentee_id = record.seat_id, record.mentee_id
            if record.seat is Seat.WAITING and record.profile is not None:
                self._waiting[key] = (record.programme_id, self._parse(record.profile))
                self._seats_of.setdefault(mentee_id, set()).add(key)
            else:
                self._waiting.pop(key, None)
                self._seats_of.get(mentee_id, set()).discard(key)
