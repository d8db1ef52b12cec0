"""The few facts about a person that introductions need: no names, no contact data."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from shared.events import ProfileUpserted
from shared.tags import normalise_tag

# Many people share a set of tags: each distinct set is held once.
_TAG_SETS: dict[frozenset[str], frozenset[str]] = {}


def tag_set(tags: Iterable[str]) -> frozenset[str]:
    """These (already normalised) tags as the one shared frozenset holding them."""
    found = frozenset(tags)
    return _TAG_SETS.setdefault(found, found)


def canonical_tags(raw: Iterable[str]) -> frozenset[str]:
    """Tags compared by meaning ("ML" ~ "machine learning"), with the matcher's
    normalisation so both services agree on what a goal is."""
    return tag_set(tag for tag in (normalise_tag(r) for r in raw) if tag)


@dataclass(frozen=True, slots=True)
class Person:
    id: str
    goals: frozenset[str] = frozenset()
    passions: frozenset[str] = frozenset()
    skills: frozenset[str] = frozenset()
    open_to_introductions: bool = True
    paused: bool = False
    programme: str = "default"

    @property
    def introducible(self) -> bool:
        """Whether this person may be suggested to others, or receive suggestions."""
        return self.open_to_introductions and not self.paused


def person_from_profile(profile: ProfileUpserted) -> Person:
    return Person(
        id=profile.person_id,
        goals=canonical_tags(profile.goals),
        passions=canonical_tags(profile.passions),
        skills=canonical_tags(profile.skills),
        open_to_introductions=profile.open_to_introductions,
        paused=profile.paused,
        programme=profile.programmes[0],
    )


def unknown_person(person_id: str) -> Person:
    """Someone named by a mentorship before their profile arrived: part of the
    structure, but never suggested until they say they are open to it."""
    return Person(id=person_id, open_to_introductions=False)
