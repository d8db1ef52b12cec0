"""Why an introduction is suggested, kept as facts rather than text, so the text can
be rendered again: when someone it names is erased, the stored reasons are rendered
with a stand-in and no longer hold their id."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

# Mutual contacts named in the text; the rest are counted.
SHOWN_CONTACTS = 3
STAND_IN = "someone who has left"


@dataclass(frozen=True, slots=True)
class Explanation:
    person: str
    candidate: str
    contacts: tuple[str, ...]  # mutual contacts named, strongest first
    contacts_total: int
    path: tuple[str, ...]  # without mutual contacts: the chain of close ties between them
    goals_helped: tuple[str, ...] = ()
    shared_passions: tuple[str, ...] = ()

    def reasons(self) -> tuple[str, ...]:
        """Lines the introducer can read and pass on."""
        person, candidate = self.person, self.candidate
        lines = []
        if self.contacts_total:
            more = self.contacts_total - len(self.contacts)
            shown = ", ".join(self.contacts) + (f" and {more} more" if more > 0 else "")
            noun = "mutual contact" if self.contacts_total == 1 else "mutual contacts"
            lines.append(f"{self.contacts_total} {noun} of {person} and {candidate}: {shown}")
        else:
            chain = " -> ".join((person, *self.path, candidate))
            lines.append(f"{person} reaches {candidate} through close ties: {chain}")
        if self.goals_helped:
            helped = ", ".join(self.goals_helped)
            lines.append(f"{candidate} can help with {person}'s goals: {helped}")
        if self.shared_passions:
            lines.append(f"shared passions: {', '.join(self.shared_passions)}")
        return tuple(lines)

    def mentions(self) -> list[str]:
        """Everyone the reasons name."""
        return sorted({self.person, self.candidate, *self.contacts, *self.path} - {STAND_IN})

    def without(self, person_id: str) -> Explanation:
        """The same explanation with `person_id` (an introducer who left) replaced by a
        stand-in; the person and candidate themselves are never replaced, as an
        introduction naming an erased person is deleted instead."""

        def gone(names: tuple[str, ...]) -> tuple[str, ...]:
            return tuple(STAND_IN if n == person_id else n for n in names)

        return replace(self, contacts=gone(self.contacts), path=gone(self.path))

    def to_doc(self) -> dict[str, Any]:
        return {
            "contacts": list(self.contacts),
            "contacts_total": self.contacts_total,
            "path": list(self.path),
            "goals_helped": list(self.goals_helped),
            "shared_passions": list(self.shared_passions),
        }

    @classmethod
    def from_doc(cls, person: str, candidate: str, doc: dict[str, Any]) -> Explanation:
        return cls(
            person=person,
            candidate=candidate,
            contacts=tuple(doc.get("contacts", ())),
            contacts_total=int(doc.get("contacts_total", 0)),
            path=tuple(doc.get("path", ())),
            goals_helped=tuple(doc.get("goals_helped", ())),
            shared_passions=tuple(doc.get("shared_passions", ())),
        )
