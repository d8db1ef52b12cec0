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

import asyncio
import logging
import time
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from shared.events import ProfileUpserted

from .profiles import MentorStanding, Person
from .proposals import Seat

log = logging.getLogger(__name__)
Document = dict[str, Any]
# A write stamped at T may commit a little later; polls overlap by this much so a
# slow commit is still seen.
COMMIT_LAG = timedelta(seconds=5)
FULL_RELOAD_S = 30.0


def changed_now() -> datetime:
    """The stamp every write to `mentors` and `seats` carries (wall clock on purpose:
    it orders writes for the poll, whatever clock the handlers were given)."""
    return datetime.now(UTC)


class Directory:
    def __init__(self) -> None:
        self._mentors: dict[str, tuple[Person, MentorStanding, int]] = {}
        # seat id -> (programme, mentee), for waiting seats only
        self._waiting: dict[str, tuple[str, Person]] = {}
        self._seats_of: dict[str, set[str]] = {}  # mentee id -> their waiting seat ids
        self._people: dict[tuple[str, int], Person] = {}  # (id, revision) -> parsed person
        self._stale_mentors: set[str] = set()
        self._stale_mentees: set[str] = set()
        self._watermark: datetime | None = None
        self._last_full = 0.0

    # --- reading -------------------------------------------------------------------

    def candidates(
        self, programme_id: str, languages: Iterable[str]
    ) -> list[tuple[Person, MentorStanding]]:
        """Mentors of the programme with room (as last seen) and a language in common."""
        spoken = set(languages)
        return [
            (person, standing)
            for person, standing, capacity in self._mentors.values()
            if person.is_mentor
            and not person.paused
            and standing.load < capacity
            and programme_id in person.programmes
            and not spoken.isdisjoint(person.languages)
        ]

    def mentors_with_room(self) -> list[tuple[Person, MentorStanding]]:
        return [
            (person, standing)
            for person, standing, capacity in self._mentors.values()
            if person.is_mentor and not person.paused and standing.load < capacity
        ]

    def waiting(
        self, programmes: Iterable[str], languages: Iterable[str]
    ) -> list[tuple[str, Person]]:
        """(programme, mentee) for waiting, unpaused mentees with a language in common."""
        wanted, spoken = set(programmes), set(languages)
        found = [
            (programme, mentee)
            for programme, mentee in self._waiting.values()
            if programme in wanted and not mentee.paused and not spoken.isdisjoint(mentee.languages)
        ]
        return sorted(found, key=lambda pair: (pair[0], pair[1].person_id))

    # --- keeping up ------------------------------------------------------------------

    def touch_mentors(self, mentor_ids: Iterable[str]) -> None:
        self._stale_mentors.update(mentor_ids)

    def touch_mentees(self, mentee_ids: Iterable[str]) -> None:
        self._stale_mentees.update(mentee_ids)

    async def catch_up(self, db: AsyncDatabase[Document]) -> None:
        """Re-read what this process changed since the last call."""
        mentors, self._stale_mentors = self._stale_mentors, set()
        mentees, self._stale_mentees = self._stale_mentees, set()
        if mentors:
            found = db["mentors"].find({"_id": {"$in": sorted(mentors)}})
            seen = {doc["_id"]: doc async for doc in found}
            for mentor_id in mentors:
                self._apply_mentor(mentor_id, seen.get(mentor_id))
        if mentees:
            found = db["seats"].find({"mentee_id": {"$in": sorted(mentees)}})
            self._apply_seats([doc async for doc in found], replace_mentees=mentees)

    async def refresh(self, db: AsyncDatabase[Document], *, full: bool = False) -> None:
        """Take in what any process changed since the last refresh (everything, now and
        then or when `full`, which also drops people deleted by other processes)."""
        started = changed_now()
        watermark = self._watermark
        full = full or watermark is None or time.monotonic() - self._last_full > FULL_RELOAD_S
        query: Document = {}
        if not full and watermark is not None:
            query = {"changed_at": {"$gte": watermark - COMMIT_LAG}}
        mentor_docs = [doc async for doc in db["mentors"].find(query)]
        seat_docs = [doc async for doc in db["seats"].find(query)]
        if full:
            self._mentors.clear()
            self._waiting.clear()
            self._seats_of.clear()
            self._people.clear()  # parsed revisions nobody holds any more
            self._last_full = time.monotonic()
        for doc in mentor_docs:
            self._apply_mentor(doc["_id"], doc)
        self._apply_seats(seat_docs, replace_mentees=())
        self._watermark = started

    def _parse(self, profile: Document) -> Person:
        key = (profile["person_id"], int(profile["revision"]))
        person = self._people.get(key)
        if person is None:
            person = Person.from_profile(ProfileUpserted.model_construct(**profile))
            self._people[key] = person
        return person

    def _apply_mentor(self, mentor_id: str, doc: Document | None) -> None:
        if doc is None:
            self._mentors.pop(mentor_id, None)
            return
        standing = MentorStanding(
            load=int(doc.get("load", 0)),
            accepted=int(doc.get("accepted", 0)),
            declined=int(doc.get("declined", 0)),
        )
        self._mentors[mentor_id] = (self._parse(doc["profile"]), standing, int(doc["capacity"]))

    def _apply_seats(self, docs: list[Document], replace_mentees: Iterable[str]) -> None:
        for mentee_id in replace_mentees:
            for key in self._seats_of.pop(mentee_id, set()):
                self._waiting.pop(key, None)
        for doc in docs:
            key, mentee_id = doc["_id"], doc["mentee_id"]
            if doc.get("seat") == Seat.WAITING.value and "profile" in doc:
                self._waiting[key] = (doc["programme_id"], self._parse(doc["profile"]))
                self._seats_of.setdefault(mentee_id, set()).add(key)
            else:
                self._waiting.pop(key, None)
                self._seats_of.get(mentee_id, set()).discard(key)


async def directory_loop(
    db: AsyncDatabase[Document], directory: Directory, interval_s: float
) -> None:
    while True:
        try:
            await directory.refresh(db)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("matcher: refreshing the directory failed; will try again")
        await asyncio.sleep(interval_s)
