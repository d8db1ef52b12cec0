"""Profiles for matcher tests: a sensible default person, changed by keyword."""

from __future__ import annotations

from typing import Any

from services.matcher.profiles import Person
from shared.events import ProfileUpserted


def profile(person_id: str, role: str = "mentee", **changes: Any) -> ProfileUpserted:
    fields: dict[str, Any] = {
        "person_id": person_id,
        "roles": [role],
        "programmes": ["default"],
        "goals": [],
        "passions": [],
        "skills": [],
        "languages": ["en"],
        "timezone": "Europe/London",
        "capacity": 2 if role == "mentor" else 0,
        "open_to_introductions": True,
        "paused": False,
        "revision": 1,
    }
    fields.update(changes)
    return ProfileUpserted(**fields)


def mentee(person_id: str = "mentee-1", **changes: Any) -> Person:
    return Person.from_profile(profile(person_id, "mentee", **changes))


def mentor(person_id: str = "mentor-1", **changes: Any) -> Person:
    return Person.from_profile(profile(person_id, "mentor", **changes))
